"""Pure functions that turn training quantities into health signals, one module per family.

``gradients`` (norms, vanishing ratio, signal-to-noise), ``activations`` (dead units, saturation),
``weights`` (init scale, update ratio) and ``loss`` (non-finite values, spikes, plateaus, progress, the
train/validation gap). Each function takes tensors or plain numbers and returns numbers; none keeps state.

Example:
    >>> from traindx.signals import weights
    >>> weights.fan_in((64, 784))
    784
"""

from traindx.signals import activations, gradients, loss, weights

__all__ = ["activations", "gradients", "loss", "weights"]
