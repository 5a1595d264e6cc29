"""``tdx.load_runs``: one entry point that reads runs from wherever they were logged.

Each importer of :data:`traindx.store.importers.IMPORTERS` is asked in turn whether it reads ``source``; the first
that does loads it. In that order:

* a transformers Trainer's ``trainer_state.json`` or its ``output_dir``
* a Keras ``History``, its ``history`` dict, or that dict saved as JSON
* ``"mlflow:<tracking-uri>"``, an MLflow SQLite file (``mlflow.db``) or an ``mlruns`` folder
* a DuckDB file written by ``traindx sweep --store`` (recognised by its header, any suffix)
* a Parquet file or folder (a tidy curve table, a corpus's ``<name>_epochs.parquet``, an exported store)
* a W&B offline run folder, its ``.wandb`` file, or a ``wandb/`` folder
* a Lightning ``lightning_logs/`` folder (every ``version_*/metrics.csv``, step rows averaged per epoch)
* a TensorBoard log dir or event file
* a W&B chart's CSV download
* JSON lines (``.jsonl``, ``.ndjson``)
* CSV or TSV (also ``.csv.gz``), in the layouts of :mod:`traindx.store.importers.csv`, or a folder of them

Accuracies logged in percent (an accuracy column whose largest value lies in (1, 100]) are divided by 100 and
said so in ``curves.attrs["notices"]``; ``percent=True`` divides them whatever their range, ``percent=False``
leaves them (so percent values are an error). ``curves.attrs["notices"]`` holds every such one-line remark
(also a log that was cut short); nothing is printed.

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

from traindx.curves.schema import from_percent, validate_curves, validate_runs
from traindx.errors import InputError, MissingDependencyError

_SQLITE_MAGIC = b"SQLite format 3\x00"


def _unreadable() -> tuple[type[BaseException], ...]:
    """What the file readers raise for bytes that are not what they should be."""
    import contextlib
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
    with contextlib.suppress(ImportError):
        import duckdb

        kinds.append(duckdb.Error)
    with contextlib.suppress(
        ImportError
    ):  # TensorBoard's reader raises its own error for a damaged event file
        from tensorboard.compat.tensorflow_stub.errors import OpError

        kinds.append(OpError)
    with contextlib.suppress(ImportError):
        from google.protobuf.message import DecodeError

        kinds.append(DecodeError)
    return tuple(kinds)


def _supported() -> str:
    from traindx.store.importers import IMPORTERS

    names = ", ".join(imp.name for imp in IMPORTERS)
    return f"the readers are {names} (traindx diagnose --help says what each reads)"


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


def _read_store(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    from traindx.store.runstore import RunStore

    return RunStore(path, read_only=True).read()  # checked first; never written


def _unknown(path: Path) -> InputError:
    from traindx.store.importers.base import header

    if path.is_dir():
        return InputError(f"{path} is a folder holding no runs any reader knows; {_supported()}")
    if header(path).startswith(_SQLITE_MAGIC):
        return InputError(
            f"{path} is an SQLite file but not an MLflow tracking store (no experiments, runs and metrics "
            f"tables); {_supported()}"
        )
    return InputError(f"cannot tell what {path} holds (suffix {path.suffix!r}); {_supported()}")


def _single_run(runs: pd.DataFrame, curves: pd.DataFrame, run_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rename the one run of a source to ``run_id``."""
    if curves["run_id"].nunique() != 1:
        raise InputError(
            f"run_id={run_id!r} names the run of a one-run source, but this one holds "
            f"{curves['run_id'].nunique()} runs; leave run_id out"
        )
    return runs.assign(run_id=run_id).head(1), curves.assign(run_id=run_id)


def load_runs(
    source: str | os.PathLike | Any, *, percent: bool | None = None, run_id: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read runs from a store, file, folder, MLflow URI or Keras History into ``(runs, curves)``.

    ``runs`` has one row per run (``run_id`` plus whatever the source knows: config, parameters, status);
    ``curves`` is the validated tidy curve table, with ``curves.attrs["notices"]`` (see the module doc).
    ``percent``: None detects accuracies in percent, True divides them by 100, False never does. ``run_id``
    names the run of a one-run source (an in-memory Keras History is called ``keras`` otherwise).

    Example:
        >>> runs, curves = load_runs({"accuracy": [50.0, 80.0], "val_accuracy": [50.0, 60.0]})
        >>> curves["epoch"].tolist(), curves["train_acc"].tolist(), curves.attrs["notices"]
        ([1, 2], [0.5, 0.8], ['accuracies read as percent and divided by 100: train_acc, val_acc (largest 80)'])
    """
    from traindx.store.importers import IMPORTERS
    from traindx.store.importers.base import as_path

    if isinstance(source, (str, os.PathLike)) and not str(source).startswith("mlflow:"):
        path = Path(source).expanduser()
        if as_path(path) is None:
            raise InputError(f"{path} does not exist; {_supported()}")
    importer = next((imp for imp in IMPORTERS if imp.accepts(source)), None)
    if importer is None:
        if isinstance(source, (str, os.PathLike)):
            raise _unknown(Path(source).expanduser())
        raise InputError(f"cannot load runs from a {type(source).__name__}; {_supported()}")
    try:
        runs, curves = importer.load(source)
    except (InputError, MissingDependencyError, PermissionError, FileNotFoundError, IsADirectoryError):
        raise
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{source} holds text that is not UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from None
    except _unreadable() as exc:  # corrupt, truncated or mislabelled: name the file and what it should be
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise InputError(
            f"cannot read {source} with the {importer.name} reader ({type(exc).__name__}: {first}); the file is "
            f"corrupt, truncated or not what it seems; {_supported()}"
        ) from exc
    notices = list(curves.attrs.get("notices", []))
    if "run_id" in curves.columns and curves.empty:
        raise InputError(f"{source} holds no curve rows (no epochs logged); log at least one epoch per run")
    if run_id is not None:
        runs, curves = _single_run(runs, curves, run_id)
    curves, note = from_percent(curves, percent)
    curves = validate_curves(curves, allow_gaps=True)
    curves.attrs["notices"] = notices + ([note] if note else [])
    return validate_runs(runs, curves), curves
