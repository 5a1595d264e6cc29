"""Base models for experiment corpora: logistic regression, small/large MLP and small/large CNN.

``width`` and ``depth`` override the defaults: hidden units and hidden layers for MLPs, channels of the last
convolution block and number of conv blocks for CNNs. CNNs use 1-D convolutions on 1-D inputs (MNIST-1D).

Example:
    >>> from traindx.experiments.models import build_model, count_params
    >>> count_params(build_model("logreg", (1, 28, 28), 10))
    7850
"""

from __future__ import annotations

import math

from torch import nn

from traindx.errors import InputError

MODELS = ("logreg", "mlp_small", "mlp_large", "cnn_small", "cnn_large")

# (width, depth) defaults; sized so a 26-epoch run on a few thousand examples takes seconds on one CPU thread
DEFAULTS: dict[str, tuple[int, int]] = {
    "logreg": (0, 0),
    "mlp_small": (32, 1),
    "mlp_large": (256, 2),
    "cnn_small": (8, 2),
    "cnn_large": (16, 2),
}

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
}


def resolve_arch(model: str, width: int | None = None, depth: int | None = None) -> tuple[int, int]:
    """The (width, depth) a model is built with: the given values or the model's defaults.

    Example:
        >>> resolve_arch("mlp_small")
        (32, 1)
    """
    if model not in DEFAULTS:
        raise InputError(f"unknown model {model!r}; use one of {', '.join(MODELS)}")
    w0, d0 = DEFAULTS[model]
    w = w0 if width is None or _isnan(width) else int(width)
    d = d0 if depth is None or _isnan(depth) else int(depth)
    if model != "logreg" and (w < 1 or d < 1):
        raise InputError(f"{model} needs width >= 1 and depth >= 1, got width={w}, depth={d}")
    return w, d


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def build_model(
    model: str,
    input_shape: tuple[int, ...],
    n_classes: int,
    width: int | None = None,
    depth: int | None = None,
    activation: str = "relu",
) -> nn.Module:
    """Build a fresh, randomly initialised model (seed torch beforehand for reproducibility).

    Example:
        >>> m = build_model("cnn_small", (1, 28, 28), 10)
        >>> import torch
        >>> m(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """
    if activation not in ACTIVATIONS:
        raise InputError(f"unknown activation {activation!r}; use one of {', '.join(ACTIVATIONS)}")
    act = ACTIVATIONS[activation]
    w, d = resolve_arch(model, width, depth)
    n_in = math.prod(input_shape)
    if model == "logreg":
        return nn.Sequential(nn.Flatten(), nn.Linear(n_in, n_classes))
    if model.startswith("mlp"):
        layers: list[nn.Module] = [nn.Flatten()]
        prev = n_in
        for _ in range(d):
            layers += [nn.Linear(prev, w), act()]
            prev = w
        layers.append(nn.Linear(prev, n_classes))
        return nn.Sequential(*layers)
    return _cnn(input_shape, n_classes, w, d, act)


def _cnn(input_shape: tuple[int, ...], n_classes: int, width: int, depth: int, act) -> nn.Module:
    spatial = input_shape[1:]
    if len(spatial) not in (1, 2):
        raise InputError(f"CNNs need inputs shaped (C, L) or (C, H, W), got {input_shape}")
    conv, pool = (nn.Conv1d, nn.MaxPool1d) if len(spatial) == 1 else (nn.Conv2d, nn.MaxPool2d)
    layers: list[nn.Module] = []
    ch_in = input_shape[0]
    size = list(spatial)
    for i in range(depth):
        # channels double towards the last block, which has `width` channels
        ch = max(1, width // 2 ** (depth - 1 - i))
        layers += [conv(ch_in, ch, kernel_size=3, padding=1), act()]
        if min(size) >= 2:
            layers.append(pool(2))
            size = [s // 2 for s in size]
        ch_in = ch
    layers += [nn.Flatten(), nn.Linear(ch_in * math.prod(size), n_classes)]
    return nn.Sequential(*layers)


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters.

    Example:
        >>> count_params(build_model("mlp_small", (1, 8, 8), 10))
        2410
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
