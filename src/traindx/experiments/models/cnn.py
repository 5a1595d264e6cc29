"""Plain CNNs: ``depth`` conv blocks (conv 3, activation, max-pool 2), channels doubling to ``width``.

1-D convolutions on (C, L) inputs (time series), 2-D on (C, H, W) images; ``norm="batch"`` adds BatchNorm
after each convolution, ``dropout`` a dropout before the classifier.

Example:
    >>> import torch
    >>> from traindx.experiments.models import build_model
    >>> build_model("cnn", (2, 50), 3, norm="batch")(torch.zeros(4, 2, 50)).shape
    torch.Size([4, 3])
"""

from __future__ import annotations

import math

from torch import nn

from traindx.errors import InputError


def build(input_shape, n_classes, width, depth, act, dropout, norm, vocab_size) -> nn.Module:
    spatial = input_shape[1:]
    if len(spatial) not in (1, 2):
        raise InputError(f"CNNs need inputs shaped (C, L) or (C, H, W), got {input_shape}; use an MLP")
    two_d = len(spatial) == 2
    conv, pool = (nn.Conv2d, nn.MaxPool2d) if two_d else (nn.Conv1d, nn.MaxPool1d)
    bn = nn.BatchNorm2d if two_d else nn.BatchNorm1d
    layers: list[nn.Module] = []
    ch_in = input_shape[0]
    size = list(spatial)
    for i in range(depth):
        ch = max(1, width // 2 ** (depth - 1 - i))
        layers.append(conv(ch_in, ch, kernel_size=3, padding=1))
        if norm == "batch":
            layers.append(bn(ch))
        layers.append(act())
        if min(size) >= 2:
            layers.append(pool(2))
            size = [s // 2 for s in size]
        ch_in = ch
    layers.append(nn.Flatten())
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(ch_in * math.prod(size), n_classes))
    return nn.Sequential(*layers)
