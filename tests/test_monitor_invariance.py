"""The monitor never changes training: with a fixed seed, weights (and BatchNorm statistics) after N steps are
bitwise identical with and without it, for every kind of model, at every-step sampling and at defaults."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import traindx as tdx


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


def _kinds():
    mlp = (lambda: nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 4)), "vec")
    cnn = (
        lambda: nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 4)
        ),
        "img",
    )
    return {
        "mlp_dropout": mlp,
        "cnn_batchnorm": cnn,
        "lstm": (CharLSTM, "seq"),
        "transformer": (TinyTransformer, "seq"),
    }


def _batch(kind: str, g: torch.Generator):
    if kind == "vec":
        return torch.randn(16, 10, generator=g), torch.randint(0, 4, (16,), generator=g)
    if kind == "img":
        return torch.randn(16, 1, 6, 6, generator=g), torch.randint(0, 4, (16,), generator=g)
    x = torch.randint(0, 20, (8, 12), generator=g)
    return x, torch.roll(x, -1, dims=1)


def _train(name: str, monitor: dict | None, steps: int = 12) -> dict[str, torch.Tensor]:
    build, kind = _kinds()[name]
    torch.manual_seed(0)
    model = build()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(1)
    mon = tdx.Monitor(model, opt, **monitor) if monitor is not None else None
    for _ in range(steps):
        x, y = _batch(kind, g)
        out = model(x)
        loss = nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if mon is not None:
            mon.step(loss)
    if mon is not None:
        mon.epoch_end(train_loss=float(loss))
        mon.close()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", list(_kinds()))
@pytest.mark.parametrize("settings", [{"every": 1}, {}], ids=["every_step", "defaults"])
def test_weights_are_bitwise_identical_with_and_without_the_monitor(name, settings):
    plain = _train(name, None)
    watched = _train(name, settings)
    assert plain.keys() == watched.keys()
    for key in plain:
        assert torch.equal(plain[key], watched[key]), f"{name}: {key} differs"
