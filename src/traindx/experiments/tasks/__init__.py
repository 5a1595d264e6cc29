"""Tasks: named classification problems from many sources, and their meta-features.

A task is a registered name (``traindx tasks`` lists them), a table file with a target column, a DataFrame,
or with a network ``openml:<id>`` / ``pmlb:<name>``; :func:`load` turns any of these into a :class:`Task`. Sources live one per module (``idx``,
``table``, ``cifar``, ``text``, ``ucr``, ``procedural``) and register in :mod:`.registry`.

Example:
    >>> import traindx as tdx
    >>> t = tdx.tasks.load("digits")
    >>> t.modality, t.n_classes, t.input_shape
    ('image', 10, (1, 8, 8))
    >>> "digits" in tdx.tasks.list()
    True
"""

from __future__ import annotations

import builtins
import os

import pandas as pd

from traindx.errors import InputError
from traindx.experiments.tasks import registry
from traindx.experiments.tasks.base import Task, cache_dir, data_dir
from traindx.experiments.tasks.meta import FEATURES, meta_features
from traindx.experiments.tasks.network import is_network_name, load_network
from traindx.experiments.tasks.table import from_file, from_frame, is_table_path

__all__ = [
    "FEATURES", "Task", "cache_dir", "data_dir", "info", "list", "load", "meta_features", "modality_of",
]  # fmt: skip


def list(modality: str | None = None) -> builtins.list[str]:  # noqa: A001  (the public name tdx.tasks.list)
    """Names of the tasks available now, optionally of one modality.

    Example:
        >>> "mnist1d" in list("timeseries")
        True
    """
    return registry.names(modality)


def info(name: str) -> registry.TaskInfo:
    """The registry entry of ``name`` (modality, source, licence) without loading its data."""
    return registry.get(name)


def load(name_or_table: str | os.PathLike | pd.DataFrame | Task, target: str | None = None) -> Task:
    """A task from a registered name, a CSV / TSV / Parquet path or a DataFrame (``target`` = label column).

    Example:
        >>> load("no_such_task")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        traindx.errors.InputError: unknown task 'no_such_task'...
    """
    if isinstance(name_or_table, Task):
        return name_or_table
    if isinstance(name_or_table, pd.DataFrame):
        return from_frame(name_or_table, target=target)
    if is_table_path(name_or_table):
        return _load_table(str(name_or_table), target)
    if is_network_name(name_or_table):
        return load_network(str(name_or_table), target)
    if not isinstance(name_or_table, str):
        raise InputError(f"a task is a name, a table path or a DataFrame, got {type(name_or_table).__name__}")
    if target is not None:
        raise InputError(
            f"target={target!r} applies to table files only; task {name_or_table!r} has its labels"
        )
    return registry.load(name_or_table)


_TABLES: dict[tuple, Task] = {}


def _load_table(path: str, target: str | None) -> Task:
    st = os.stat(path) if os.path.exists(path) else None
    key = (os.path.abspath(path), target, st and st.st_mtime_ns)
    if key not in _TABLES:
        _TABLES.clear()  # one user table at a time per process is the common case; keep memory bounded
        _TABLES[key] = from_file(path, target)
    return _TABLES[key]


def modality_of(name: str) -> str:
    """The modality of a task name or table path, without loading its data."""
    return "tabular" if is_table_path(name) or is_network_name(name) else registry.get(name).modality
