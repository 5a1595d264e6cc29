"""The run store: a DuckDB file with ``runs``, ``epochs`` and ``signals`` tables.

One process writes (the sweep driver); workers hand their results back to it. Each run is written in one
transaction, so a store never holds half a run, and rewriting a run id replaces the old rows. Connections are
opened per call and closed at once, so readers in other processes are not locked out between writes;
:meth:`RunStore.read` reads runs and curves in one transaction, so a reader never sees one without the other.

A DuckDB file is untrusted input until checked: every connection turns off extension auto-install and
auto-load and all file access from SQL (so a crafted view cannot read or write other files), an existing file
is opened read-only first and accepted only if ``runs`` and ``epochs`` are base tables with the expected
columns, and nothing is ever written into a DuckDB file that is not a run store. Column names that rows bring
in are quoted as DuckDB quotes identifiers; values travel only as parameters.

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

# the columns (and DuckDB types) a store's tables must have; extra columns (more metrics) are allowed
REQUIRED: dict[str, dict[str, str]] = {
    "runs": {"run_id": "VARCHAR", "status": "VARCHAR", "error": "VARCHAR", "config": "VARCHAR"},
    "epochs": {"run_id": "VARCHAR", "epoch": "INTEGER"},
    "signals": {"run_id": "VARCHAR", "step": "BIGINT", "name": "VARCHAR", "value": "DOUBLE"},
}
# every connection: no extension downloads or loads, no file access from SQL beyond the store itself
_DUCKDB_CONFIG = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "enable_external_access": False,
}
_DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file
_NEW_COLUMN_TYPES = ("DOUBLE", "VARCHAR", "BOOLEAN")

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


def quote_identifier(name: str) -> str:
    """``name`` as a DuckDB identifier: in double quotes, inner quotes doubled (DuckDB's own rule).

    Example:
        >>> quote_identifier('a"b')
        '"a""b"'
    """
    name = str(name)
    if not name or "\x00" in name or len(name) > 255:
        raise InputError(f"column name {name!r} is empty, too long or holds a NUL byte; rename the column")
    return '"' + name.replace('"', '""') + '"'


def is_duckdb_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` starts with a DuckDB database header."""
    try:
        with open(path, "rb") as fh:
            return fh.read(12)[8:12] == _DUCKDB_MAGIC
    except OSError:
        return False


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


# A read-only connection opened while the writing process checkpoints can read a page mid-write ("Could not
# read N bytes"): measured once in 1,000 reads racing a writer. The next attempt reads the finished file.
_TORN_READ_RETRIES = 5


def _torn(exc: InputError) -> bool:
    import duckdb

    cause = exc.__cause__
    return isinstance(cause, duckdb.IOException) and "could not read" in str(cause).lower()


def _config(text: Any, path: Path) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"run store {path}: a run's config is not valid JSON ({exc}); the store is damaged"
        ) from None
    if not isinstance(value, dict):
        raise InputError(f"run store {path}: a run's config is not a JSON object; the store is damaged")
    return value


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

    def __init__(self, path: str | os.PathLike, lock_timeout: float = 30.0, read_only: bool = False) -> None:
        self.path = Path(path)
        self.lock_timeout = float(lock_timeout)
        self.read_only = bool(read_only)
        if self.path.exists() and self.path.is_dir():
            raise InputError(f"{self.path} is a folder; give the path of a DuckDB file, e.g. runs.duckdb")
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        if fresh and self.read_only:
            raise InputError(
                f"run store {self.path} not found; run `traindx sweep SPEC --store {self.path}` first"
            )
        if not is_duckdb_file(self.path) and not fresh:
            raise InputError(
                f"{self.path} is not a DuckDB run store (its header is not DuckDB's); nothing was written to it; "
                "give the path of a traindx store or of a new file"
            )
        if self.read_only:
            return  # checked on the first read, in the same connection (one open per read)
        if not fresh:
            with self._connect(read_only=True):  # checked before anything is written
                pass
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._checked = self._checked or fresh  # a new file becomes a store here
        if fresh or not self._has_signals:
            with self._connect() as con:
                con.execute(_SCHEMA)

    def _check(self, con) -> None:
        """Refuse a file that is not a run store: ``runs``/``epochs`` missing, views, or lacking the expected
        columns."""
        kinds = dict(
            con.execute(
                "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'main'"
            ).fetchall()
        )
        columns: dict[str, dict[str, str]] = {}
        for table, column, dtype in con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'main'"
        ).fetchall():
            columns.setdefault(table, {})[column] = dtype
        for table, need in REQUIRED.items():
            if table not in kinds:
                if table == "signals":  # stores written before signals existed
                    continue
                raise InputError(
                    f"{self.path} is a DuckDB database but not a traindx run store (tables found: "
                    f"{sorted(kinds)}; expected runs and epochs); nothing was written to it; write a store with "
                    "traindx sweep --store NEW.duckdb, or export your curve table to CSV/Parquet"
                )
            if kinds[table] != "BASE TABLE":
                raise InputError(
                    f"{self.path}: {table!r} is a {kinds[table].lower()}, not a table, so this is not a traindx run "
                    "store (a view could run any query); refusing to read it"
                )
            have = columns.get(table, {})
            wrong = [f"{c} {t}" for c, t in need.items() if have.get(c) != t]
            if wrong:
                raise InputError(
                    f"{self.path}: table {table!r} lacks the run-store columns {wrong}; this is not a traindx run "
                    "store (or one from an incompatible version)"
                )
        self._has_signals = "signals" in kinds
        self._checked = True

    _has_signals = True
    _checked = False

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    @contextmanager
    def _connect(self, read_only: bool = False):
        import duckdb

        # DuckDB lets one process hold the file at a time; writes here are short, so wait out another
        # process's brief hold (say a reader polling the store) instead of failing the sweep
        deadline = time.monotonic() + self.lock_timeout
        read_only = read_only or self.read_only
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only, config=dict(_DUCKDB_CONFIG))
                break
            except duckdb.IOException as exc:
                if "lock" in str(exc).lower():
                    if time.monotonic() < deadline:
                        time.sleep(0.02)
                        continue
                    raise InputError(
                        f"cannot open run store {self.path}: {exc}; close the other process using it "
                        "(DuckDB allows one writing process at a time) or use another --store path"
                    ) from exc
                raise self._corrupt(exc) from exc
            except duckdb.Error as exc:
                raise self._corrupt(exc) from exc
        try:
            if not self._checked:
                self._check(con)
            yield con
        except duckdb.Error as exc:
            raise self._corrupt(exc) from exc
        finally:
            con.close()

    def _corrupt(self, exc: Exception) -> InputError:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return InputError(
            f"run store {self.path}: {type(exc).__name__}: {first}; if the file is corrupt or truncated, restore "
            "it from a copy or start a new store"
        )

    # --- writing -------------------------------------------------------------------------------------------
    def write_run(
        self, run: dict[str, Any], epochs: pd.DataFrame | None, signals: pd.DataFrame | None = None
    ) -> None:
        """Write one run with its curve and signal rows in a single transaction; an existing run id is
        replaced."""
        if self.read_only:
            raise InputError(
                f"run store {self.path} was opened read-only; open it with read_only=False to write"
            )
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
        if table not in REQUIRED:
            raise InputError(f"unknown run-store table {table!r}")
        have = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' "
                "AND table_name = ?",
                [table],
            ).fetchall()
        }
        df = df.rename(columns=str)
        for col in df.columns:
            if col not in have:
                kind = "DOUBLE" if pd.api.types.is_numeric_dtype(df[col]) else "VARCHAR"
                if pd.api.types.is_bool_dtype(df[col]):
                    kind = "BOOLEAN"
                assert kind in _NEW_COLUMN_TYPES
                con.execute(f"ALTER TABLE {table} ADD COLUMN {quote_identifier(col)} {kind}")
        names = ", ".join(quote_identifier(c) for c in df.columns)
        con.register("_incoming", df)
        try:
            con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _incoming")
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
            return self._runs(con)

    def curves(self) -> pd.DataFrame:
        """The tidy curve table: one row per (run, epoch), sorted."""
        with self._connect() as con:
            return self._curves(con)

    def read(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(runs, curves)`` from one snapshot: a sweep writing meanwhile never splits a run between them."""
        for attempt in range(_TORN_READ_RETRIES + 1):
            try:
                with self._connect() as con:
                    con.execute("BEGIN TRANSACTION")
                    try:
                        return self._runs(con), self._curves(con)
                    finally:
                        con.execute("ROLLBACK")
            except InputError as exc:
                if attempt == _TORN_READ_RETRIES or not _torn(exc):
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def _runs(self, con) -> pd.DataFrame:
        df = con.execute("SELECT * FROM runs ORDER BY created_at, run_id").df()
        configs = [_config(c, self.path) for c in df.pop("config")]
        flat = pd.json_normalize(configs, sep=".") if configs else pd.DataFrame()
        flat = flat.drop(columns=[c for c in flat.columns if c in df.columns])
        return pd.concat([df.reset_index(drop=True), flat.reset_index(drop=True)], axis=1)

    @staticmethod
    def _curves(con) -> pd.DataFrame:
        df = con.execute("SELECT * FROM epochs ORDER BY run_id, epoch").df()
        for col in ("n_train", "n_val", "n_test"):
            if col in df and df[col].notna().all():
                df[col] = df[col].astype("int64")
        return df

    def signals(self) -> pd.DataFrame:
        """Live-monitor signals, long format: run_id, step, epoch, name, layer, value."""
        if not self._has_signals:
            return pd.DataFrame(columns=SIGNAL_COLUMNS)
        with self._connect() as con:
            return con.execute("SELECT * FROM signals ORDER BY run_id, step, name, layer").df()

    def __len__(self) -> int:
        with self._connect() as con:
            return int(con.execute("SELECT count(*) FROM runs").fetchone()[0])

    # --- Parquet -------------------------------------------------------------------------------------------
    def export_parquet(self, folder: str | os.PathLike) -> Path:
        """Write runs.parquet (config as JSON), epochs.parquet and signals.parquet into ``folder``."""
        import pyarrow.parquet as pq

        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            tables = {t: con.sql(f"SELECT * FROM {t}").to_arrow_table() for t in self._tables()}
            con.execute("ROLLBACK")
        for table, data in tables.items():  # written by pyarrow: no file path ever enters SQL
            pq.write_table(data, out / f"{table}.parquet", compression="zstd")
        return out

    def _tables(self) -> tuple[str, ...]:
        return ("runs", "epochs", "signals") if self._has_signals else ("runs", "epochs")

    @classmethod
    def import_parquet(cls, folder: str | os.PathLike, path: str | os.PathLike) -> RunStore:
        """Create (or add to) the store at ``path`` from a folder written by :meth:`export_parquet`."""
        src = Path(folder)
        if not (src / "runs.parquet").is_file():
            raise InputError(
                f"{src} has no runs.parquet; point to a folder written by RunStore.export_parquet"
            )
        runs = pd.read_parquet(src / "runs.parquet")
        missing = [c for c in ("run_id", "status") if c not in runs.columns]
        if missing:
            raise InputError(
                f"{src / 'runs.parquet'} has no {missing} columns; it was not written by export_parquet"
            )
        if not runs["status"].isin(["finished", "failed"]).all():
            raise InputError(f"{src / 'runs.parquet'}: status must be 'finished' or 'failed' in every row")
        store = cls(path)
        tables = {
            t: pd.read_parquet(src / f"{t}.parquet")
            for t in ("epochs", "signals")
            if (src / f"{t}.parquet").is_file()
        }
        with store._connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                ids = runs[["run_id"]].astype(str)
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
        runs, curves = self.read()
        runs = runs[runs["status"] == "finished"].drop(columns=["error"]).reset_index(drop=True)
        curves = curves[curves["run_id"].isin(runs["run_id"])].reset_index(drop=True)
        for col in curves.columns:
            if curves[col].dtype == "float64" and col not in ("epoch_seconds",):
                curves[col] = curves[col].astype("float32")
        paths = (out / f"{name}_runs.parquet", out / f"{name}_epochs.parquet")
        runs.to_parquet(paths[0], index=False, compression="zstd")
        curves.to_parquet(paths[1], index=False, compression="zstd")
        return paths
