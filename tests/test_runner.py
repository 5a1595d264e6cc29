"""The runner: one real training per config, deterministic, every epoch evaluated, failures recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traindx.errors import InputError
from traindx.experiments.runner import canonical_config, prepare_data, run_experiment, run_id

TINY = {
    "dataset": "digits",
    "model": "mlp_small",
    "n_train": 300,
    "val_size": 100,
    "epochs": 4,
    "eval_subset": 200,
    "lr": 1e-2,
}
CURVE_COLS = ["epoch", "train_acc", "val_acc", "test_acc", "train_loss", "val_loss", "test_loss"]


def test_run_records_every_epoch_and_learns():
    out = run_experiment(TINY)
    run, ep = out["run"], out["epochs"]
    assert run["status"] == "finished" and run["error"] is None
    assert ep["epoch"].tolist() == [1, 2, 3, 4] and (ep["run_id"] == run["run_id"]).all()
    assert ep[CURVE_COLS].notna().all().all()
    assert ep["train_acc"].iloc[-1] > ep["train_acc"].iloc[0] and ep["val_acc"].iloc[-1] > 0.5
    assert ep["n_train"].iloc[0] == 200 and ep["n_val"].iloc[0] == 100 and ep["n_test"].iloc[0] == 200
    cfg = run["config"]
    assert cfg["n_params"] > 0 and cfg["eval_stratified"] and cfg["test_balanced"]
    assert run["train_seconds"] > 0 and run["wall_seconds"] >= run["train_seconds"]


def test_deterministic_from_config_and_seed():
    a, b = run_experiment(TINY)["epochs"], run_experiment(TINY)["epochs"]
    pd.testing.assert_frame_equal(a[CURVE_COLS], b[CURVE_COLS])
    c = run_experiment({**TINY, "seed": 1})["epochs"]
    assert not np.allclose(a["train_loss"], c["train_loss"])


def test_run_id_is_stable_and_canonical():
    assert run_id(TINY) == run_id({**TINY, "seed": 0, "shift": "none", "part": "other"})
    assert run_id(TINY) != run_id({**TINY, "seed": 1})
    assert len(run_id(TINY)) == 12
    assert canonical_config({"model": "cnn_small", "shift": "blur"})["shift_strength"] == 1.0


def test_bad_configs():
    with pytest.raises(InputError, match="optimizer"):
        canonical_config({"optimizer": "lion"})
    out = run_experiment({**TINY, "lr": -1.0})  # torch rejects it inside the run: recorded, not raised
    assert out["run"]["status"] == "failed" and "learning rate" in out["run"]["error"]
    assert out["epochs"] is None


def test_conditions_applied_to_train_val_but_not_test_balance():
    cfg = canonical_config({**TINY, "n_train": 600, "val_size": 200, "imbalance": 0.1, "shift": "invert"})
    data = prepare_data(cfg)
    counts = np.bincount(data["y_train"], minlength=10)
    assert counts.min() * 5 < counts.max()  # minority classes are rare in train
    val_counts = np.bincount(data["y_val"], minlength=10)
    assert np.corrcoef(counts, val_counts)[0, 1] > 0.9  # val: same distribution as train
    test_counts = np.bincount(data["y_test"], minlength=10)
    assert test_counts.max() - test_counts.min() <= 2  # test: balanced
    assert data["x_test"].mean() > 0.5  # inverted digits are mostly bright
    assert data["x_val"].mean() < 0.5  # no shift on validation
    assert len(data["y_train"]) == 600 and len(data["y_val"]) == 200


def test_label_noise_only_on_train_and_val():
    clean = prepare_data(canonical_config(TINY))
    noisy = prepare_data(canonical_config({**TINY, "label_noise": 0.8}))
    assert (clean["x_train"] == noisy["x_train"]).all()
    assert (clean["y_train"] != noisy["y_train"]).mean() > 0.5
    assert (clean["y_test"] == noisy["y_test"]).all()


def test_balanced_validation_set_for_an_imbalanced_run():
    cfg = canonical_config({**TINY, "imbalance": 0.1, "val_balanced": True})
    t = prepare_data(cfg)
    train_counts = np.bincount(t["y_train"], minlength=10)
    assert train_counts.max() >= 5 * train_counts.min()  # training stays imbalanced
    assert np.bincount(t["y_val"], minlength=10).tolist() == [10] * 10  # validation is balanced
    assert len(t["y_train"]) == TINY["n_train"]
    # validation examples are not training examples
    x_tr = {x.tobytes() for x in t["x_train"]}
    assert not any(x.tobytes() in x_tr for x in t["x_val"])
    # the key only matters for imbalanced runs: a balanced run keeps its id (and its data) with it
    assert run_id({**TINY, "val_balanced": True}) == run_id(TINY)
    assert run_id({**TINY, "imbalance": 0.1, "val_balanced": True}) != run_id({**TINY, "imbalance": 0.1})
    with pytest.raises(InputError, match="val_balanced"):
        canonical_config({**TINY, "val_balanced": "yes"})


def test_validation_follows_the_test_split_on_a_naturally_imbalanced_task():
    # blood_transfusion's test split is about 76/24: an imbalanced run validates on that mix, not on 50/50,
    # so validation and test differ in class priors only where the test set is shifted
    cfg = canonical_config({**TINY, "dataset": "blood_transfusion", "model": "mlp", "n_train": 300,
                            "val_size": 100, "imbalance": 0.1, "val_balanced": True, "cap_to_task": True})  # fmt: skip
    t = prepare_data(cfg)
    test_share = np.bincount(t["y_test"], minlength=2) / len(t["y_test"])
    val_share = np.bincount(t["y_val"], minlength=2) / len(t["y_val"])
    assert abs(test_share[0] - 0.5) > 0.2 and np.abs(val_share - test_share).max() < 0.02
    train_share = np.bincount(t["y_train"], minlength=2) / len(t["y_train"])
    assert np.abs(train_share - test_share).max() > 0.1  # training keeps the applied imbalance
