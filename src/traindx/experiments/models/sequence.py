"""A GRU classifier for time series (C, L) or token ids (L,): the last hidden state feeds a linear layer.

Token ids (``vocab_size`` > 0, e.g. the next-character task) are embedded into ``width`` dimensions first.

Example:
    >>> import torch
    >>> from traindx.experiments.models import build_model
    >>> build_model("gru", (3, 20), 4)(torch.zeros(2, 3, 20)).shape
    torch.Size([2, 4])
    >>> build_model("gru", (32,), 65, vocab_size=67)(torch.zeros(2, 32, dtype=torch.long)).shape
    torch.Size([2, 65])
"""

from __future__ import annotations

import torch
from torch import nn

from traindx.errors import InputError


class GRUClassifier(nn.Module):
    def __init__(self, n_in: int, n_classes: int, width: int, depth: int, dropout: float, vocab_size: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, width, padding_idx=0) if vocab_size else None
        self.gru = nn.GRU(width if vocab_size else n_in, width, num_layers=depth, batch_first=True,
                          dropout=dropout if depth > 1 else 0.0)  # fmt: skip
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = self.embed(x) if self.embed is not None else x.transpose(1, 2)  # (N, L, features)
        _, h = self.gru(seq)
        return self.head(self.drop(h[-1]))


def build(input_shape, n_classes, width, depth, act, dropout, norm, vocab_size) -> nn.Module:
    if vocab_size == 0 and len(input_shape) != 2:
        raise InputError(f"gru needs series shaped (C, L) or token ids, got {input_shape}")
    return GRUClassifier(0 if vocab_size else input_shape[0], n_classes, width, depth, dropout, vocab_size)
