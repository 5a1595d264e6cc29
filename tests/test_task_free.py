"""Task-free features and the task-free diagnoser: scale invariance, missing context, not judged, persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import traindx as tdx
from traindx.diagnose.task_free import features_at_fraction, task_free_features
from traindx.diagnose.task_free_model import fit_task_free, load_task_free, save_task_free


def _curve(run: str, epochs: int, rate: float, cap: float = 0.95, gap: float = 0.0) -> pd.DataFrame:
    """A saturating run whose shape depends on the fraction of training done, not on the epoch count."""
    t = np.arange(1, epochs + 1) / epochs
    train = cap * (1 - np.exp(-rate * t))
    val = train - gap * t
    return pd.DataFrame({"run_id": run, "epoch": np.arange(1, epochs + 1), "train_acc": train, "val_acc": val,
                         "test_acc": val, "train_loss": 2 * (1 - train) + 0.05, "val_loss": 2 * (1 - val) + 0.05})  # fmt: skip


def test_the_same_run_on_20_and_300_epochs_reads_the_same_at_the_same_progress():
    short = _curve("short", 20, rate=4.0, gap=0.2).assign(max_epochs=20)
    long = _curve("long", 300, rate=4.0, gap=0.2).assign(max_epochs=300)
    both = pd.concat([short, long])
    X = features_at_fraction(both, pd.Series({"short": 20, "long": 300}), 0.25)
    for feat in ("progress", "train_rate_plan", "gap_rate_plan", "train_proj", "gap_proj", "val_rel_best"):
        a, b = X.loc["short", feat], X.loc["long", feat]
        assert a == pytest.approx(b, rel=0.15, abs=0.03), feat


def test_context_is_clipped_to_the_corpus_range():
    c = _curve("a", 10, 3.0).assign(train_size=1_281_167, batch_size=256, n_classes=1000)
    small = _curve("a", 10, 3.0).assign(train_size=1000, batch_size=32, n_classes=65)
    X, Y = task_free_features(c), task_free_features(small)
    assert X.loc["a", "log_train_size"] == Y.loc["a", "log_train_size"] == pytest.approx(3.0)
    assert X.loc["a", "val_above_chance"] == pytest.approx(Y.loc["a", "val_above_chance"])


def test_missing_context_is_never_evidence():
    """The shipped model: no run table, a table without context, and a table of blanks give the same calls."""
    curves = pd.concat([_curve(f"r{i}", 12, rate=1 + i, gap=0.03 * i) for i in range(6)])
    bare = tdx.diagnose(curves)
    no_context = pd.DataFrame({"run_id": [f"r{i}" for i in range(6)], "lr": 0.01, "optimizer": "adam"})
    blanks = no_context.assign(epochs=np.nan, n_train=np.nan, batch_size=np.nan, n_classes=np.nan)
    for table in (no_context, blanks):
        pd.testing.assert_frame_equal(tdx.diagnose(curves, runs=table), bare)
    # context the curves already carry, repeated by the table, adds nothing either
    carried = curves.assign(max_epochs=40)
    table = no_context.assign(epochs=40)
    pd.testing.assert_frame_equal(tdx.diagnose(carried, runs=table), tdx.diagnose(carried))
    assert bare["p_final_underfitting"].notna().all()  # judged without context, not refused


def test_a_curve_unlike_the_corpus_is_not_judged_with_the_reason():
    odd = _curve("odd", 8, 2.0)
    odd["train_loss"] = odd["train_loss"] * np.geomspace(
        1, 1e4, 8
    )  # loss grows 10,000-fold while accuracy rises
    out = tdx.diagnose(odd)
    learned = [c for c in out.columns if c.startswith("p_final_") or c.startswith("p_cause_")]
    assert out.loc["odd", learned].isna().all()
    assert "outside the corpus range" in out.loc["odd", "not_judged"]
    assert out.loc["odd", ["p_underfitting", "p_overfitting"]].notna().all()  # the rules still apply


def test_rule_labels_now_are_the_rules():
    c = pd.DataFrame({"run_id": ["a", "b"], "epoch": [1, 1], "train_acc": [0.6, 0.99], "val_acc": [0.59, 0.8],
                      "test_acc": [0.58, 0.6], "n_val": [1000, 1000], "n_test": [1000, 1000]})  # fmt: skip
    out = tdx.diagnose(c)
    truth = tdx.curves.rule_labels(c)
    for label in ("underfitting", "overfitting", "dataset_shift"):
        assert out[label].astype(int).tolist() == truth[label].tolist()
    assert "train_acc=0.6 < 0.7" in out.loc["a", "drivers"]


def _tiny_set(seed: int = 0):
    rng = np.random.default_rng(seed)
    curves, rows = [], []
    for i in range(160):
        over = i % 2
        curves.append(_curve(f"r{i}", 10, rate=rng.uniform(1, 6), gap=0.3 * over + rng.uniform(0, 0.05)))
        rows.append((f"r{i}", f"task{i % 8}", over, rng.integers(0, 2)))
    curves = pd.concat(curves).assign(max_epochs=10)
    info = pd.DataFrame(rows, columns=["run_id", "task", "cause_noise_free", "cause_coin"])
    X = features_at_fraction(curves, pd.Series(10, index=info["run_id"]), 0.3)
    final = tdx.curves.future_labels(curves).loc[X.index]
    y = pd.concat([final, info.set_index("run_id")[["cause_noise_free", "cause_coin"]].loc[X.index]], axis=1)
    return X.reset_index(drop=True), y.reset_index(drop=True).astype(float), info["task"].to_numpy(), curves


def test_fit_names_only_causes_the_curves_show_and_round_trips_as_data(tmp_path):
    X, y, groups, curves = _tiny_set()
    diag = fit_task_free(X, y, groups, max_iter=20)
    assert "cause_noise_free" in diag.labels_  # overfitting runs: visible in the curve
    assert "cause_coin" not in diag.labels_ and "do not show it" in diag.left_out_["cause_coin"]
    for label in ("final_underfitting", "final_overfitting"):
        rep = diag.fit_report_[label]
        assert rep["oof_f1"] >= rep["persistence_f1"]  # the band rule includes persistence itself
    save_task_free(diag, tmp_path / "m", meta={"note": "test"})
    loaded, meta = load_task_free(tmp_path / "m")
    assert meta == {"note": "test"} and loaded.labels_ == diag.labels_
    a = diag.predict_proba_frame(X=X)
    b = loaded.predict_proba_frame(X=X)
    assert np.allclose(a.to_numpy(), b.to_numpy(), atol=1e-12)
    pd.testing.assert_frame_equal(tdx.diagnose(curves, model=diag), tdx.diagnose(curves, model=loaded))
    # a cause left out is said to be not judged, with the reason, rather than silently missing
    assert "do not show it" in tdx.diagnose(curves, model=loaded).attrs["causes_not_judged"]["coin"]


def test_a_forecast_no_better_than_persistence_is_persistence():
    X, y, groups, _ = _tiny_set()
    y = y[["final_overfitting"]].copy()
    y["final_overfitting"] = X["now_overfitting"].to_numpy()  # the label never changes after the prefix
    diag = fit_task_free(X, y, groups, max_iter=20)
    calls = diag.calls(X, diag.predict_proba_frame(X=X))
    assert (calls["final_overfitting"].to_numpy() == (X["now_overfitting"] == 1).to_numpy()).all()


def test_a_cause_that_holds_on_the_pool_but_not_on_one_group_of_tasks_is_left_out():
    X, y, groups, _ = _tiny_set()
    # the cause shows as overfitting, except on half of task1's overfitting runs: in the inner fold that holds
    # task1 out, precision falls to about 0.75 while the pool of held-out tasks keeps about 0.88
    y["cause_mostly"] = y["cause_noise_free"]
    y.loc[np.flatnonzero(groups == "task1")[::2], "cause_mostly"] = 0.0
    loose = fit_task_free(X, y, groups, max_iter=20, fold_precision=0.0)
    assert "cause_mostly" in loose.labels_  # the pooled precision alone would name it
    diag = fit_task_free(X, y, groups, max_iter=20)
    assert "cause_mostly" not in diag.labels_ and "every group" in diag.left_out_["cause_mostly"]
    assert "cause_noise_free" in diag.labels_  # a cause that holds on every group is still named
