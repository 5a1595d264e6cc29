"""CurveDiagnoser (all model kinds) and tdx.diagnose on held-out runs of simulated learning curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import f1_score

import traindx as tdx
from traindx.curves import checkpoint_rule_labels, future_labels, rule_labels
from traindx.errors import InputError


def _curves(n: int = 80, epochs: int = 12, seed: int = 0, prefix: str = "r") -> pd.DataFrame:
    """Saturating curves: healthy, overfitting (val peaks then falls), underfitting, shifted test set."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        kind = i % 4
        cap = (0.97, 1.0, 0.62, 0.97)[kind] - rng.uniform(0, 0.03)
        vcap = cap - (0.01, rng.uniform(0.12, 0.2), 0.0, 0.01)[kind]
        rate, t0 = rng.uniform(0.25, 0.6), rng.uniform(3, 7)
        for e in range(1, epochs + 1):
            grow = 1 - np.exp(-rate * e)
            t, v = cap * grow, vcap * grow - (0.012 * max(0.0, e - t0) if kind == 1 else 0.0)
            te = v - (rng.uniform(0.08, 0.2) if kind == 3 else 0.0)
            noise = rng.normal(0, 0.004, 3)
            t, v, te = np.clip([t + noise[0], v + noise[1], te + noise[2]], 0, 1) - noise
            rows.append((f"{prefix}{i}", e, t + noise[0], v + noise[1], te + noise[2], 2 * (1 - t),
                         2 * (1 - v) + 0.03 * max(0.0, e - t0) * (kind == 1), 2 * (1 - te), 2000, 2000))  # fmt: skip
    cols = ["run_id", "epoch", "train_acc", "val_acc", "test_acc", "train_loss", "val_loss", "test_loss"]
    return pd.DataFrame(rows, columns=cols + ["n_val", "n_test"])


@pytest.fixture(scope="module")
def data():
    train, test = _curves(seed=0), _curves(n=40, seed=1, prefix="t")
    return train, checkpoint_rule_labels(train, [1, 3, 5, 8, 12]), test


@pytest.mark.parametrize("model", ["rf", "xgboost", "lightgbm", "logreg", "ensemble"])
def test_every_model_diagnoses_held_out_runs(data, model):
    train, y, test = data
    diag = tdx.CurveDiagnoser(model=model, n_estimators=30).fit(train, y)
    truth = rule_labels(test)
    pred = diag.predict(test)
    assert list(pred.columns) == list(truth.columns)
    assert f1_score(truth.to_numpy(), pred.loc[truth.index].to_numpy(), average="micro") >= 0.9
    proba = diag.predict_proba(test)
    assert len(proba) == 3 and all(p.shape == (len(truth), 2) for p in proba)
    assert all(np.allclose(p.sum(1), 1) and (p >= 0).all() and (p <= 1).all() for p in proba)


def test_future_labels_from_prefix_beat_persistence(data):
    train, _, test = data
    diag = tdx.CurveDiagnoser(at_epoch=5, n_estimators=50).fit(train, future_labels(train))
    truth = future_labels(test)["final_overfitting"]
    pred = diag.predict(test)["final_overfitting"]
    persistence = rule_labels(test, at_epoch=5)["overfitting"]
    assert f1_score(truth, pred.loc[truth.index]) > f1_score(truth, persistence.loc[truth.index]) + 0.05


def test_is_a_scikit_learn_estimator(data):
    train, y, _ = data
    diag = tdx.CurveDiagnoser(model="logreg", calibration="isotonic")
    assert clone(diag).get_params() == diag.get_params()
    assert not hasattr(diag, "labels_")  # the constructor only stores parameters
    diag.fit(train, y)
    assert diag.labels_ == ["underfitting", "overfitting", "dataset_shift"]
    assert 0.9 <= diag.score(train, rule_labels(train)) <= 1.0
    imp = diag.feature_importances()
    assert imp.shape == (len(diag.feature_names_in_), 3) and (imp.to_numpy() >= 0).all()


def test_constant_label_is_kept(data):
    train, y, test = data
    diag = tdx.CurveDiagnoser(model="logreg").fit(train, y.assign(never=0))
    assert (diag.predict(test)["never"] == 0).all()


