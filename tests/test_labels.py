"""Rule, future and cause labels; the shift rule's false-alarm rate on i.i.d. sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import traindx as tdx
from traindx.curves import cause_labels, checkpoint_rule_labels, future_labels, rule_labels
from traindx.errors import InputError


def _one(train, val, test, **sizes) -> pd.DataFrame:
    n = len(train)
    d = {"run_id": ["a"] * n, "epoch": range(1, n + 1), "train_acc": train, "val_acc": val, "test_acc": test}
    return pd.DataFrame({**d, **{k: [v] * n for k, v in sizes.items()}})


def test_study_rules_and_configurable_thresholds():
    c = pd.concat(
        [
            _one([0.6], [0.6], [0.6]).assign(run_id="under"),
            _one([0.99], [0.80], [0.80]).assign(run_id="over"),
            _one([0.95], [0.94], [0.80]).assign(run_id="shift"),
            _one([0.95], [0.93], [0.93]).assign(run_id="ok"),
        ]
    )
    y = rule_labels(c)
    assert y.loc["under"].tolist() == [1, 0, 0]
    assert y.loc["over"].tolist() == [0, 1, 0]
    assert y.loc["shift"].tolist() == [0, 0, 1]
    assert y.loc["ok"].tolist() == [0, 0, 0]
    assert rule_labels(c, underfit_acc=0.97).loc["ok", "underfitting"] == 1
    assert rule_labels(c, overfit_gap=0.25).loc["over", "overfitting"] == 0
    assert tdx.curves.rule_labels is rule_labels


def test_shift_rule_accounts_for_set_size():
    # a 0.06 gap is noise with 100 examples per set (3 SE ~ 0.12) but real with 10,000 (3 SE ~ 0.013)
    small = _one([0.9], [0.86], [0.80], n_val=100, n_test=100)
    large = _one([0.9], [0.86], [0.80], n_val=10_000, n_test=10_000)
    assert rule_labels(small).loc["a", "dataset_shift"] == 0
    assert rule_labels(large).loc["a", "dataset_shift"] == 1
    assert rule_labels(small, shift_z=None).loc["a", "dataset_shift"] == 1
    # sizes may come from the run table instead
    runs = pd.DataFrame({"run_id": ["a"], "n_val": [100], "n_test": [100]})
    assert rule_labels(_one([0.9], [0.86], [0.80]), runs=runs).loc["a", "dataset_shift"] == 0


def test_shift_false_alarms_on_iid_sets_are_rare():
    # val and test drawn from the same distribution: the two-proportion rule must stay quiet, the fixed
    # 0.02 margin (which fires on 17% of LCDB's i.i.d. final points) must not
    rng = np.random.default_rng(0)
    n_runs, p = 2000, rng.uniform(0.6, 0.98, 2000)
    n_val, n_test = rng.integers(100, 2000, n_runs), rng.integers(100, 2000, n_runs)
    val, test = rng.binomial(n_val, p) / n_val, rng.binomial(n_test, p) / n_test
    c = pd.DataFrame({"run_id": [f"r{i}" for i in range(n_runs)], "epoch": 1, "train_acc": 0.99,
                      "val_acc": val, "test_acc": test, "n_val": n_val, "n_test": n_test})  # fmt: skip
    rate = rule_labels(c, shift_delta=0.02)["dataset_shift"].mean()
    fixed = rule_labels(c, shift_delta=0.02, shift_z=None)["dataset_shift"].mean()
    assert rate < 0.005
    assert fixed > 10 * max(rate, 1e-3)


def test_future_and_checkpoint_labels():
    c = _one([0.5, 0.8, 0.99], [0.5, 0.78, 0.80], [0.5, 0.78, 0.80])
    assert future_labels(c).loc["a"].to_dict() == {
        "final_underfitting": 0, "final_overfitting": 1, "final_dataset_shift": 0,
    }  # fmt: skip
    y = checkpoint_rule_labels(c, [1, 2, 3])
    assert y["underfitting"].tolist() == [1, 0, 0]
    assert y["overfitting"].tolist() == [0, 0, 1]
    assert rule_labels(c, at_epoch=2).loc["a", "overfitting"] == 0


def test_cause_labels_from_run_table():
    runs = pd.DataFrame(
        {"run_id": ["a", "b", "c", "d"], "shift": ["none", "noise", "invert", "none"],
         "imbalance": [1.0, 0.1, 1.0, 1.0], "n_train": [60000, 60000, 60000, 500],
         "model": ["cnn_small", "logreg", "mlp_small", "mlp_large"], "optimizer": ["sgd", "adam", "adam", "sgd"],
         "lr": [0.1, 0.5, 1e-3, 1e-4], "label_noise": [0.0, 0.0, 0.3, 0.0]}
    )  # fmt: skip
    y = cause_labels(runs)
    assert list(y.columns) == [
        "shift_invert", "shift_noise", "shift", "imbalance", "small_train", "undersized_model", "bad_lr", "label_noise",
    ]  # fmt: skip
    assert y.loc["a"].sum() == 0
    assert y.loc["b"].to_dict() == {
        "shift_invert": 0, "shift_noise": 1, "shift": 1, "imbalance": 1, "small_train": 0, "undersized_model": 1,
        "bad_lr": 1, "label_noise": 0,
    }  # fmt: skip
    assert y.loc["c", "shift_invert"] == 1 and y.loc["c", "label_noise"] == 1
    assert y.loc["d", "small_train"] == 1 and y.loc["d", "bad_lr"] == 1
    by_width = cause_labels(runs.assign(width=[8, None, 2, 256]))["undersized_model"]
    assert by_width.tolist() == [0, 1, 1, 0]


def test_cause_labels_bad_input():
    with pytest.raises(InputError, match="run table"):
        cause_labels(pd.DataFrame({"x": [1]}))
    with pytest.raises(InputError, match="condition columns"):
        cause_labels(pd.DataFrame({"run_id": ["a"]}))
