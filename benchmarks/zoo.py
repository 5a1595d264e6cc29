"""Small real models and data for the monitor benchmarks (overhead.py, faults.py).

Each is a minimal version of a model people train: a character-level LSTM/GRU and a GPT-style transformer on
tiny shakespeare (with GPT-2's scaled residual init), a BatchNorm residual CNN, an MLP VAE. Text comes from the
data dir (``$TRAINDX_DATA_DIR``, else ``../shared/data``: ``text/tinyshakespeare.txt``); without it a fixed
synthetic text stands in (same alphabet size, a seeded Markov chain).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def char_data(n_chars: int = 300_000) -> tuple[torch.Tensor, int]:
    """(character ids, vocabulary size) of tiny shakespeare's first ``n_chars`` characters."""
    try:
        from traindx.experiments.tasks.base import data_dir

        text = (data_dir() / "text" / "tinyshakespeare.txt").read_text()[:n_chars]
    except Exception:  # noqa: BLE001 - no data dir: a seeded synthetic text of the same alphabet size
        g = torch.Generator().manual_seed(0)
        trans = torch.rand(65, 65, generator=g) ** 8
        ids = [0]
        for _ in range(n_chars - 1):
            ids.append(int(torch.multinomial(trans[ids[-1]], 1, generator=g)))
        return torch.tensor(ids), 65
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    return torch.tensor([index[c] for c in text]), len(vocab)


def char_batch(
    data: torch.Tensor, batch: int, seq: int, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random batch of (input, next-character target) windows."""
    starts = torch.randint(0, len(data) - seq - 1, (batch,), generator=g)
    x = torch.stack([data[s : s + seq] for s in starts])
    y = torch.stack([data[s + 1 : s + seq + 1] for s in starts])
    return x, y


class CharRNN(nn.Module):
    """Embedding -> LSTM or GRU -> Linear over the vocabulary (char-rnn)."""

    def __init__(self, vocab: int, kind: str = "lstm", emb: int = 32, hidden: int = 128) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.rnn = (nn.LSTM if kind == "lstm" else nn.GRU)(emb, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.emb(x))
        return self.head(out)


class Block(nn.Module):
    """Pre-LayerNorm transformer block with causal self-attention (nanoGPT's layout)."""

    def __init__(self, d: int, n_head: int, dropout: float) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.c_attn, self.c_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.n_head, self.drop = n_head, nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.c_attn(self.ln1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.n_head, d // self.n_head).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, d)
        x = x + self.drop(self.c_proj(y))
        return x + self.drop(self.proj(F.gelu(self.fc(self.ln2(x)))))


class TinyGPT(nn.Module):
    """A GPT-style character model with GPT-2's init: N(0, 0.02), residual projections 0.02/sqrt(2 n_layer)."""

    def __init__(
        self, vocab: int, seq: int = 64, d: int = 64, n_layer: int = 2, n_head: int = 4, dropout=0.0
    ):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(seq, d)
        self.blocks = nn.Sequential(*[Block(d, n_head, dropout) for _ in range(n_layer)])
        self.ln_f, self.head = nn.LayerNorm(d), nn.Linear(d, vocab)
        for name, p in self.named_parameters():
            if name.endswith("weight") and p.dim() == 2:
                std = (
                    0.02 / math.sqrt(2 * n_layer) if name.endswith(("c_proj.weight", "proj.weight")) else 0.02
                )
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(x.shape[1], device=x.device)
        return self.head(self.ln_f(self.blocks(self.tok(x) + self.pos(pos))))


class ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.b2(self.c2(self.relu(self.b1(self.c1(x))))))


def resnet_bn(in_ch: int, n_classes: int, width: int = 16) -> nn.Module:
    """Conv-BN-ReLU stem, two residual blocks with BatchNorm, global pooling, a linear head."""
    return nn.Sequential(
        nn.Conv2d(in_ch, width, 3, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        ResBlock(width),
        nn.MaxPool2d(2),
        ResBlock(width),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, n_classes),
    )


def cnn_bn(in_ch: int, n_classes: int) -> nn.Module:
    """Two Conv-BN-ReLU-pool blocks and a linear head (a CIFAR/MNIST-zoo CNN)."""
    return nn.Sequential(
        nn.Conv2d(in_ch, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, n_classes),
    )  # fmt: skip


class VAE(nn.Module):
    """An MLP variational autoencoder (Kingma & Welling 2014); ``loss`` is the negative ELBO per example."""

    def __init__(self, n_in: int = 784, hidden: int = 256, z: int = 16) -> None:
        super().__init__()
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(n_in, hidden), nn.ReLU())
        self.mu, self.logvar = nn.Linear(hidden, z), nn.Linear(hidden, z)
        self.dec = nn.Sequential(nn.Linear(z, hidden), nn.ReLU(), nn.Linear(hidden, n_in))

    def forward(self, x: torch.Tensor):
        h = self.enc(x)
        mu, logvar = self.mu(h), self.logvar(h)
        zs = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.dec(zs), mu, logvar

    @staticmethod
    def loss(out, x: torch.Tensor) -> torch.Tensor:
        logits, mu, logvar = out
        rec = F.binary_cross_entropy_with_logits(logits, x.flatten(1), reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return (rec + kl) / len(x)
