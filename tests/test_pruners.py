"""MetaPruner on the many-task corpus: its default predictor, the validation-noise floor, the benchmark replay."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from traindx.search import MetaPruner
from traindx.search.pruners import meta

optuna.logging.set_verbosity(optuna.logging.WARNING)


class EchoPredictor:
    """Predicts that a run's best accuracy is its best so far, with no spread (a maximally confident model)."""

    prefix = True
    target = "best"

    def predict_prefix(self, configs, prefixes, return_std=False):
        mean = np.array([np.max(p) for p in prefixes])
        return (mean, np.zeros(len(mean))) if return_std else mean


def test_validation_noise_reads_the_set_size_off_the_values():
    # 39 examples: accuracies are multiples of 1/39; at 0.9 the binomial error is sqrt(0.9 * 0.1 / 39)
    assert meta.validation_noise([k / 39 for k in (20, 33, 35, 36)], 0.9) == pytest.approx(np.sqrt(0.09 / 39))
    # a gap of two examples is the most the values show: a larger, more cautious error
    assert meta.validation_noise([20 / 300, 22 / 300], 0.9) == pytest.approx(np.sqrt(0.09 * 2 / 300))
    assert meta.validation_noise([0.5], 0.9) == 0.0  # nothing to read yet
    smooth = np.random.default_rng(0).uniform(0.5, 0.9, 500)  # not fractions of a small set
    assert meta.validation_noise(smooth, 0.9) < 0.005


def _study(pruner: MetaPruner, curves: list[np.ndarray]) -> list[str]:
    study = optuna.create_study(direction="maximize", pruner=pruner)
    for curve in curves:
        trial = study.ask()
        trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        pruned = False
        for epoch, acc in enumerate(curve, start=1):
            trial.report(float(acc), epoch)
            if trial.should_prune():
                pruned = True
                break
        if pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, float(np.max(curve)))
    return [t.state.name for t in study.trials]


def test_a_run_one_example_short_on_a_small_validation_set_is_not_hopeless():
    # 39 validation examples: the incumbent reached 36/39, the next run sits at 35/39
    best = np.array([20, 30, 34, 36, 36, 36]) / 39
    close = np.array([20, 30, 35, 35, 35, 35]) / 39
    far = np.full(6, 10 / 39)
    kw = {"predictor": EchoPredictor(), "calibrate": False, "alpha": 0.05}
    assert _study(MetaPruner(noise_floor=False, **kw), [best, close, far]) == ["COMPLETE", "PRUNED", "PRUNED"]
    assert _study(MetaPruner(**kw), [best, close, far]) == ["COMPLETE", "COMPLETE", "PRUNED"]


def test_the_rank_gate_spares_a_trial_that_ranks_high_at_its_step():
    # an incumbent spike (0.95) makes every later run look hopeless to a confident predictor; the gate
    # keeps a run that ranks in the top quarter of the trials at its step and prunes one that does not
    spike = np.array([0.95, 0.5, 0.5, 0.5, 0.5, 0.5])
    mid = np.full(6, 0.6)
    low = np.full(6, 0.3)
    high = np.full(6, 0.8)
    kw = {"predictor": EchoPredictor(), "calibrate": False, "noise_floor": False, "alpha": 0.05}
    trials = [spike] + [mid] * 5 + [high, low]
    plain = _study(MetaPruner(**kw), trials)
    assert plain[6:] == ["PRUNED", "PRUNED"]
    gated = _study(MetaPruner(rank_quantile=0.75, **kw), trials)
    assert gated[6:] == ["COMPLETE", "PRUNED"]
    # before rank_startup trials reported the step, the rank cannot be told: nothing is pruned
    assert _study(MetaPruner(rank_quantile=0.75, **kw), [spike, low]) == ["COMPLETE", "COMPLETE"]
    assert _study(MetaPruner(**kw), [spike, low]) == ["COMPLETE", "PRUNED"]
    with pytest.raises(meta.InputError, match="rank_quantile"):
        MetaPruner(rank_quantile=1.5)


