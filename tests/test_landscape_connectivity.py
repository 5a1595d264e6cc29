"""Mode connectivity: identical models have no barrier; a trained curve lowers the linear path's barrier."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from traindx.errors import InputError
from traindx.landscape import mode_connectivity


def _train(seed: int, x, y) -> nn.Module:
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.Adam(m.parameters(), lr=0.03)
    for _ in range(200):
        opt.zero_grad()
        nn.functional.cross_entropy(m(x), y).backward()
        opt.step()
    return m


@pytest.fixture(scope="module")
def xor():
    torch.manual_seed(0)
    x = torch.randn(200, 2)
    return x, (x[:, 0] * x[:, 1] > 0).long()


def test_identical_models_have_zero_barrier(xor):
    x, y = xor
    m = _train(0, x, y)
    for curve in ("linear", "bezier"):
        r = mode_connectivity(m, m, nn.functional.cross_entropy, (x, y), curve=curve, steps=30)
        assert r.barrier == pytest.approx(0.0, abs=1e-9)
        assert max(r.errors) - min(r.errors) <= 1.0  # the curve stays at the shared minimum
        assert r.peak == pytest.approx(-max(r.errors))


def test_bezier_curve_beats_the_line(xor):
    x, y = xor
    a, b = _train(1, x, y), _train(2, x, y)
    line = mode_connectivity(a, b, nn.functional.cross_entropy, (x, y), curve="linear")
    curve = mode_connectivity(a, b, nn.functional.cross_entropy, (x, y), steps=300, lr=0.02)
    assert line.errors[0] == curve.errors[0] and line.errors[-1] == curve.errors[-1]
    assert curve.peak >= line.peak
    assert line.barrier > 5.0 and curve.barrier < line.barrier


def test_mismatched_models_are_refused(xor):
    x, y = xor
    with pytest.raises(InputError, match="architectures"):
        mode_connectivity(nn.Linear(2, 2), nn.Linear(2, 3), nn.functional.cross_entropy, (x, y))
