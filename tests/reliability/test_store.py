"""The run store as hostile input: injected column names, views, foreign databases, corrupt files, and
readers racing a writer. Every case checks that nothing outside the store was read or written."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from traindx.cli import app
from traindx.errors import InputError
from traindx.store import RunStore, load_runs


def _run(rid: str, **cfg) -> dict:
    return {"run_id": rid, "status": "finished", "config": {"model": "logreg", **cfg}}


def _epochs(**extra) -> pd.DataFrame:
    return pd.DataFrame({"epoch": [1, 2], "val_acc": [0.5, 0.6], "train_acc": [0.6, 0.7], **extra})


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _planting_name(target: Path) -> str:
    """A column name that, pasted unquoted into ALTER TABLE, closes the statement and writes ``target``."""
    return f"x\" DOUBLE; COPY (SELECT 'import os') TO '{target}' (FORMAT CSV, HEADER false); --"


def test_column_name_from_rows_cannot_run_sql(tmp_path):
    store_dir, outside = tmp_path / "store", tmp_path / "outside"
    store_dir.mkdir(), outside.mkdir()
    target = outside / "planted.pth"
    store = RunStore(store_dir / "runs.duckdb")
    name = _planting_name(target)
    store.write_run(_run("a"), _epochs(**{name: [1.0, 2.0]}))
    assert not target.exists() and _listing(outside) == set()
    assert _listing(store_dir) <= {"runs.duckdb", "runs.duckdb.wal"}
    assert store.curves()[name].tolist() == [1.0, 2.0]  # the odd name is just a column name


def test_column_name_from_an_imported_parquet_cannot_run_sql(tmp_path):
    src, outside = tmp_path / "export", tmp_path / "outside"
    src.mkdir(), outside.mkdir()
    target = outside / "planted.pth"
    name = _planting_name(target)
    pd.DataFrame({"run_id": ["a"], "status": ["finished"], name: ["v"]}).to_parquet(src / "runs.parquet")
    _epochs(run_id="a").to_parquet(src / "epochs.parquet")
    store = RunStore.import_parquet(src, tmp_path / "runs.duckdb")
    assert not target.exists() and _listing(outside) == set()
    assert store.runs()[name].tolist() == ["v"]


def test_config_key_with_quotes_round_trips_through_a_corpus_and_back(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "planted.pth"
    store = RunStore(tmp_path / "a.duckdb")
    store.write_run(_run("a", **{_planting_name(target): 1}), _epochs())
    store.export_parquet(tmp_path / "pq")
    runs = store.runs()
    runs.to_parquet(tmp_path / "pq" / "runs.parquet")  # the flat table: the config key is now a column
    RunStore.import_parquet(tmp_path / "pq", tmp_path / "b.duckdb")
    assert not target.exists() and _listing(outside) == set()


def _view_store(path: Path, secret: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(f"CREATE VIEW runs AS SELECT content AS run_id, 'finished' AS status, NULL AS error, "
                    f"NULL AS config, 0.0 AS created_at FROM read_text('{secret}')")  # fmt: skip
        con.execute("CREATE VIEW epochs AS SELECT content AS run_id, 1 AS epoch, 0.5 AS val_acc "
                    f"FROM read_text('{secret}')")  # fmt: skip


def test_a_store_whose_tables_are_views_is_refused_unread(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cr3t-token")
    path = tmp_path / "views.duckdb"
    _view_store(path, secret)
    before = _digest(path)
    with pytest.raises(InputError, match="'runs' is a view, not a table") as err:
        load_runs(path)
    assert "s3cr3t" not in str(err.value)
    for args in (["diagnose", str(path)], ["sweep", "spec.toml", "--store", str(path)]):
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 2 and "s3cr3t" not in res.output
    assert _digest(path) == before  # the file was not written either


def test_sql_cannot_reach_other_files_even_through_the_store_connection(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cr3t-token")
    store = RunStore(tmp_path / "runs.duckdb")
    with store._connect() as con, pytest.raises(duckdb.Error, match="disabled"):
        con.execute(f"SELECT * FROM read_text('{secret}')").fetchall()
    with store._connect() as con:
        settings = dict(
            con.execute(
                "SELECT name, value FROM duckdb_settings() WHERE name IN "
                "('autoinstall_known_extensions', 'autoload_known_extensions', 'enable_external_access')"
            ).fetchall()
        )
    assert set(settings.values()) == {"false"}


def _foreign_duckdb(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE customers (id INTEGER, name VARCHAR); INSERT INTO customers VALUES (1, 'a')"
        )


def _spec(tmp_path: Path) -> Path:
    spec = tmp_path / "s.toml"
    spec.write_text('[base]\ndataset = "digits"\nmodel = "logreg"\nepochs = 1\nn_train = 50\nval_size = 20\n'
                    "eval_subset = 50\n[grid]\nseed = [0]\n")  # fmt: skip
    return spec


@pytest.mark.parametrize("kind", ["duckdb", "sqlite", "runs_without_columns", "text"])
def test_sweep_and_suggest_never_write_into_a_file_that_is_not_a_store(tmp_path, kind):
    path = tmp_path / "theirs.db"
    if kind == "duckdb":
        _foreign_duckdb(path)
    elif kind == "sqlite":  # say an MLflow database passed as --store by mistake
        with sqlite3.connect(path) as con:
            con.execute("CREATE TABLE runs (run_uuid TEXT)")
    elif kind == "runs_without_columns":
        with duckdb.connect(str(path)) as con:
            con.execute("CREATE TABLE runs (x INTEGER); CREATE TABLE epochs (y INTEGER)")
    else:
        path.write_text("not a database\n")
    spec = _spec(tmp_path)
    before, listing = _digest(path), _listing(tmp_path)
    for args in (
        ["sweep", str(spec), "--store", str(path), "--workers", "0"],
        ["suggest", str(spec), "--store", str(path)],
    ):
        started = time.monotonic()
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 2, res.output
        assert "not a traindx run store" in res.output or "not a DuckDB run store" in res.output
        assert time.monotonic() - started < 30  # no extension download was attempted
    assert _digest(path) == before and _listing(tmp_path) == listing


@pytest.mark.parametrize("damage", ["truncate", "garble", "empty_header"])
def test_corrupt_store_is_one_message(tmp_path, damage):
    path = tmp_path / "runs.duckdb"
    store = RunStore(path)
    for i in range(20):
        store.write_run(_run(f"r{i}", seed=i), _epochs())
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 3])
    elif damage == "garble":
        path.write_bytes(data[:16] + bytes(b ^ 0x5A for b in data[16:]))
    else:
        path.write_bytes(data[:12])
    res = CliRunner().invoke(app, ["diagnose", str(path)])
    assert res.exit_code == 2, res.output
    assert res.output.strip().startswith("error: ") and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


# The sweep driver's write pattern at its fastest: one transaction per run result, run after run (rotating over
# 30 run ids so the store stays small and each read is cheap), with curves of 1-5 epochs that change per write.
_SWEEPER = """
import os, sys, time
import pandas as pd
from traindx.store import RunStore
if __name__ == "__main__":
    store = RunStore(sys.argv[1])
    parent = int(sys.argv[3])
    for i in range(int(sys.argv[2])):
        if os.getppid() != parent:  # the test process died without killing us: stop, leave nothing running
            break
        n = 1 + i % 5
        store.write_run({"run_id": f"r{i % 30}", "status": "finished", "config": {"seed": i}},
                        pd.DataFrame({"epoch": range(1, n + 1), "val_acc": [0.5] * n, "train_acc": [0.6] * n}))
        time.sleep(0.01)
