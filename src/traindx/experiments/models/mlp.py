"""Logistic regression and MLPs: ``depth`` hidden layers of ``width`` units, optional norm and dropout.

Example:
    >>> from traindx.experiments.models import build_model
    >>> build_model("mlp", (4,), 2, 8, 1, dropout=0.5, norm="batch")[2].__class__.__name__
    'BatchNorm1d'
"""

from __future__ import annotations

import math

from torch import nn


def build_logreg(input_shape, n_classes, width, depth, act, dropout, norm, vocab_size) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), n_classes))


def build(input_shape, n_classes, width, depth, act, dropout, norm, vocab_size) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten()]
    prev = math.prod(input_shape)
    for _ in range(depth):
        layers.append(nn.Linear(prev, width))
        if norm == "batch":
            layers.append(nn.BatchNorm1d(width))
        elif norm == "layer":
            layers.append(nn.LayerNorm(width))
        layers.append(act())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        prev = width
    layers.append(nn.Linear(prev, n_classes))
    return nn.Sequential(*layers)
