"""The DuckDB run store: one transaction per run, replacement without duplicates, Parquet round trip."""

from __future__ import annotations

import pandas as pd
import pytest

from traindx.errors import InputError
from traindx.store import RunStore


def _epochs(n=3, **extra):
    df = pd.DataFrame(
        {
            "epoch": range(1, n + 1),
            "train_acc": [0.5 + 0.1 * i for i in range(n)],
            "val_acc": [0.4 + 0.1 * i for i in range(n)],
            "test_acc": [0.3 + 0.1 * i for i in range(n)],
            "train_loss": [1.0 / (i + 1) for i in range(n)],
            "n_train": 100,
            "n_val": 50,
            "n_test": 50,
        }
    )
    return df.assign(**extra)


def _run(rid, status="finished", **cfg):
    return {
        "run_id": rid,
        "status": status,
        "error": None if status == "finished" else "ValueError: boom",
        "config": {"dataset": "mnist", "model": "logreg", "n_train": 100, "seed": 0, **cfg},
        "train_seconds": 1.5,
        "eval_seconds": 0.5,
        "wall_seconds": 2.5,
        "created_at": "2025-01-01T00:00:00+00:00",
    }


def test_write_read_and_flatten(tmp_path):
    store = RunStore(tmp_path / "s.duckdb")
    store.write_run(_run("a", seed=1), _epochs())
    store.write_run(_run("b", status="failed"), None)
    runs = store.runs()
    assert set(runs["run_id"]) == {"a", "b"}
    assert {"status", "error", "train_seconds", "dataset", "model", "n_train", "seed"} <= set(runs.columns)
    assert runs.set_index("run_id").loc["a", "seed"] == 1
    assert store.finished_ids() == {"a"}
    curves = store.curves()
    assert curves["epoch"].tolist() == [1, 2, 3] and curves["n_train"].dtype == "int64"
    assert (curves["run_id"] == "a").all()


def test_rewrite_replaces_without_duplicates(tmp_path):
    store = RunStore(tmp_path / "s.duckdb")
    store.write_run(_run("a", status="failed"), None)
    store.write_run(_run("a"), _epochs(5))
    store.write_run(_run("a"), _epochs(4))
    assert len(store.runs()) == 1 and len(store.curves()) == 4
    assert store.finished_ids() == {"a"}


def test_extra_columns_and_signals(tmp_path):
    store = RunStore(tmp_path / "s.duckdb")
    sig = pd.DataFrame(
        {
            "step": [10, 20],
            "epoch": [1, 1],
            "name": ["grad_norm"] * 2,
            "layer": ["0"] * 2,
            "value": [0.1, 0.2],
        }
    )
    store.write_run(_run("a"), _epochs(epoch_seconds=0.2), sig)
    store.write_run(_run("b"), _epochs())
    curves = store.curves()
    assert "epoch_seconds" in curves and curves.loc[curves.run_id == "b", "epoch_seconds"].isna().all()
    assert store.signals()["value"].tolist() == [0.1, 0.2]


def test_write_is_all_or_nothing(tmp_path):
    store = RunStore(tmp_path / "s.duckdb")
    store.write_run(_run("a"), _epochs())
    bad = _epochs().assign(epoch=["x", "y", "z"])  # epoch must be an integer: the insert fails
    with pytest.raises(Exception):  # noqa: B017 - DuckDB's conversion error type
        store.write_run(_run("a", seed=7), bad)
    assert store.runs()["seed"].tolist() == [0] and len(store.curves()) == 3  # the old run survives intact


def test_bad_input(tmp_path):
    store = RunStore(tmp_path / "s.duckdb")
    with pytest.raises(InputError, match="run_id"):
        store.write_run({"status": "finished"}, None)
    with pytest.raises(InputError, match="status"):
        store.write_run({"run_id": "x", "status": "running"}, None)
    with pytest.raises(InputError, match="epoch"):
        store.write_run(_run("x"), pd.DataFrame({"val_acc": [0.1]}))
    with pytest.raises(InputError, match="folder"):
        RunStore(tmp_path)


def test_parquet_round_trip(tmp_path):
    store = RunStore(tmp_path / "s.duckdb")
    store.write_run(_run("a"), _epochs(epoch_seconds=0.1))
    store.write_run(_run("b", model="mlp_small"), _epochs(2))
    folder = store.export_parquet(tmp_path / "pq")
    assert {p.name for p in folder.iterdir()} == {"runs.parquet", "epochs.parquet", "signals.parquet"}
    back = RunStore.import_parquet(folder, tmp_path / "back.duckdb")
    pd.testing.assert_frame_equal(back.runs(), store.runs())
    pd.testing.assert_frame_equal(back.curves(), store.curves())
    RunStore.import_parquet(folder, tmp_path / "back.duckdb")  # importing twice replaces, no duplicates
    assert len(back.runs()) == 2 and len(back.curves()) == 5


def test_export_corpus_is_flat(tmp_path):
    store = RunStore(tmp_path / "s.duckdb")
    store.write_run(_run("a"), _epochs())
    store.write_run(_run("b", status="failed"), None)
    runs_path, epochs_path = store.export_corpus(tmp_path / "c", "demo")
    runs = pd.read_parquet(runs_path)
    assert runs["run_id"].tolist() == ["a"] and "model" in runs and "config" not in runs
    assert len(pd.read_parquet(epochs_path)) == 3