"""


N_READS = int(os.environ.get("TRAINDX_TEST_READS", "1000"))


@pytest.mark.slow
def test_a_thousand_reads_during_a_sweep_never_fail(tmp_path):
    from traindx.store.runstore import is_duckdb_file

    path = tmp_path / "runs.duckdb"
    script = tmp_path / "sweeper.py"
    script.write_text(_SWEEPER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path), "1000000", str(os.getpid())], env=os.environ
    )
    try:
        deadline = time.monotonic() + 120
        while not (path.exists() and is_duckdb_file(path)) or not _has_a_run(path):
            assert time.monotonic() < deadline and proc.poll() is None, "the sweep did not start"
            time.sleep(0.1)
        reader = RunStore(path, read_only=True, lock_timeout=60)
        seen, errors = [], []
        for i in range(N_READS):
            try:
                if i % 100 == 0:  # the user's path: diagnose and friends read through load_runs
                    runs, curves = load_runs(path)
                else:
                    runs, curves = reader.read()
                seen.append(int(runs["seed"].max()))
                assert set(curves["run_id"]) == set(runs["run_id"])  # never a run without its curve
                epochs = curves.groupby("run_id")["epoch"].max()
                assert (epochs == curves.groupby("run_id").size()).all()  # never half a curve
            except InputError as exc:
                errors.append(str(exc))
        assert proc.poll() is None, "the sweep ended before the reads did; give it more runs"
    finally:
        proc.kill()
        proc.wait()
    assert errors == []
    assert seen[-1] > seen[0], "the sweep made no progress while being read"


def _has_a_run(path: Path) -> bool:
    try:
        return len(RunStore(path, read_only=True, lock_timeout=1).finished_ids()) > 0
    except InputError:
        return False
