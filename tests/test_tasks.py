"""Task layer: every registered source loads into a valid Task, meta-features come from the data (cached),
user tables become tasks, and bad input gets an error naming the fix."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import traindx as tdx
from traindx.errors import InputError
from traindx.experiments import tasks
from traindx.experiments.conditions import apply_shift, check_shift
from traindx.experiments.runner import canonical_config, run_experiment
from traindx.experiments.vocabulary import MODALITIES, SHIFTS_BY_MODALITY

needs_data = pytest.mark.skipif(
    not tasks.data_dir(required=False).is_dir(),
    reason="the task suite is not beside the checkout: set TRAINDX_DATA_DIR to the shared data folder",
)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINDX_CACHE_DIR", str(tmp_path / "cache"))


@needs_data
def test_suite_has_40_tasks_over_4_modalities():
    names = tdx.tasks.list()
    assert len(names) >= 40
    assert {tasks.info(n).modality for n in names} == set(MODALITIES)
    assert len(names) == len(set(names))


# one small task per source, so the contract holds for each loader
_ONE_PER_SOURCE = ["moons", "digits", "blood_transfusion", "iris", "GunPoint", "BasicMotions", "names", "qc"]


@needs_data
@pytest.mark.parametrize("name", _ONE_PER_SOURCE)
def test_each_source_loads_a_valid_task(name):
    t = tasks.load(name)
    assert t.modality == tasks.info(name).modality
    assert len(t.x_train) == len(t.y_train) > 0 and len(t.x_test) == len(t.y_test) > 0
    assert t.y_train.dtype == np.int64 and t.y_train.min() >= 0 and t.y_train.max() < t.n_classes
    assert t.x_test.shape[1:] == t.input_shape
    if t.modality == "text":
        assert t.x_train.dtype == np.int64 and t.x_train.min() >= 0 and t.x_train.max() < t.vocab_size
    else:
        assert t.x_train.dtype == np.float32 and np.isfinite(t.x_train).all()


def test_meta_features_from_data_and_cached(tmp_path):
    t = tasks.load("moons")
    mf = tasks.meta_features(t)
    assert set(mf) == set(tasks.FEATURES)
    assert mf["n_train"] == len(t.y_train) and mf["n_classes"] == 2 and mf["n_features"] == 2
    assert mf["majority_rate"] == pytest.approx(0.5, abs=0.01) and mf["class_entropy"] > 0.99
    assert mf["lm_1nn"] > mf["lm_stump"] - 0.2 and 0.5 < mf["lm_logreg"] <= 1.0
    cached = list((tmp_path / "cache" / "meta").glob("moons-*.json"))
    assert len(cached) == 1 and json.loads(cached[0].read_text()) == mf


def test_imbalanced_table_meta_features_and_user_csv_runs(tmp_path):
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(270, int), np.ones(30, int)]
    df = pd.DataFrame({"a": rng.normal(size=300) + y, "kind": rng.choice(["x", "y"], 300), "label": y})
    path = tmp_path / "mine.csv"
    df.to_csv(path, index=False)
    t = tasks.load(str(path), target="label")
    assert t.modality == "tabular" and t.input_shape == (3,)  # a, one-hot of kind
    mf = tasks.meta_features(t)
    assert mf["imbalance_ratio"] == pytest.approx(30 / 270, abs=0.02) and mf["majority_rate"] > 0.85
    out = run_experiment({"dataset": str(path), "target": "label", "model": "mlp", "epochs": 2, "n_train": 150,
                          "val_size": 50})  # fmt: skip
    assert out["run"]["status"] == "finished", out["run"]["error"]
    assert out["run"]["config"]["modality"] == "tabular" and len(out["epochs"]) == 2


def test_bad_input_errors_name_the_fix(tmp_path, monkeypatch):
    df = pd.DataFrame({"a": [1, 2, 3, 4], "labl": [0, 1, 0, 1]})
    with pytest.raises(InputError, match=r"no target column 'label'.*did you mean 'labl'"):
        tasks.load(df, target="label")
    with pytest.raises(InputError, match="single class"):
        tasks.load(pd.DataFrame({"a": [1, 2, 3], "target": [1, 1, 1]}))
    with pytest.raises(InputError, match=r"unknown task 'mnits'.*did you mean 'mnist'"):
        tasks.load("mnits")
    with pytest.raises(InputError, match="does not apply to tabular"):
        canonical_config({"dataset": "moons", "model": "mlp", "shift": "rotate"})
    with pytest.raises(InputError, match="does not suit tabular"):
        canonical_config({"dataset": "moons", "model": "cnn"})
    monkeypatch.setenv("TRAINDX_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setattr(tasks.base, "_REPO_ROOT", tmp_path / "a" / "b")
    monkeypatch.setattr(tasks.base.Path, "home", lambda: tmp_path)
    with pytest.raises(InputError, match="data dir not found.*TRAINDX_DATA_DIR"):
        tasks.data_dir()


@pytest.mark.parametrize("modality", MODALITIES)
def test_every_shift_of_a_modality_applies(modality):
    rng = np.random.default_rng(0)
    x = {
        "tabular": rng.normal(size=(40, 6)).astype(np.float32),
        "image": rng.random((40, 1, 8, 8)).astype(np.float32),
        "text": rng.integers(0, 30, size=(40, 10)),
        "timeseries": rng.normal(size=(40, 2, 30)).astype(np.float32),
    }[modality]
    for kind in SHIFTS_BY_MODALITY[modality]:
        out = apply_shift(x, kind, None, 0, modality=modality, bounded=modality == "image", vocab_size=30)
        if kind == "subpopulation":
            out, rows = out
            assert len(rows) == 20
        assert out.shape[1:] == x.shape[1:] and out.dtype == x.dtype
        assert (kind == "none") == np.array_equal(out, x[: len(out)])
    for other in set(SHIFTS_BY_MODALITY["image"]) - set(SHIFTS_BY_MODALITY[modality]):
        with pytest.raises(InputError, match=f"does not apply to {modality}"):
            check_shift(other, modality)


def test_old_dataset_names_keep_their_run_ids():
    # the shipped corpora's configs: ids must not move when new optional keys appear
    from traindx.experiments.runner import run_id

    cfg = {"dataset": "mnist", "model": "mlp_small", "seed": 0}
    assert run_id(cfg) == run_id({**cfg, "dropout": 0.0, "schedule": "constant", "signals": False})
    assert run_id(cfg) != run_id({**cfg, "dropout": 0.1})
    assert canonical_config({"task": "digits"})["dataset"] == "digits"


@needs_data
def test_cli_lists_tasks_with_meta_features(tmp_path):
    from typer.testing import CliRunner

    from traindx.cli import app

    out = tmp_path / "tasks.csv"
    res = CliRunner().invoke(app, ["tasks", "--modality", "timeseries", "--csv", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert "GunPoint" in set(df["task"]) and (df["modality"] == "timeseries").all()
    assert df[["n_train", "lm_1nn", "lm_logreg"]].notna().all().all()
    res = CliRunner().invoke(app, ["tasks", "--modality", "audio"])
    assert res.exit_code == 2 and "unknown modality" in res.output


def test_run_config_keys_train_fraction_schedule_signals():
    base = {"dataset": "moons", "model": "mlp", "epochs": 4, "n_train": 400, "val_size": 100, "lr": 0.01}
    out = run_experiment({**base, "train_fraction": 0.25, "schedule": "step", "signals": True, "norm": "batch",
                          "optimizer": "sgd", "momentum": 0.9, "capacity": "small"})  # fmt: skip
    run = out["run"]
    assert run["status"] == "finished", run["error"]
    assert run["config"]["n_train_used"] == 100 and run["config"]["width"] == 16
    sig = out["signals"]
    assert set(sig["name"]) == {"grad_norm", "weight_norm", "update_norm", "update_ratio", "loss"}
    assert sorted(sig["epoch"].unique()) == [1, 2, 3, 4] and (sig["value"] >= 0).all()
    # the step schedule cuts the rate at 50% and 75% of the epochs: updates shrink
    ratio = sig[sig["name"] == "update_ratio"].sort_values("epoch")["value"].to_numpy()
    assert ratio[-1] < ratio[0]


def test_cap_to_task_fits_sizes_to_a_small_task():
    cfg = {"dataset": "moons", "model": "logreg", "epochs": 1, "n_train": 5000, "val_size": 1000}
    assert run_experiment(cfg)["run"]["status"] == "failed"  # without the cap, too few examples is an error
    out = run_experiment({**cfg, "cap_to_task": True})
    assert out["run"]["status"] == "finished", out["run"]["error"]
    last = out["epochs"].iloc[-1]
    assert out["run"]["config"]["n_train_used"] == 2250 - 562 and last["n_val"] == 562


def test_network_names_need_their_extra(monkeypatch):
    import sys

    from traindx.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "pmlb", None)  # as if not installed: import raises ImportError
    monkeypatch.setitem(sys.modules, "openml", None)
    assert tasks.modality_of("openml:31") == "tabular"
    with pytest.raises(MissingDependencyError, match=r"traindx\[network\]"):
        tasks.load("pmlb:adult")
    with pytest.raises(MissingDependencyError, match=r"traindx\[network\]"):
        tasks.load("openml:31")
    with pytest.raises(InputError, match="names no dataset"):
        tasks.load("openml:")


def test_user_parquet_table_runs_in_a_cli_sweep(tmp_path):
    from typer.testing import CliRunner

    from traindx.cli import app
    from traindx.store import RunStore

    rng = np.random.default_rng(1)
    x = rng.normal(size=(240, 3))
    df = pd.DataFrame(x, columns=["f1", "f2", "f3"]).assign(outcome=(x[:, 0] > 0).astype(int))
    table = tmp_path / "churn.parquet"
    df.to_parquet(table)
    spec = tmp_path / "s.toml"
    spec.write_text(
        f'name = "mine"\n[base]\ndataset = "{table}"\ntarget = "outcome"\nmodel = "mlp"\nepochs = 3\n'
        'n_train = 120\nval_size = 40\nlr = 0.03\n[grid]\nseed = [0, 1]\nshift = ["none", "missing"]\n'
    )
    res = CliRunner().invoke(
        app, ["sweep", str(spec), "--store", str(tmp_path / "r.duckdb"), "--workers", "0"]
    )
    assert res.exit_code == 0, res.output
    runs, curves = RunStore(tmp_path / "r.duckdb").read()
    assert (runs["status"] == "finished").sum() == 4 and curves.groupby("run_id").size().eq(3).all()
    final = curves.sort_values("epoch").groupby("run_id").last()
    assert final["test_acc"].max() > 0.8  # the label is a threshold of f1: an MLP learns it


@needs_data
def test_unequal_length_series_and_next_character_windows():
    jv = tasks.load("JapaneseVowels")  # the _eq files when present, else padded with the last value
    assert jv.input_shape[0] == 12 and jv.n_classes == 9 and np.isfinite(jv.x_train).all()
    sh = tasks.load("tinyshakespeare")
    assert sh.n_classes == 65 and sh.input_shape == (32,) and sh.vocab_size == 67
    # the label is the character after the window: shifting the window by one sees it as its last input
    assert sh.x_train.min() >= 2 and sh.y_train.max() < 65
