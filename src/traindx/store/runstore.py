"""The run store: a DuckDB file with ``runs``, ``epochs`` and ``signals`` tables.

One process writes (the sweep driver); workers hand their results back to it. Each run is written in one
transaction, so a store never holds half a run, and rewriting a run id replaces the old rows. Connections are
opened per call and closed at once, so readers in other processes are not locked out between writes.

Example:
    >>> import tempfile, pandas as pd
    >>> from traindx.store import RunStore
    >>> store = RunStore(tempfile.mkdtemp() + "/runs.duckdb")
    >>> store.write_run({"run_id": "a1", "status": "finished", "config": {"model": "logreg", "seed": 0}},
    ...                 pd.DataFrame({"epoch": [1, 2], "val_acc": [0.5, 0.6]}))
    >>> store.runs()[["run_id", "model"]].values.tolist(), len(store.curves())
    ([['a1', 'logreg']], 2)
"""

from __future__ import annotations

import json
import math
import os
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traindx.errors import InputError

RUN_COLUMNS = ["run_id", "status", "error", "train_seconds", "eval_seconds", "wall_seconds", "created_at"]
CURVE_COLUMNS = [
    "run_id", "epoch", "train_acc", "val_acc", "test_acc", "train_loss", "val_loss", "test_loss",
    "n_train", "n_val", "n_test",
]  # fmt: skip
SIGNAL_COLUMNS = ["run_id", "step", "epoch", "name", "layer", "value"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, status VARCHAR NOT NULL, error VARCHAR, config VARCHAR,
    train_seconds DOUBLE, eval_seconds DOUBLE, wall_seconds DOUBLE, created_at VARCHAR);
CREATE TABLE IF NOT EXISTS epochs (
    run_id VARCHAR NOT NULL, epoch INTEGER NOT NULL,
    train_acc DOUBLE, val_acc DOUBLE, test_acc DOUBLE, train_loss DOUBLE, val_loss DOUBLE, test_loss DOUBLE,
    n_train BIGINT, n_val BIGINT, n_test BIGINT);
CREATE TABLE IF NOT EXISTS signals (
    run_id VARCHAR NOT NULL, step BIGINT, epoch INTEGER, name VARCHAR, layer VARCHAR, value DOUBLE);
