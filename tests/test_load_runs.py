"""tdx.load_runs on a DuckDB run store, its Parquet export, corpus files, and on bad paths."""

from __future__ import annotations

import pandas as pd
import pytest

import traindx as tdx
from traindx.errors import InputError
from traindx.store import RunStore


def _epochs(n: int, start: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "epoch": range(1, n + 1),
            "train_acc": [start + 0.1 * i for i in range(n)],
            "val_acc": [start + 0.05 * i for i in range(n)],
            "train_loss": [1.0 - 0.1 * i for i in range(n)],
            "n_train": 500,
        }
    )


@pytest.fixture
def store(tmp_path) -> RunStore:
    store = RunStore(tmp_path / "runs.duckdb")
    store.write_run(
        {"run_id": "r1", "status": "finished", "config": {"model": "mlp", "lr": 0.01, "data": {"n": 500}}},
        _epochs(3, 0.3),
    )
    store.write_run(
        {"run_id": "r2", "status": "finished", "config": {"model": "cnn", "lr": 0.1}}, _epochs(2, 0.5)
    )
    store.write_run({"run_id": "r3", "status": "failed", "error": "boom", "config": {"model": "cnn"}}, None)
    return store


def _check(runs: pd.DataFrame, curves: pd.DataFrame) -> None:
    assert sorted(runs["run_id"]) == ["r1", "r2", "r3"]
    by_id = runs.set_index("run_id")
    assert (
        by_id.loc["r1", "model"] == "mlp"
        and by_id.loc["r2", "lr"] == 0.1
        and by_id.loc["r1", "data.n"] == 500
    )
    assert by_id.loc["r3", "status"] == "failed"
    assert curves["run_id"].tolist() == ["r1"] * 3 + ["r2"] * 2
    assert curves["epoch"].tolist() == [1, 2, 3, 1, 2]
    assert curves["train_acc"].tolist() == pytest.approx([0.3, 0.4, 0.5, 0.5, 0.6])
    assert curves["n_train"].tolist() == [500] * 5
    assert "test_acc" not in curves.columns  # never logged, so dropped


def test_duckdb_store(store):
    runs, curves = tdx.load_runs(store.path)
    _check(runs, curves)
    expected = store.curves().dropna(axis=1, how="all")
    pd.testing.assert_frame_equal(curves, expected, check_dtype=False)


def test_duckdb_store_found_by_header_not_suffix(store, tmp_path):
    renamed = tmp_path / "store.bin"
    store.path.rename(renamed)
    _check(*tdx.load_runs(renamed))


def test_parquet_export_folder(store, tmp_path):
    folder = store.export_parquet(tmp_path / "export")
    _check(*tdx.load_runs(folder))
    _check(*tdx.load_runs(str(folder)))


def test_corpus_files_and_tidy_parquet(store, tmp_path):
    runs_path, epochs_path = store.export_corpus(tmp_path / "corpus", "mnist")
    runs, curves = tdx.load_runs(epochs_path)
    assert sorted(runs["run_id"]) == ["r1", "r2"] and runs.set_index("run_id").loc["r2", "model"] == "cnn"
    assert len(curves) == 5
    runs_f, curves_f = tdx.load_runs(tmp_path / "corpus")  # the folder finds the same pair
    assert sorted(runs_f["run_id"]) == ["r1", "r2"] and len(curves_f) == 5
    with pytest.raises(InputError, match="no 'epoch' column.*load mnist_epochs.parquet"):
        tdx.load_runs(runs_path)
    tidy = tmp_path / "tidy.parquet"
    store.curves().to_parquet(tidy)
    runs_t, curves_t = tdx.load_runs(tidy)
    assert runs_t["run_id"].tolist() == ["r1", "r2"] and len(curves_t) == 5


def test_percent_accuracies_detected_forced_or_refused(tmp_path):
    path = tmp_path / "pct.csv"
    pd.DataFrame({"run_id": "a", "epoch": [1, 2], "val_acc": [55.0, 70.0], "train_acc": [0.5, 0.9]}).to_csv(
        path, index=False
    )
    _, curves = tdx.load_runs(path)
    assert curves["val_acc"].tolist() == pytest.approx([0.55, 0.7])
    assert curves["train_acc"].tolist() == pytest.approx([0.5, 0.9])  # already fractions: left alone
    assert curves.attrs["notices"] == ["accuracies read as percent and divided by 100: val_acc (largest 70)"]
    forced = tdx.load_runs(path, percent=True)[1]
    assert forced["train_acc"].tolist() == pytest.approx([0.005, 0.009]) and forced.attrs["notices"] == []
    with pytest.raises(InputError, match="looks like percent"):
        tdx.load_runs(path, percent=False)


def test_bad_sources(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        tdx.load_runs(tmp_path / "missing.csv")
    sqlite = tmp_path / "mlflow.db"
    import sqlite3

    sqlite3.connect(sqlite).execute("CREATE TABLE t (x INTEGER)").connection.commit()
    with pytest.raises(InputError, match="an SQLite file but not an MLflow tracking store"):
        tdx.load_runs(sqlite)
    import duckdb

    with duckdb.connect(str(tmp_path / "other.duckdb")) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    with pytest.raises(InputError, match=r"not a traindx run store \(tables found: \['t'\]"):
        tdx.load_runs(tmp_path / "other.duckdb")
    (tmp_path / "notes.bin").write_bytes(b"\x00\x01binary")
    with pytest.raises(InputError, match="cannot tell what .*notes.bin holds"):
        tdx.load_runs(tmp_path / "notes.bin")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="a folder holding no runs any reader knows"):
        tdx.load_runs(tmp_path / "empty")
    with pytest.raises(InputError, match="cannot load runs from a list"):
        tdx.load_runs([1, 2])


def test_store_with_no_curves(tmp_path):
    store = RunStore(tmp_path / "failed.duckdb")
    store.write_run({"run_id": "x", "status": "failed", "error": "oom"}, None)
    with pytest.raises(InputError, match="no curve rows"):
        tdx.load_runs(store.path)
