"""Featurization, the performance predictor and candidate scoring (synthetic run tables with the corpus schema)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from scipy.stats import spearmanr

from traindx.errors import InputError
from traindx.search import (
    PerformancePredictor,
    featurize_configs,
    sample_candidates,
    score_candidates,
    targets,
)
from traindx.search.features import feature_names

SPACE = {
    "model": CategoricalDistribution(["logreg", "mlp_small", "mlp_large"]),
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
    "batch_size": IntDistribution(16, 256, log=True),
    "optimizer": CategoricalDistribution(["adam", "sgd"]),
}


def synthetic_corpus(n: int, seed: int = 0, epochs: int = 8) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Runs whose final accuracy peaks at lr = 3e-3 for adam (3e-2 for sgd) and grows with model size."""
    rng = np.random.default_rng(seed)
    runs = sample_candidates(
        SPACE, n, base={"dataset": "digits", "epochs": epochs, "n_train": 1000}, seed=seed
    )
    runs["run_id"] = [f"s{seed}_{i}" for i in range(n)]
    opt_lr = np.where(runs["optimizer"] == "adam", -2.5, -1.5)
    size = runs["model"].map({"logreg": 0.0, "mlp_small": 0.02, "mlp_large": 0.04}).to_numpy()
    final = 0.92 + size - 0.12 * (np.log10(runs["lr"].astype(float)) - opt_lr) ** 2
    final = np.clip(final, 0.1, 0.99)
    tau = rng.uniform(1, 3, n)
    rows = []
    for i, rid in enumerate(runs["run_id"]):
        for e in range(1, epochs + 1):
            acc = 0.1 + (final[i] - 0.1) * (1 - np.exp(-e / tau[i])) + rng.normal(0, 0.005)
            rows.append({"run_id": rid, "epoch": e, "val_acc": acc, "train_acc": acc + 0.01})
    return runs, pd.DataFrame(rows)


def test_featurize_configs_shape_defaults_and_errors():
    X = featurize_configs(pd.DataFrame({"dataset": ["digits", "mnist1d"], "model": ["logreg", "cnn_small"]}))
    assert X.shape == (2, len(feature_names()))
    names = feature_names()
    assert X[0, names.index("model=logreg")] == 1 and X[1, names.index("model=cnn_small")] == 1
    # logreg on 8x8 digits: 64 * 10 + 10 parameters
    assert X[0, names.index("log_params")] == pytest.approx(np.log10(650), rel=1e-5)
    with pytest.raises(InputError, match="unknown model"):
        featurize_configs(pd.DataFrame({"model": ["transformer"]}))
    with pytest.raises(InputError, match="must be positive"):
        featurize_configs(pd.DataFrame({"dataset": ["digits"], "lr": [0.0]}))


