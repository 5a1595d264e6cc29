"""tdx.EarlyStopping: predicted-gain stopping, underfitting/overfitting rules, patience and best-epoch restore."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_search import synthetic_corpus

import traindx as tdx
from traindx.errors import InputError
from traindx.search import PerformancePredictor


@pytest.fixture(scope="module")
def predictor():
    runs, curves = synthetic_corpus(200, epochs=20)
    pred = PerformancePredictor(prefix=True, target="best", n_estimators=20, landmarkers=False)
    return pred.fit(runs, curves), runs


def test_stops_a_saturated_run_early_and_keeps_the_best_epoch(predictor):
    pred, runs = predictor
    cfg = runs.iloc[0].to_dict()
    es = tdx.EarlyStopping(predictor=pred, config=cfg, min_delta=0.01)
    curve = 0.1 + 0.8 * (1 - np.exp(-np.arange(1, 21) / 1.5))
    stop = None
    for epoch, acc in enumerate(curve, start=1):
        if es.update(epoch, val_acc=float(acc)):
            stop = epoch
            break
    assert stop is not None and stop <= 16 and es.reason == "no_gain"
    assert es.best_epoch == stop and curve[-1] - es.best_value < 0.01


def test_underfitting_and_overfitting_rules():
    es = tdx.EarlyStopping(n_classes=10)
    flat = [0.1, 0.11, 0.1, 0.1]
    assert [es.update(e, val_acc=a) for e, a in enumerate(flat, 1)][-1] is True
    assert es.reason == "underfitting"

    es = tdx.EarlyStopping()
    acc = [0.6, 0.8, 0.85, 0.84, 0.84, 0.83]
    loss = [1.0, 0.6, 0.5, 0.56, 0.6, 0.7]  # GL = 40% after 3 epochs without improvement
    out = [es.update(e, val_acc=a, val_loss=v) for e, (a, v) in enumerate(zip(acc, loss, strict=True), 1)]
    assert out == [False] * 5 + [True] and es.reason == "overfitting" and es.best_epoch == 3

    es = tdx.EarlyStopping()
    rising = np.linspace(0.5, 0.9, 10)
    assert not any(es.update(e, val_acc=float(a), val_loss=1 - float(a)) for e, a in enumerate(rising, 1))


def test_restore_gives_back_the_best_weights():
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 2)
    es = tdx.EarlyStopping(patience=1).attach(model)
    es.update(1, val_acc=0.9)
    best = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.weight.add_(1.0)
    assert es.update(2, val_acc=0.5) is False  # min_epochs = 3
    assert es.update(3, val_acc=0.5) is True and es.reason == "patience"
    es.restore()
    assert torch.equal(model.weight, best["weight"])


def test_bad_input():
    with pytest.raises(InputError, match="val_acc"):
        tdx.EarlyStopping().update(1, val_loss=0.3)
    with pytest.raises(InputError, match="prefix=True"):
        tdx.EarlyStopping(predictor=PerformancePredictor())
    with pytest.raises(InputError, match="finite"):
        tdx.EarlyStopping().update(1, val_acc=float("nan"))
    with pytest.raises(InputError, match="attach"):
        tdx.EarlyStopping().restore()


def test_from_corpus_reads_parquet_corpora(tmp_path):
    runs, curves = synthetic_corpus(60, epochs=10)
    runs.to_parquet(tmp_path / "digits_runs.parquet")
    curves.to_parquet(tmp_path / "digits_epochs.parquet")
    es = tdx.EarlyStopping.from_corpus(runs.iloc[0].to_dict(), corpora=("digits",), folder=str(tmp_path))
    assert es.predictor.prefix and es.predictor.target == "best"
    with pytest.raises(InputError, match="not found"):
        tdx.EarlyStopping.from_corpus({}, corpora=("mnist",), folder=str(tmp_path))