def test_the_default_predictor_is_fitted_on_the_many_task_corpus(monkeypatch):
    seen = {}

    def fake_fit(runs, curves):
        seen["runs"], seen["curves"] = runs, curves
        return EchoPredictor()

    monkeypatch.setattr(meta, "fit_prefix_predictor", fake_fit)
    meta.default_predictor.cache_clear()
    try:
        pred = MetaPruner().predictor
    finally:
        meta.default_predictor.cache_clear()
    assert isinstance(pred, EchoPredictor)
    runs = seen["runs"]
    assert runs["dataset"].nunique() >= 40 and set(runs["modality"]) == {
        "image",
        "tabular",
        "text",
        "timeseries",
    }
    assert set(seen["curves"]["run_id"]) == set(runs["run_id"])
    assert set(runs["seed"]) == {0}  # one seed of each configuration (the corpus trains three)


def test_fit_prefix_predictor_predicts_the_best_accuracy():
    runs = pd.DataFrame(
        {"run_id": list("abcd"), "dataset": "digits", "epochs": 3, "lr": [1e-4, 1e-3, 1e-2, 1e-1]}
    )
    acc = [[0.2, 0.4, 0.3], [0.5, 0.7, 0.6], [0.6, 0.8, 0.9], [0.1, 0.1, 0.1]]
    curves = pd.DataFrame(
        {"run_id": np.repeat(list("abcd"), 3), "epoch": [1, 2, 3] * 4, "val_acc": np.ravel(acc)}
    )
    pred = meta.fit_prefix_predictor(runs, curves)
    assert pred.prefix and pred.target == "best" and not pred.landmarkers
    pruner = MetaPruner(runs=runs, curves=curves)
    assert pruner.predictor.target == "best"


def test_benchmark_replay_scores_savings_and_regret():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import early_stopping as bench

    rng = np.random.default_rng(0)
    ids = [f"r{i}" for i in range(12)]
    runs = pd.DataFrame({"run_id": ids})
    top = rng.uniform(0.3, 0.9, 12)
    curves = {
        r: (t * (1 - np.exp(-np.arange(1, 11) / 2)), np.full(10, t)) for r, t in zip(ids, top, strict=True)
    }
    used, total, sel, ref = bench.replay(runs, curves, {}, seed=0)
    assert (used, total) == (120, 120) and sel == ref == pytest.approx(top.max())
    used, total, sel, ref = bench.replay(runs, curves, {"pruner": optuna.pruners.MedianPruner(3, 1)}, seed=0)
    assert used < total and ref == pytest.approx(top.max())
    table = {r: (np.maximum.accumulate(c[0]), np.zeros(10)) for r, c in curves.items()}
    pred = bench.LookupPredictor("best", table)
    used, total, sel, ref = bench.replay(runs, curves, {"meta": {"alpha": 0.05}}, seed=0, pred=pred)
    assert used < total and sel <= ref


def test_benchmark_prefix_table_answers_every_prefix_of_every_run():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import early_stopping as bench

    runs = pd.DataFrame({"run_id": ["a", "b"]})
    curves = pd.DataFrame(
        {"run_id": list("aaabb"), "epoch": [1, 2, 3, 1, 2], "val_acc": [0.2, 0.5, 0.4, 0.7, 0.6]}
    )
    table = bench.prefix_table(EchoPredictor(), runs, curves)
    assert set(table) == {"a", "b"}
    np.testing.assert_allclose(table["a"][0], [0.2, 0.5, 0.5])  # the best so far after 1, 2 and 3 epochs
    np.testing.assert_allclose(table["b"][0], [0.7, 0.7])
    lookup = bench.LookupPredictor("best", table)
    assert lookup.predict_prefix(runs.iloc[[0]], [np.array([0.2, 0.5])]).tolist() == [0.5]