"""


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


class RunStore:
    """A DuckDB run store at ``path`` (created with its tables if absent).

    Example:
        >>> import tempfile
        >>> RunStore(tempfile.mkdtemp() + "/s.duckdb").finished_ids()
        set()
    """

    def __init__(self, path: str | os.PathLike, lock_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.lock_timeout = float(lock_timeout)
        if self.path.exists() and self.path.is_dir():
            raise InputError(f"{self.path} is a folder; give the path of a DuckDB file, e.g. runs.duckdb")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute(_SCHEMA)

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    @contextmanager
    def _connect(self, read_only: bool = False):
        import duckdb

        # DuckDB lets one process hold the file at a time; writes here are short, so wait out another
        # process's brief hold (say a reader polling the store) instead of failing the sweep
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                if "lock" in str(exc).lower() and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                raise InputError(
                    f"cannot open run store {self.path}: {exc}; close the other process using it "
                    "(DuckDB allows one process at a time) or use another --store path"
                ) from exc
        try:
            yield con
        finally:
            con.close()

    # --- writing -------------------------------------------------------------------------------------------
    def write_run(
        self, run: dict[str, Any], epochs: pd.DataFrame | None, signals: pd.DataFrame | None = None
    ) -> None:
        """Write one run with its curve and signal rows in a single transaction; an existing run id is
        replaced."""
        rid = run.get("run_id")
        if not rid:
            raise InputError("run record has no 'run_id'; give each run a unique string id")
        status = run.get("status", "finished")
        if status not in ("finished", "failed"):
            raise InputError(f"run {rid}: status {status!r} is not 'finished' or 'failed'")
        config = run.get("config") or {}
        row = [
            str(rid),
            status,
            run.get("error"),
            json.dumps({k: _clean(v) for k, v in config.items()}, sort_keys=True, default=_json_default),
            _clean(run.get("train_seconds")),
            _clean(run.get("eval_seconds")),
            _clean(run.get("wall_seconds")),
            str(run.get("created_at") or datetime.now(timezone.utc).isoformat(timespec="seconds")),
        ]
        ep = self._prepare(epochs, rid, "epoch")
        sg = self._prepare(signals, rid, "step")
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                for table in ("runs", "epochs", "signals"):
                    con.execute(f"DELETE FROM {table} WHERE run_id = ?", [str(rid)])
                con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
                if ep is not None:
                    self._insert(con, "epochs", ep)
                if sg is not None:
                    self._insert(con, "signals", sg)
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise

    @staticmethod
    def _prepare(df: pd.DataFrame | None, rid: str, key: str) -> pd.DataFrame | None:
        if df is None or len(df) == 0:
            return None
        if not isinstance(df, pd.DataFrame):
            raise InputError(f"run {rid}: expected a pandas DataFrame of rows, got {type(df).__name__}")
        if key not in df.columns:
            raise InputError(f"run {rid}: rows have no {key!r} column; add it (1-based epochs)")
        return df.assign(run_id=str(rid))

    @staticmethod
    def _insert(con, table: str, df: pd.DataFrame) -> None:
        have = {r[0] for r in con.execute(f"SELECT column_name FROM (DESCRIBE {table})").fetchall()}
        for col in df.columns:
            if col not in have:
                kind = "DOUBLE" if pd.api.types.is_numeric_dtype(df[col]) else "VARCHAR"
                if pd.api.types.is_bool_dtype(df[col]):
                    kind = "BOOLEAN"
                con.execute(f'ALTER TABLE {table} ADD COLUMN "{col}" {kind}')
        con.register("_incoming", df)
        try:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
        finally:
            con.unregister("_incoming")

    # --- reading -------------------------------------------------------------------------------------------
    def finished_ids(self) -> set[str]:
        """Run ids whose status is 'finished' (failed runs are retried by a rerun)."""
        with self._connect() as con:
            return {r[0] for r in con.execute("SELECT run_id FROM runs WHERE status = 'finished'").fetchall()}

    def runs(self) -> pd.DataFrame:
        """One row per run: run_id, status, error, timings, created_at and the config flattened into columns."""
        with self._connect() as con:
            df = con.execute("SELECT * FROM runs ORDER BY created_at, run_id").df()
        configs = [json.loads(c) if c else {} for c in df.pop("config")]
        flat = pd.json_normalize(configs, sep=".") if configs else pd.DataFrame()
        flat = flat.drop(columns=[c for c in flat.columns if c in df.columns])
        return pd.concat([df.reset_index(drop=True), flat.reset_index(drop=True)], axis=1)

    def curves(self) -> pd.DataFrame:
        """The tidy curve table: one row per (run, epoch), sorted."""
        with self._connect() as con:
            df = con.execute("SELECT * FROM epochs ORDER BY run_id, epoch").df()
        for col in ("n_train", "n_val", "n_test"):
            if col in df and df[col].notna().all():
                df[col] = df[col].astype("int64")
        return df

    def signals(self) -> pd.DataFrame:
        """Live-monitor signals, long format: run_id, step, epoch, name, layer, value."""
        with self._connect() as con:
            return con.execute("SELECT * FROM signals ORDER BY run_id, step, name, layer").df()

    def __len__(self) -> int:
        with self._connect() as con:
            return int(con.execute("SELECT count(*) FROM runs").fetchone()[0])

    # --- Parquet -------------------------------------------------------------------------------------------
    def export_parquet(self, folder: str | os.PathLike) -> Path:
        """Write runs.parquet (config as JSON), epochs.parquet and signals.parquet into ``folder``."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            for table in ("runs", "epochs", "signals"):
                target = str(out / f"{table}.parquet").replace("'", "''")
                con.execute(f"COPY (SELECT * FROM {table}) TO '{target}' (FORMAT PARQUET, COMPRESSION ZSTD)")
        return out

    @classmethod
    def import_parquet(cls, folder: str | os.PathLike, path: str | os.PathLike) -> RunStore:
        """Create (or add to) the store at ``path`` from a folder written by :meth:`export_parquet`."""
        src = Path(folder)
        if not (src / "runs.parquet").is_file():
            raise InputError(
                f"{src} has no runs.parquet; point to a folder written by RunStore.export_parquet"
            )
        store = cls(path)
        runs = pd.read_parquet(src / "runs.parquet")
        tables = {
            t: pd.read_parquet(src / f"{t}.parquet")
            for t in ("epochs", "signals")
            if (src / f"{t}.parquet").is_file()
        }
        with store._connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                ids = runs[["run_id"]]
                con.register("_ids", ids)
                for table in ("runs", "epochs", "signals"):
                    con.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT run_id FROM _ids)")
                con.unregister("_ids")
                store._insert(con, "runs", runs)
                for table, df in tables.items():
                    if len(df):
                        store._insert(con, table, df)
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
        return store

    def export_corpus(self, folder: str | os.PathLike, name: str) -> tuple[Path, Path]:
        """Write the finished runs as a compact corpus: ``<name>_runs.parquet`` (the flat run table) and
        ``<name>_epochs.parquet`` (the tidy curve table), zstd-compressed."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        runs = self.runs()
        runs = runs[runs["status"] == "finished"].drop(columns=["error"]).reset_index(drop=True)
        curves = self.curves()
        curves = curves[curves["run_id"].isin(runs["run_id"])].reset_index(drop=True)
        for col in curves.columns:
            if curves[col].dtype == "float64" and col not in ("epoch_seconds",):
                curves[col] = curves[col].astype("float32")
        paths = (out / f"{name}_runs.parquet", out / f"{name}_epochs.parquet")
        runs.to_parquet(paths[0], index=False, compression="zstd")
        curves.to_parquet(paths[1], index=False, compression="zstd")
        return paths
