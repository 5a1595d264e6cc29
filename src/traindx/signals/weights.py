"""Weight signals: scale relative to the init scale of the layer's fan-in, and the update ratio.

PyTorch stores a Linear weight as (out_features, in_features) and a convolution weight as
(out_channels, in_channels / groups, *kernel), so fan-in is ``shape[1] * prod(shape[2:])``.

Example:
    >>> import torch
    >>> layer = torch.nn.Linear(784, 128)
    >>> 0.1 < init_scale(layer.weight) < 4.0      # fresh default init is healthy
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: Healthy band for std(W) * sqrt(fan_in): PyTorch's default init gives 1/sqrt(3) = 0.58, LeCun 1.0,
#: He sqrt(2) = 1.41, Glorot at most 1.41. Outside [0.1, 4] (about 6x below default, 3x above He) the
#: forward signal shrinks or grows geometrically with depth (He et al. 2015, Glorot & Bengio 2010).
INIT_LOW, INIT_HIGH = 0.1, 4.0
#: Update ratio ||dW||/||W|| per optimizer step: the folklore healthy band is about 1e-3..1e-2 for SGD
#: (Karpathy, CS231n notes); Adam at lr 1e-3 on small nets reaches ~3e-2 early. We call it too high above
#: 0.1 and too low below 1e-4 (10x under the band's lower edge), and only while the loss is not improving.
UPDATE_HIGH, UPDATE_LOW = 0.1, 1e-4
#: A step that moves the weights by half their norm is too large whatever the loss does, and one such step is
#: enough: Adam's first step moves every weight by about lr (m/sqrt(v) = +-1), so its ratio is lr / rms(W),
#: 0.05 at lr 1e-3 on GPT-2's N(0, 0.02) init and ~0.02 on PyTorch's default init; 0.5 is 10x that, where the
#: step rewrites the init's scale (He et al. 2015's signal-propagation argument no longer holds after it).
UPDATE_EXTREME = 0.5
#: The median weight layer's RMS against its RMS before the first update, above which a run whose loss has not
#: moved is read as stepping far too large. Measured on the realistic fault suite (``benchmarks/faults.py
#: --realistic``, the ``weight_growth`` column of its JSON): healthy runs end at 1.0-2.5x (2.49 a GPT-2 under
#: the HF Trainer, 2.46 a char-level LSTM; L-BFGS's line search, not judged, 9.9x), runs stuck by other faults
#: at up to 3.05x (a BatchNorm net left in eval mode; softmax before the loss 2.0x), Adam at 100x its
#: learning rate at 13-40x. 4 is 1.6x above every healthy run and above every other stuck fault. Growth alone
#: is no fault: the same GPT-2 memorising 2,000 characters reached 4.7x while its loss fell to 60% of its
#: start, which is why the rule also needs a loss that has not moved.
GROWTH_HIGH = 4.0


def fan_in(shape: Sequence[int]) -> int:
    """Fan-in of a PyTorch weight shape (out, in, *kernel).

    Example:
        >>> fan_in((32, 16, 3, 3))
        144
    """
    if len(shape) < 2:
        raise ValueError(f"fan_in needs a weight with >= 2 dims, got shape {tuple(shape)}")
    return int(shape[1]) * math.prod(int(s) for s in shape[2:])


def init_scale(weight) -> float:
    """std(W) * sqrt(fan_in): 0.58 for PyTorch's default init, 1.41 for He init.

    Example:
        >>> import torch
        >>> w = torch.nn.init.kaiming_normal_(torch.empty(256, 512))
        >>> round(init_scale(w), 1)
        1.4
    """
    w = weight.detach().float()
    return float(w.std()) * math.sqrt(fan_in(w.shape))


def update_ratios(before: Sequence, after: Sequence) -> list:
    """||after - before|| / ||before|| per tensor (0-d tensors on the tensors' device).

    Example:
        >>> import torch
        >>> [r.item() for r in update_ratios([torch.ones(4)], [torch.full((4,), 1.01)])]
        [0.009999990463256836]
    """
    import torch

    if not before:
        return []
    diffs = torch._foreach_sub(list(after), list(before))
    dn = torch._foreach_norm(diffs)
    bn = torch._foreach_norm(list(before))
    return [d / b.clamp_min(torch.finfo(b.dtype).tiny) for d, b in zip(dn, bn, strict=True)]