def test_bad_input(data):
    train, y, _ = data
    with pytest.raises(InputError, match="not fitted"):
        tdx.CurveDiagnoser().predict(train)
    with pytest.raises(InputError, match="unknown model"):
        tdx.CurveDiagnoser(model="svm").fit(train, y)
    with pytest.raises(InputError, match="0/1"):
        tdx.CurveDiagnoser().fit(train, y.assign(underfitting=np.nan))
    with pytest.raises(InputError, match="no curve"):
        tdx.CurveDiagnoser().fit(train, rule_labels(train).rename(index=lambda r: r + "x"))


def test_diagnose_output_contract(data):
    train, y, test = data
    diag = tdx.CurveDiagnoser(n_estimators=30).fit(train, y)
    out = tdx.diagnose(test, model=diag)
    assert out.index.name == "run_id" and len(out) == 40
    for label in ("underfitting", "overfitting", "dataset_shift"):
        assert out[label].dtype == bool
        assert out[f"p_{label}"].between(0, 1).all()
    assert (out["advice"] == "no problem detected").sum() >= 5
    over = out[out["overfitting"]]
    assert len(over) >= 5 and over["advice"].str.contains("overfitting").all()
    assert over["drivers"].str.contains("overfitting: ").all()
    early = tdx.diagnose(test, model=diag, at_epoch=2)
    assert (early["epoch"] == 2).all() and early["underfitting"].sum() > out["underfitting"].sum()


def test_default_model_from_shipped_corpus(data):
    _, _, test = data
    out = tdx.diagnose(test)
    assert {"underfitting", "overfitting", "dataset_shift", "final_overfitting"} <= set(out.columns)
    assert out["advice"].map(type).eq(str).all()


def test_labels_needing_an_unlogged_metric_are_not_judged(data):
    train, y, test = data
    diag = tdx.CurveDiagnoser(n_estimators=30).fit(train, y)
    out = tdx.diagnose(test.drop(columns=["test_acc", "test_loss"]), model=diag)
    assert out["p_dataset_shift"].isna().all() and not out["dataset_shift"].any()
    assert out["advice"].str.contains("test_acc is missing").all()
    assert out["p_overfitting"].notna().all() and out["overfitting"].sum() >= 5


def test_run_context_separates_runs_whose_first_epochs_look_alike():
    """Same two-epoch curves, different train-set sizes: only the small ones go on to overfit."""
    rng = np.random.default_rng(3)
    rows, runs = [], []
    for i in range(120):
        small = i % 2 == 0
        for e in range(1, 13):
            v = 0.6 + 0.035 * min(e, 4) + rng.normal(0, 0.005)
            t = v + 0.01 + (0.04 * max(0, e - 2) if small else 0.0) + rng.normal(0, 0.005)
            rows.append((f"r{i}", e, min(t, 1.0), v))
        runs.append((f"r{i}", 200 if small else 20_000, 32, 12))
    curves = pd.DataFrame(rows, columns=["run_id", "epoch", "train_acc", "val_acc"])
    table = pd.DataFrame(runs, columns=["run_id", "n_train", "batch_size", "epochs"])
    y = future_labels(curves)
    assert y["final_overfitting"].mean() == pytest.approx(0.5)
    fit_ids, test_ids = [f"r{i}" for i in range(80)], [f"r{i}" for i in range(80, 120)]
    with_ctx = tdx.curves.add_context(curves, table)
    truth = y.loc[test_ids, "final_overfitting"]

    def f1(train_curves, **kw):
        diag = tdx.CurveDiagnoser(at_epoch=2, n_estimators=50).fit(
            train_curves[train_curves["run_id"].isin(fit_ids)], y.loc[fit_ids]
        )
        out = tdx.diagnose(curves[curves["run_id"].isin(test_ids)], at_epoch=2, model=diag, **kw)
        return f1_score(truth, out.loc[test_ids, "final_overfitting"])

    assert f1(with_ctx, runs=table) >= 0.95  # diagnose reads the context from the run table
    assert f1(curves) <= 0.75  # without it the two kinds are indistinguishable at epoch 2


def test_class_weight_is_checked(data):
    train, y, _ = data
    with pytest.raises(InputError, match="class_weight"):
        tdx.CurveDiagnoser(class_weight="auto").fit(train, y)
    unweighted = tdx.CurveDiagnoser(class_weight=None, n_estimators=20).fit(train, y)
    rf = unweighted.estimators_["overfitting"].estimator[-1]
    assert rf.class_weight is None
