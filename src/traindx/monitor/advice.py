"""The words of each finding: a one-line symptom template, the likely cause and concrete advice."""

from __future__ import annotations

#: code -> (likely cause, advice)
ADVICE: dict[str, tuple[str, str]] = {
    "nan_inf": (
        "the optimisation diverged (learning rate too high) or the data/loss produced inf (log(0), x/0)",
        "lower the learning rate 3-10x, clip gradients (clip_grad_norm_ 1.0), check inputs for NaN",
    ),
    "exploding_gradients": (
        "gradients grow without bound: learning rate too high, missing optimizer.zero_grad(), or no normalization",
        "call optimizer.zero_grad() every step, lower the learning rate 3-10x, clip gradients at norm 1.0",
    ),
    "vanishing_gradients": (
        "early layers get almost no gradient (deep sigmoid/tanh stack or too small init)",
        "use ReLU/GELU activations with He init, add BatchNorm/LayerNorm or residual connections",
    ),
    "dead_relu": (
        "ReLU units output zero for every example (large negative bias, bad init or a too-high learning rate)",
        "use He init with zero bias, LeakyReLU/GELU, or lower the learning rate",
    ),
    "saturation": (
        "tanh/sigmoid units sit in their flat tails (weights or inputs too large), so gradients vanish",
        "use Glorot/He-scaled init, normalize inputs, add BatchNorm, or switch to ReLU/GELU",
    ),
    "lr_too_high": (
        "each optimizer step changes the weights by a large fraction while the loss does not improve",
        "lower the learning rate 3-10x (or add warm-up)",
    ),
    "lr_too_low": (
        "each optimizer step barely changes the weights and the loss hardly moves",
        "raise the learning rate 10x (try a learning-rate range test)",
    ),
    "no_update": (
        "parameters that should train do not change (optimizer built on other parameters, lr 0, or step not called)",
        "build the optimizer from model.parameters() of this model and call optimizer.step() after backward",
    ),
    "loss_spike": (
        "a step undid the learning so far (learning rate too high, a bad batch, or numerical instability)",
        "lower the learning rate, add warm-up or gradient clipping, and check the batch that caused it",
    ),
    "oscillation": (
        "the loss swings up and down without trending down (step size too large for the curvature)",
        "lower the learning rate 2-5x or raise the batch size",
    ),
    "plateau": (
        "the loss stopped improving while still high (model too small, labels noisy, or learning rate off)",
        "check the labels, try a 10x larger or smaller learning rate, or a larger model",
    ),
    "overfitting": (
        "the model memorises the training set: training keeps improving while validation does not",
        "add data or augmentation, weight decay or dropout, or stop earlier",
    ),
    "underfitting": (
        "the training loss flattened far above zero: the model cannot fit even the training data",
        "use a larger model (wider/deeper), train longer, or raise the learning rate",
    ),
    "poor_init": (
        "initial weight scale is far from the scale that keeps signals stable through depth",
        "use the framework default, He (ReLU) or Glorot (tanh/sigmoid) initialization",
    ),
    "input_scale": (
        "inputs are not normalized (e.g. raw 0-255 pixels), which scales every first-layer signal",
        "scale inputs to [0, 1] or standardize them to zero mean and unit variance",
    ),
    "indicator_disabled": (
        "an indicator failed on this model and turned itself off; the others keep running",
        "report the message with the model's structure; the other findings are unaffected",
    ),
}
