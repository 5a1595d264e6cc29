"""The MD tree feature row of one model, with and without a second seed."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from traindx.errors import InputError
from traindx.landscape import model_diagnosis_metrics


@pytest.fixture(scope="module")
def data():
    torch.manual_seed(0)
    x = torch.randn(300, 6)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return x, y


def _fit(seed: int, x, y) -> nn.Module:
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.Adam(m.parameters(), lr=0.05)
    for _ in range(100):
        opt.zero_grad()
        nn.functional.cross_entropy(m(x), y).backward()
        opt.step()
    return m


def test_row_in_the_released_units(data):
    x, y = data
    m = _fit(0, x, y)
    row = model_diagnosis_metrics(m, (x, y), (x[:100], y[:100]), model2=m, connectivity_steps=10)
    assert 0 <= row["train_error"] < 10 and row["train_acc"] == pytest.approx(100 - row["train_error"])
    assert row["CKA"] == pytest.approx(1.0)  # a model against itself
    assert row["mode_connectivity_peak"] == pytest.approx(-row["train_error"], abs=1.0)
    assert math.isfinite(row["hessian_e"]) and row["hessian_t"] >= row["hessian_e"]  # trace >= top (PSD-ish)


def test_second_seed_is_optional(data):
    x, y = data
    row = model_diagnosis_metrics(_fit(1, x, y), (x, y), (x, y))
    assert math.isnan(row["CKA"]) and math.isnan(row["mode_connectivity_peak"])
    assert math.isfinite(row["hessian_t"])


def test_mismatched_pairs_are_named(data):
    x, y = data
    with pytest.raises(InputError, match="train"):
        model_diagnosis_metrics(_fit(0, x, y), (x, y[:10]), (x, y))


def test_token_inputs_stay_integers_and_are_mixed_position_by_position():
    from traindx.experiments.models import build_model

    torch.manual_seed(0)
    tokens, labels = torch.randint(0, 40, (120, 10)), torch.randint(0, 2, (120,))
    a = build_model("textcnn", (10,), 2, width=8, vocab_size=40)
    b = build_model("textcnn", (10,), 2, width=8, vocab_size=40)
    row = model_diagnosis_metrics(a, (tokens, labels), (tokens, labels), model2=b, connectivity_steps=5)
    assert 0 < row["CKA"] <= 1 and row["mode_connectivity_peak"] <= 0 and math.isfinite(row["hessian_t"])