def test_param_count_matches_the_built_models():
    from traindx.experiments.models import build_model, count_params

    cfg = pd.DataFrame(
        {"dataset": ["digits"] * 3, "model": ["mlp_large", "cnn_small", "cnn_large"], "width": [40, 8, 16]}
    )
    X = featurize_configs(cfg, landmarkers=False)
    got = 10 ** X[:, feature_names(False).index("log_params")]
    want = [count_params(build_model(m, (1, 8, 8), 10, w)) for m, w in zip(cfg.model, cfg.width, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("model", ["forest", "boosting", "linear"])
def test_predictor_ranks_held_out_configs(model):
    runs, curves = synthetic_corpus(300)
    test_runs, test_curves = synthetic_corpus(100, seed=1)
    pred = PerformancePredictor(model=model, n_estimators=20, landmarkers=False).fit(runs, curves)
    mean, std = pred.predict(test_runs, return_std=True)
    truth = targets(test_curves).loc[test_runs["run_id"], "final"]
    rho = spearmanr(mean, truth).statistic
    # a quadratic in log lr: trees should rank well; the linear model sees only a monotone trend
    assert rho > (0.85 if model != "linear" else 0.2)
    assert std.shape == mean.shape and (std >= 0).all()


def test_predictor_with_prefix_uses_the_curve():
    runs, curves = synthetic_corpus(150)
    pred = PerformancePredictor(prefix=True, target="best", n_estimators=20, landmarkers=False).fit(
        runs, curves
    )
    cfg = runs.iloc[:1]
    low, high = pred.predict_prefix(
        pd.concat([cfg, cfg]), [np.array([0.2, 0.3, 0.35]), np.array([0.8, 0.9, 0.93])]
    )
    assert high > low + 0.2
    out = pred.predict(runs.iloc[:3], curves=curves[curves.epoch <= 3])
    assert out.shape == (3,)


def test_relative_predictor_keeps_levels_and_transfers_rankings():
    # six tasks share which configurations are better but differ in how accurate they are
    parts = []
    for t in range(6):
        runs, curves = synthetic_corpus(80, seed=t)
        runs = runs.assign(dataset=f"task_{t}", run_id=runs["run_id"] + f"_t{t}")
        curves = curves.assign(run_id=curves["run_id"] + f"_t{t}", val_acc=curves["val_acc"] - 0.05 * t)
        parts.append((runs, curves))
    runs = pd.concat([p[0] for p in parts], ignore_index=True)
    curves = pd.concat([p[1] for p in parts], ignore_index=True)
    held = runs["dataset"] == "task_2"
    pred = PerformancePredictor(n_estimators=20, landmarkers=False).fit(runs[~held], curves)
    assert pred.relative_ and set(pred.levels_) == {f"task_{t}" for t in (0, 1, 3, 4, 5)}
    truth = targets(curves).loc[runs["run_id"], "final"].to_numpy()
    seen = runs["dataset"] == "task_1"
    mean = pred.predict(runs[seen])
    assert np.median(np.abs(mean - truth[seen.to_numpy()])) < 0.03  # a seen task keeps its own level
    mean, std = pred.predict(runs[held], return_std=True)
    y = truth[held.to_numpy()]
    assert spearmanr(mean, y).statistic > 0.85  # the ranking transfers to an unseen task
    # an unseen task's level is unknown: the calibrated interval widens to cover it
    assert 0.6 <= np.mean(np.abs(y - mean) <= 1.2816 * std) <= 1.0
    with pytest.raises(InputError, match="prefix"):
        PerformancePredictor(prefix=True, relative=True).fit(runs, curves)


def test_predictor_bad_input():
    runs, curves = synthetic_corpus(10)
    with pytest.raises(InputError, match="model must be one of"):
        PerformancePredictor(model="svm").fit(runs, curves)
    with pytest.raises(InputError, match="final_val_acc"):
        PerformancePredictor().fit(runs)
    with pytest.raises(InputError, match="not fitted"):
        PerformancePredictor().predict(runs)
    with pytest.raises(InputError, match="share run_id"):
        PerformancePredictor(landmarkers=False).fit(runs.assign(run_id="other"), curves)


def test_score_candidates_picks_the_predicted_optimum():
    runs, curves = synthetic_corpus(300)
    pred = PerformancePredictor(n_estimators=20, landmarkers=False).fit(runs, curves)
    cand = sample_candidates(SPACE, 50_000, base={"dataset": "digits", "epochs": 8, "n_train": 1000}, seed=3)
    top = score_candidates(pred, cand, kappa=0.0, top=20)
    assert len(top) == 20 and top["score"].is_monotonic_decreasing
    # the synthetic optimum: large MLP, lr near 3e-3 (adam) / 3e-2 (sgd)
    assert (top["model"] == "mlp_large").mean() >= 0.8
    best_lr = np.log10(top["lr"].astype(float)) - np.where(top["optimizer"] == "adam", -2.5, -1.5)
    assert np.abs(best_lr).median() < 0.5


def test_stored_landmarkers_match_a_recomputation():
    from traindx.search.features import KNOWN_LANDMARKERS, dataset_landmarkers

    np.testing.assert_allclose(dataset_landmarkers("digits"), KNOWN_LANDMARKERS["digits"], atol=1e-3)
