"""Tiny models of each kind the monitor must leave untouched and cheap, and a batch for each input kind."""

from __future__ import annotations

import torch
from torch import nn


class CharLSTM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb, self.rnn, self.head = (
            nn.Embedding(20, 8),
            nn.LSTM(8, 16, batch_first=True),
            nn.Linear(16, 20),
        )

    def forward(self, x):
        return self.head(self.rnn(self.emb(x))[0])


class TinyTransformer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(20, 16)
        layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.1, batch_first=True)
        self.enc, self.head = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False), nn.Linear(16, 20)

    def forward(self, x):
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
        return self.head(self.enc(self.emb(x), mask=mask, is_causal=True))


def _mlp(dropout: float) -> nn.Module:
    return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(dropout), nn.Linear(32, 4))


def _cnn_batchnorm() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 4)
    )


#: name -> (builder, input kind for :func:`batch`)
MODELS = {
    "mlp": (lambda: _mlp(0.0), "vec"),
    "mlp_dropout": (lambda: _mlp(0.2), "vec"),
    "cnn_batchnorm": (_cnn_batchnorm, "img"),
    "lstm": (CharLSTM, "seq"),
    "transformer": (TinyTransformer, "seq"),
}


def batch(kind: str, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch of inputs and targets for a model of input kind ``kind``."""
    if kind == "vec":
        return torch.randn(16, 10, generator=g), torch.randint(0, 4, (16,), generator=g)
    if kind == "img":
        return torch.randn(16, 1, 6, 6, generator=g), torch.randint(0, 4, (16,), generator=g)
    x = torch.randint(0, 20, (8, 12), generator=g)
    return x, torch.roll(x, -1, dims=1)
