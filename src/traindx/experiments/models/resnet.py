"""A small ResNet for images (He et al., 2016): a 3x3 stem, ``depth`` stages of one basic block each
(BatchNorm, identity or 1x1 projection shortcut), channels doubling per stage from ``width``, global pooling.

Example:
    >>> import torch
    >>> from traindx.experiments.models import build_model
    >>> build_model("resnet", (3, 32, 32), 10)(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from torch import nn

from traindx.errors import InputError


class BasicBlock(nn.Module):
    def __init__(self, ch_in: int, ch_out: int, stride: int, act) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch_in, ch_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch_out)
        self.conv2 = nn.Conv2d(ch_out, ch_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch_out)
        self.act = act()
        self.short = (
            nn.Identity()
            if stride == 1 and ch_in == ch_out
            else nn.Sequential(nn.Conv2d(ch_in, ch_out, 1, stride=stride, bias=False), nn.BatchNorm2d(ch_out))
        )

    def forward(self, x):
        out = self.act(self.bn1(self.conv1(x)))
        return self.act(self.bn2(self.conv2(out)) + self.short(x))


def build(input_shape, n_classes, width, depth, act, dropout, norm, vocab_size) -> nn.Module:
    if len(input_shape) != 3:
        raise InputError(f"resnet needs images shaped (C, H, W), got {input_shape}; use cnn or mlp")
    layers: list[nn.Module] = [
        nn.Conv2d(input_shape[0], width, 3, padding=1, bias=False), nn.BatchNorm2d(width), act(),
    ]  # fmt: skip
    ch = width
    for i in range(depth):
        out = width * 2**i
        layers.append(BasicBlock(ch, out, 1 if i == 0 else 2, act))
        ch = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(ch, n_classes))
    return nn.Sequential(*layers)
