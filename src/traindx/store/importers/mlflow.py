"""Import runs from an MLflow tracking server or store with the MLflow client.

Every run of every experiment (or of the named ones) becomes one run, keyed by its MLflow run id. Each metric's
full history (``MlflowClient.get_metric_history``) is mapped by name with
:func:`~traindx.store.importers.names.canonical_metric` (``accuracy``, ``val_accuracy``, ``val_loss``,
``train/acc``, ...); MLflow's ``step`` becomes the 1-based epoch as described in
:mod:`traindx.store.importers.history` (a run logged from step 0 is shifted by one; Keras' and Lightning's
autologging log epochs from 0). The run table holds the run name, experiment name, status and every parameter
(as the strings MLflow stores).

:class:`MlflowImporter` takes an ``mlflow:<tracking-uri>``, an MLflow SQLite database file itself (recognised
by its tables, so ``mlflow.db`` needs no URI) or an ``mlruns`` folder of the older file store.

Example:
    >>> import tempfile
    >>> runs, curves = load_mlflow(f"sqlite:///{tempfile.mkdtemp()}/mlflow.db")  # doctest: +SKIP
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from traindx.errors import InputError, require
from traindx.store.importers.base import Importer, as_path, header
from traindx.store.importers.history import history_to_curves

PREFIX = "mlflow:"


def load_mlflow(
    tracking_uri: str, experiments: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the runs of an MLflow tracking URI (e.g. ``sqlite:///mlflow.db``) into ``(runs, curves)``.

    ``experiments`` limits the import to these experiment names. A leading ``mlflow:`` on the URI is accepted.
    """
    require("mlflow", "mlflow")
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    uri = tracking_uri[len(PREFIX) :] if tracking_uri.startswith(PREFIX) else tracking_uri
    if not uri:
        raise InputError(
            "empty MLflow tracking URI; write mlflow:sqlite:///path/to/mlflow.db or mlflow:http://host"
        )
    _check_local_store(uri)
    client = MlflowClient(tracking_uri=uri)
    found = client.search_experiments(view_type=ViewType.ACTIVE_ONLY)
    names = {e.experiment_id: e.name for e in found}
    if experiments is not None:
        wanted = set(experiments)
        missing = wanted - set(names.values())
        if missing:
            raise InputError(
                f"MLflow experiment(s) {sorted(missing)} not found at {uri}; "
                f"experiments there: {sorted(names.values())}"
            )
        names = {k: v for k, v in names.items() if v in wanted}
    records, rows = [], []
    for exp_id, exp_name in names.items():
        page = None
        while True:
            batch = client.search_runs([exp_id], max_results=1000, page_token=page)
            for run in batch:
                rid = run.info.run_id
                records.append(
                    {
                        "run_id": rid,
                        "run_name": run.info.run_name,
                        "experiment": exp_name,
                        "status": run.info.status,
                        **run.data.params,
                    }
                )
                for key in run.data.metrics:
                    for m in client.get_metric_history(rid, key):
                        rows.append((rid, key, m.step, m.timestamp, m.value))
            page = batch.token
            if not page:
                break
    if not records:
        raise InputError(
            f"no MLflow runs found at {uri}; check the tracking URI and that runs were logged there"
        )
    frame = pd.DataFrame(rows, columns=["run_id", "name", "step", "timestamp", "value"])
    frame = frame.sort_values("timestamp", kind="stable")
    curves = history_to_curves(frame, source=f"MLflow runs at {uri}")
    return pd.DataFrame(records), curves


def _check_local_store(uri: str) -> None:
    """A local tracking store must exist already: MLflow would silently create an empty one at a mistyped path."""
    from pathlib import Path
    from urllib.parse import unquote, urlparse

    if uri.startswith("sqlite:"):
        if not uri.startswith("sqlite:///"):
            raise InputError(
                f"MLflow URI {uri!r}: write sqlite:///relative/path.db or sqlite:////absolute/path.db"
            )
        path = Path(unquote(uri[len("sqlite:///") :].split("?", 1)[0]))
        if not path.is_file():
            raise InputError(
                f"MLflow tracking database {path} does not exist (nothing was created); check the path in {uri!r}"
            )
        with open(path, "rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                raise InputError(f"{path} is not an SQLite database, so not an MLflow tracking store")
        return
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        folder = Path(unquote(parsed.path if parsed.scheme else uri))
        if not folder.is_dir():
            raise InputError(
                f"MLflow tracking folder {folder} does not exist (nothing was created); check the path in {uri!r}"
            )


_SQLITE_MAGIC = b"SQLite format 3\x00"
_MLFLOW_TABLES = {"experiments", "runs", "metrics"}


def _is_mlflow_sqlite(path: Path) -> bool:
    if not header(path).startswith(_SQLITE_MAGIC):
        return False
    try:
        with sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True) as con:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error:
        return False
    return tables >= _MLFLOW_TABLES


def _is_mlruns(path: Path) -> bool:
    """An MLflow file store: experiment folders holding a meta.yaml beside run folders."""
    return path.is_dir() and any((sub / "meta.yaml").is_file() for sub in path.iterdir() if sub.is_dir())


class MlflowImporter(Importer):
    name = "mlflow"
    reads = "mlflow:<tracking-uri>, an MLflow SQLite file (mlflow.db) or an mlruns folder"

    def accepts(self, source: Any) -> bool:
        if isinstance(source, str) and source.startswith(PREFIX):
            return True
        path = as_path(source)
        return path is not None and (_is_mlflow_sqlite(path) or _is_mlruns(path))

    def load(self, source: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        if isinstance(source, str) and source.startswith(PREFIX):
            return load_mlflow(source)
        path = Path(source).expanduser().resolve()
        if path.is_dir():
            from mlflow.exceptions import MlflowException

            try:
                return load_mlflow(path.as_uri())
            except MlflowException as exc:
                raise InputError(
                    f"MLflow refused the file store {path}: {exc.message.split('. ')[0]}; migrate it with "
                    "'mlflow migrate-filestore' or set MLFLOW_ALLOW_FILE_STORE=true"
                ) from None
        return load_mlflow(f"sqlite:///{path}")
