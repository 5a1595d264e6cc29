"""The monitor never changes training: with a fixed seed, weights (and BatchNorm statistics) after N steps are
bitwise identical with and without it, for every kind of model, at every-step sampling and at defaults."""

from __future__ import annotations

import pytest
import torch
from tiny_models import MODELS, batch
from torch import nn

import traindx as tdx


def _train(name: str, monitor: dict | None, steps: int = 12) -> dict[str, torch.Tensor]:
    build, kind = MODELS[name]
    torch.manual_seed(0)
    model = build()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(1)
    mon = tdx.Monitor(model, opt, **monitor) if monitor is not None else None
    for _ in range(steps):
        x, y = batch(kind, g)
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


@pytest.mark.parametrize("name", [n for n in MODELS if n != "mlp"])
@pytest.mark.parametrize("settings", [{"every": 1}, {}], ids=["every_step", "defaults"])
def test_weights_are_bitwise_identical_with_and_without_the_monitor(name, settings):
    plain = _train(name, None)
    watched = _train(name, settings)
    assert plain.keys() == watched.keys()
    for key in plain:
        assert torch.equal(plain[key], watched[key]), f"{name}: {key} differs"
