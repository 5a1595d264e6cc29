"""Causal featurization: values, causality, vectorisation over runs of different lengths, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import traindx as tdx
from traindx.curves import STUDY_FEATURES, featurize, featurize_checkpoints
from traindx.errors import InputError


def _curves(n_runs: int = 5, epochs: int = 10, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_runs):
        for e in range(1, epochs + 1 - (i % 3)):  # lengths differ across runs
            t = 1 - 0.5 * np.exp(-0.3 * e) + rng.normal(0, 0.01)
            v = t - 0.01 * e * (i % 2) + rng.normal(0, 0.01)
            rows.append((f"r{i}", e, t, v, v - 0.02, 1 - t, 1 - v, 1 - v + 0.02, 5000, 1000, 1000))
    cols = ["run_id", "epoch", "train_acc", "val_acc", "test_acc", "train_loss", "val_loss", "test_loss"]
    return pd.DataFrame(rows, columns=cols + ["n_train", "n_val", "n_test"])


def test_study_features_by_hand():
    c = pd.DataFrame(
        {"run_id": "a", "epoch": [1, 2, 3, 4, 5], "train_acc": [0.5, 0.6, 0.7, 0.8, 0.9],
         "val_acc": [0.4, 0.5, 0.6, 0.6, 0.7], "test_acc": [0.4, 0.5, 0.55, 0.6, 0.65]}
    )  # fmt: skip
    X = featurize(c, feature_set="study")
    assert list(X.columns) == list(STUDY_FEATURES)
    row = X.loc["a"]
    assert row["train_acc"] == 0.9 and row["val_acc"] == 0.7 and row["test_acc"] == 0.65
    assert row["gap"] == pytest.approx(0.2)
    assert row["epoch"] == 5
    assert row["val_start"] == 0.4 and row["val_mid"] == 0.6 and row["val_end"] == 0.7
    assert row["val_growth"] == pytest.approx(0.3)
    assert row["val_std"] == pytest.approx(np.std([0.4, 0.5, 0.6, 0.6, 0.7]))


def test_shape_features_by_hand():
    c = pd.DataFrame(
        {"run_id": "a", "epoch": range(1, 7), "train_acc": [0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
         "val_acc": [0.5, 0.6, 0.7, 0.75, 0.72, 0.70], "val_loss": [1.0, 0.8, 0.6, 0.5, 0.55, 0.7]}
    )  # fmt: skip
    row = featurize(c).loc["a"]
    assert row["train_slope5"] == pytest.approx(0.1)  # linear curve: slope is its step
    assert row["train_curv5"] == pytest.approx(0.0, abs=1e-12)
    assert row["val_best"] == 0.75 and row["val_epochs_since_best"] == 2
    assert row["val_drop_from_best"] == pytest.approx(0.05)
    assert row["val_loss_min"] == 0.5 and row["val_loss_epochs_since_min"] == 2
    assert row["val_loss_rise"] == pytest.approx(0.2)
    assert row["gap_slope5"] > 0  # train and val diverge
    assert np.isnan(row["train_loss"]) and np.isnan(row["test_acc"])  # metrics not logged stay NaN


def test_featurize_is_causal():
    c = _curves()
    X5 = featurize(c, at_epoch=5)
    later = c.copy()
    later.loc[later["epoch"] > 5, ["train_acc", "val_acc", "test_acc", "val_loss"]] = 0.0
    pd.testing.assert_frame_equal(X5, featurize(later, at_epoch=5))
    pd.testing.assert_frame_equal(X5, featurize(c[c["epoch"] <= 5]))


def test_runs_of_different_lengths_use_their_own_last_epoch():
    c = _curves(n_runs=3, epochs=10)
    X = featurize(c)
    assert X["epoch"].tolist() == [10, 9, 8]
    for run_id, g in c.groupby("run_id"):
        assert X.loc[run_id, "val_acc"] == g.sort_values("epoch")["val_acc"].iloc[-1]
    assert X.loc["r2", "val_acc"] == featurize(c[c["run_id"] == "r2"]).loc["r2", "val_acc"]


def test_val_test_z_uses_set_sizes():
    c = _curves(n_runs=2)
    X = featurize(c)
    p, q, n = X["val_acc"], X["test_acc"], 1000
    expected = (p - q) / np.sqrt(p * (1 - p) / n + q * (1 - q) / n)
    np.testing.assert_allclose(X["val_test_z"], expected)
    assert featurize(c.drop(columns=["n_val", "n_test"]))["val_test_z"].isna().all()


def test_checkpoints_stack_prefixes():
    c = _curves(n_runs=3, epochs=10)
    X = featurize_checkpoints(c, [1, 5, 9])
    assert X.index.names == ["run_id", "checkpoint"]
    assert ("r2", 9) not in X.index and ("r1", 9) in X.index  # r2 has 8 epochs
    pd.testing.assert_series_equal(
        X.xs(5, level="checkpoint")["val_acc"], featurize(c, at_epoch=5)["val_acc"], check_names=False
    )


def test_public_name():
    assert tdx.curves.featurize is featurize


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (pd.DataFrame({"epoch": [1], "val_acc": [0.5]}), "run_id"),
        (pd.DataFrame({"run_id": ["a"], "epoch": [1]}), "no metric column"),
        ([1, 2, 3], "pandas DataFrame"),
    ],
)
def test_bad_input_names_problem(bad, fragment):
    with pytest.raises(InputError, match=fragment):
        featurize(bad)


def test_bad_epoch_argument():
    c = _curves(n_runs=1)
    with pytest.raises(InputError, match="at_epoch"):
        featurize(c, at_epoch=0)
    with pytest.raises(InputError, match="feature_set"):
        featurize(c, feature_set="everything")


def test_run_context_features_from_the_run_table():
    c = pd.DataFrame({"run_id": ["a", "a", "b"], "epoch": [1, 2, 1], "val_acc": [0.5, 0.6, 0.4]})
    X = featurize(c)
    assert X[["log_train_size", "log_steps_per_epoch", "max_epochs"]].isna().all().all()
    runs = pd.DataFrame(
        {"run_id": ["a", "b"], "n_train": [1000, 0], "batch_size": [64, 32], "epochs": [20, 5]}
    )
    X = featurize(tdx.curves.add_context(c, runs))
    assert X.loc["a", "log_train_size"] == pytest.approx(3.0)
    assert X.loc["a", "log_steps_per_epoch"] == pytest.approx(np.log10(16))  # ceil(1000 / 64)
    assert X.loc["a", "max_epochs"] == 20
    # a train size of 0 is no size: unknown, not log(0)
    assert np.isnan(X.loc["b", "log_train_size"]) and X.loc["b", "max_epochs"] == 5
    # a context column the curves already carry wins over the run table
    own = c.assign(max_epochs=30)
    assert (featurize(tdx.curves.add_context(own, runs))["max_epochs"] == 30).all()


def test_bad_run_context_names_the_column():
    c = pd.DataFrame({"run_id": ["a"], "epoch": [1], "val_acc": [0.5], "batch_size": [-4]})
    with pytest.raises(InputError, match="run-context column 'batch_size'"):
        featurize(c)
