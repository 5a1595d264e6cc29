"""Text models over token ids (0 = padding): an embedding bag (mean of embeddings, then ``depth - 1``
hidden layers) and a 1-D CNN over embeddings with max-over-time pooling (Kim, 2014).

Example:
    >>> import torch
    >>> from traindx.experiments.models import build_model
    >>> x = torch.randint(0, 50, (3, 12))
    >>> build_model("embbag", (12,), 2, vocab_size=50)(x).shape, build_model("textcnn", (12,), 2, vocab_size=50)(x).shape
    (torch.Size([3, 2]), torch.Size([3, 2]))
"""

from __future__ import annotations

import torch
from torch import nn


class EmbeddingBagClassifier(nn.Module):
    def __init__(self, vocab_size, n_classes, width, depth, act, dropout):
        super().__init__()
        self.bag = nn.EmbeddingBag(vocab_size, width, mode="mean", padding_idx=0)
        layers: list[nn.Module] = []
        for _ in range(depth - 1):
            layers += [nn.Linear(width, width), act()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(width, n_classes))
        self.head = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.bag(x))


class TextCNN(nn.Module):
    def __init__(self, vocab_size, n_classes, width, depth, act, dropout):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, width, padding_idx=0)
        convs: list[nn.Module] = []
        for _ in range(depth):
            convs += [nn.Conv1d(width, width, kernel_size=3, padding=1), act()]
        self.convs = nn.Sequential(*convs)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convs(self.embed(x).transpose(1, 2))
        return self.head(self.drop(h.max(dim=2).values))


def build_embbag(input_shape, n_classes, width, depth, act, dropout, norm, vocab_size) -> nn.Module:
    return EmbeddingBagClassifier(vocab_size, n_classes, width, depth, act, dropout)


def build_textcnn(input_shape, n_classes, width, depth, act, dropout, norm, vocab_size) -> nn.Module:
    return TextCNN(vocab_size, n_classes, width, depth, act, dropout)
