"""``tdx.load_runs``: one entry point that reads runs from wherever they were logged.

What ``source`` is decides how it is read:

* a Keras ``History`` (or its ``history`` dict) -> :func:`~traindx.store.importers.keras.load_keras_history`
* ``"mlflow:<tracking-uri>"``, e.g. ``"mlflow:sqlite:///path/mlflow.db"`` ->
  :func:`~traindx.store.importers.mlflow.load_mlflow`
* a DuckDB file (recognised by its header, any suffix) -> :class:`~traindx.store.runstore.RunStore`
* a Parquet file: a tidy curve table; a corpus file ``<name>_epochs.parquet`` takes its run table from the
  ``<name>_runs.parquet`` beside it
* a folder with ``runs.parquet`` (written by ``RunStore.export_parquet``) or ``<name>_epochs.parquet`` files
* a folder holding TensorBoard event files -> :func:`~traindx.store.importers.tensorboard.load_tensorboard`
* a CSV/TSV file or a folder of CSV files -> :func:`~traindx.store.importers.csv.load_csv`

Both tables are validated (:func:`~traindx.curves.schema.validate_curves`, which allows a metric to be logged only
at some epochs, and :func:`~traindx.curves.schema.validate_runs`).

Example:
    >>> import tempfile, pandas as pd
    >>> path = tempfile.mkdtemp() + "/curves.csv"
    >>> pd.DataFrame({"run_id": ["a", "a"], "epoch": [1, 2], "val_acc": [0.5, 0.6]}).to_csv(path, index=False)
    >>> runs, curves = load_runs(path)
    >>> runs["run_id"].tolist(), curves["val_acc"].tolist()
    (['a'], [0.5, 0.6])
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from traindx.curves.schema import validate_curves, validate_runs
from traindx.errors import InputError, MissingDependencyError

_DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file
_SQLITE_MAGIC = b"SQLite format 3\x00"
EVENT_NAME = "tfevents"
_SUPPORTED = (
    "a DuckDB run store (.duckdb), a Parquet curve table or exported store folder, a CSV, a TensorBoard log dir, "
    "'mlflow:<tracking-uri>' or a Keras History"
)


def _unreadable() -> tuple[type[BaseException], ...]:
    """What the file readers raise for bytes that are not what they should be."""
    import zlib

    import pyarrow

    kinds = [
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        OSError,
        EOFError,
        zlib.error,
        pyarrow.ArrowException,
    ]
    try:
        import duckdb

        kinds.append(duckdb.Error)
    except ImportError:  # pragma: no cover
        pass
    try:  # TensorBoard's reader raises its own error for a damaged event file
        from tensorboard.compat.tensorflow_stub.errors import OpError

        kinds.append(OpError)
    except ImportError:
        pass
    try:
        from google.protobuf.message import DecodeError

        kinds.append(DecodeError)
    except ImportError:
        pass
    return tuple(kinds)


def _header(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(16)


def _flatten_config(runs: pd.DataFrame) -> pd.DataFrame:
    """Spread the JSON ``config`` column of an exported run table into columns, as ``RunStore.runs`` does."""
    if "config" not in runs.columns:
        return runs
    configs = [json.loads(c) if isinstance(c, str) and c else {} for c in runs["config"]]
    flat = pd.json_normalize(configs, sep=".") if configs else pd.DataFrame()
    base = runs.drop(columns="config").reset_index(drop=True)
    flat = flat.drop(columns=[c for c in flat.columns if c in base.columns])
    return pd.concat([base, flat.reset_index(drop=True)], axis=1)


def _runs_of(curves: pd.DataFrame, source: str) -> pd.DataFrame:
    if "run_id" not in curves.columns:
        return pd.DataFrame({"run_id": []})
    return pd.DataFrame({"run_id": pd.unique(curves["run_id"].astype(str)), "source": source})


def _parquet_file(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    curves = pd.read_parquet(path)
    if "epoch" not in curves.columns and "run_id" in curves.columns:
        sibling = path.with_name(path.name.replace("_runs.parquet", "_epochs.parquet"))
        hint = (
            f"; load {sibling.name} (its curve table) instead"
            if sibling != path and sibling.is_file()
            else ""
        )
        raise InputError(f"{path} holds no 'epoch' column, so it is not a curve table{hint}")
    runs_path = path.with_name(path.name.replace("_epochs.parquet", "_runs.parquet"))
    if runs_path != path and runs_path.is_file():
        return _flatten_config(pd.read_parquet(runs_path)), curves
    return _runs_of(curves, "parquet"), curves


def _parquet_folder(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    if (folder / "runs.parquet").is_file():
        runs = _flatten_config(pd.read_parquet(folder / "runs.parquet"))
        epochs = folder / "epochs.parquet"
        curves = pd.read_parquet(epochs) if epochs.is_file() else pd.DataFrame(columns=["run_id", "epoch"])
        return runs, curves
    parts = sorted(folder.glob("*_epochs.parquet")) or sorted(folder.glob("*.parquet"))
    if not parts:
        return None
    tables = [_parquet_file(p) for p in parts]
    runs = pd.concat([t[0] for t in tables], ignore_index=True).drop_duplicates("run_id")
    return runs.reset_index(drop=True), pd.concat([t[1] for t in tables], ignore_index=True)


def _read_path(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    from traindx.store.importers.csv import load_csv
    from traindx.store.importers.tensorboard import find_event_dirs, load_tensorboard

    if path.is_dir():
        found = _parquet_folder(path)
        if found is not None:
            return found
        if find_event_dirs(path):
            return load_tensorboard(path)
        if any(p.suffix.lower() in (".csv", ".tsv") for p in path.iterdir()):
            return load_csv(path)
        raise InputError(
            f"{path} is a folder with no Parquet, CSV or TensorBoard event files; pass {_SUPPORTED}"
        )
    header = _header(path)
    if header[8:12] == _DUCKDB_MAGIC:
        from traindx.store.runstore import RunStore

        return RunStore(path, read_only=True).read()  # checked first; never written
    if header.startswith(_SQLITE_MAGIC):
        raise InputError(
            f"{path} is an SQLite file; if it is an MLflow tracking store, pass 'mlflow:sqlite:///{path.resolve()}'"
        )
    if header.startswith(b"PAR1"):
        return _parquet_file(path)
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return load_csv(path)
    if EVENT_NAME in path.name:
        return load_tensorboard(path.parent)
    raise InputError(f"cannot tell what {path} holds (suffix {path.suffix!r}); pass {_SUPPORTED}")


def load_runs(
    source: str | os.PathLike | Any, *, percent: bool = False, run_id: str = "keras"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read runs from a store, file, folder, MLflow URI or Keras History into ``(runs, curves)``.

    ``runs`` has one row per run (``run_id`` plus whatever the source knows: config, parameters, status);
    ``curves`` is the validated tidy curve table. ``percent=True`` accepts accuracies logged in percent.
    ``run_id`` names the run of a Keras History.

    Example:
        >>> runs, curves = load_runs({"accuracy": [0.5, 0.8], "val_accuracy": [0.5, 0.6]})
        >>> curves["epoch"].tolist(), curves["train_acc"].tolist()
        ([1, 2], [0.5, 0.8])
    """
    from traindx.store.importers.keras import is_keras_history, load_keras_history

    if is_keras_history(source) or isinstance(source, dict):
        runs, curves = load_keras_history(source, run_id=run_id)
    elif isinstance(source, str) and source.startswith("mlflow:"):
        from traindx.store.importers.mlflow import load_mlflow

        runs, curves = load_mlflow(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if not path.exists():
            raise InputError(f"{path} does not exist; pass {_SUPPORTED}")
        try:
            runs, curves = _read_path(path)
        except (InputError, MissingDependencyError, PermissionError, FileNotFoundError, IsADirectoryError):
            raise
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 and retry"
            ) from exc
        except _unreadable() as exc:  # corrupt, truncated or mislabelled: name the file and what it should be
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise InputError(
                f"cannot read {path} ({type(exc).__name__}: {first}); the file is corrupt, truncated or not what "
                f"its name says; pass {_SUPPORTED}"
            ) from exc
    else:
        raise InputError(f"cannot load runs from a {type(source).__name__}; pass {_SUPPORTED}")
    if "run_id" in curves.columns and curves.empty:
        raise InputError(f"{source} holds no curve rows (no epochs logged); log at least one epoch per run")
    curves = validate_curves(curves, allow_gaps=True, percent=percent)
    return validate_runs(runs, curves), curves
