"""Tabular tasks: PMLB ``.tsv.gz`` tables and any CSV / TSV / Parquet file or DataFrame with a target column.

A table becomes a task in one call: numeric columns are kept (missing values filled with the training
median), text columns one-hot encoded (the 30 most frequent levels), features standardised on the training
split, and a fixed stratified 75/25 split made.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"a": range(40), "colour": ["red", "blue"] * 20, "y": [0, 1] * 20})
    >>> from_frame(df, target="y").input_shape
    (3,)
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import numpy as np
import pandas as pd

from traindx.errors import InputError
from traindx.experiments.tasks.base import Task, data_dir, encode_labels, split_fixed, standardize
from traindx.experiments.tasks.registry import TaskInfo

TABLE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet", ".pq")
_MAX_LEVELS = 30
# the two tables beside PMLB's: file, target column, licence
_TABLES = {
    "kc1": ("kc1.csv", "defects", "NASA MDP / PROMISE"),
    "blood_transfusion": ("blood_transfusion.csv", "target", "UCI (CC BY 4.0)"),
}


def is_table_path(value: object) -> bool:
    """Whether ``value`` names a table file (by its suffix)."""
    return isinstance(value, (str, os.PathLike)) and str(value).lower().endswith(TABLE_SUFFIXES)


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV / TSV (optionally gzipped) or Parquet file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"table {p} not found; give the path of a CSV, TSV or Parquet file")
    name = p.name.lower()
    if name.endswith((".parquet", ".pq")):
        return pd.read_parquet(p)
    return pd.read_csv(p, sep="\t" if ".tsv" in name else ",")


def from_file(path: str | os.PathLike, target: str | None = None, name: str | None = None) -> Task:
    """A task from a table file; ``target`` defaults to a column named ``target`` (or ``class``/``label``).

    Example:
        >>> from_file("missing.csv")
        Traceback (most recent call last):
        ...
        traindx.errors.InputError: table missing.csv not found; give the path of a CSV, TSV or Parquet file
    """
    p = Path(path)
    stem = p.name.split(".")[0]
    return from_frame(read_table(p), target=target, name=name or stem, source=str(p))


def from_frame(
    df: pd.DataFrame, target: str | None = None, name: str = "table", source: str = "DataFrame"
) -> Task:
    """A task from a DataFrame: ``target`` is the label column (default: ``target``, ``class`` or ``label``)."""
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(df).__name__}")
    target = target or next((c for c in ("target", "class", "label", "y") if c in df.columns), None)
    if target is None or target not in df.columns:
        close = difflib.get_close_matches(str(target), [str(c) for c in df.columns], n=3)
        hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
        raise InputError(
            f"table {name!r} has no target column {target!r}{hint}; its columns are "
            f"{list(map(str, df.columns))[:20]}; name the label column with target=... (or `target` in a spec)"
        )
    df = df[df[target].notna()]
    y, classes = encode_labels(df[target].to_numpy())
    if len(classes) < 2:
        raise InputError(
            f"table {name!r}: target column {target!r} has a single class ({classes[0] if classes else 'none'}); "
            "a classification task needs at least two classes: pick another target column"
        )
    feats = df.drop(columns=[target])
    if feats.shape[1] == 0:
        raise InputError(f"table {name!r} has no feature columns besides the target {target!r}")
    x_tr, y_tr, x_te, y_te = split_fixed(np.arange(len(df)), y)
    x = _encode(feats, x_tr)
    a, b = standardize(x[x_tr], x[x_te])
    return Task(name, "tabular", a, y_tr, b, y_te, len(classes), source=source, classes=classes,
                extra={"target": str(target), "columns": int(feats.shape[1])})  # fmt: skip


def _encode(feats: pd.DataFrame, train_rows: np.ndarray) -> np.ndarray:
    cols = []
    for col in feats.columns:
        s = feats[col]
        num = pd.to_numeric(s, errors="coerce")
        if num.notna().mean() >= 0.95 or s.dtype.kind in "biufc":
            med = np.nanmedian(num.to_numpy(dtype=float)[train_rows]) if num.notna().any() else 0.0
            cols.append(num.fillna(0.0 if np.isnan(med) else med).to_numpy(dtype=np.float32)[:, None])
        else:
            levels = s.astype(str).iloc[train_rows].value_counts().index[:_MAX_LEVELS]
            cols.append(np.stack([(s.astype(str) == lv).to_numpy(np.float32) for lv in levels], axis=1))
    return np.concatenate(cols, axis=1)


def entries() -> list[TaskInfo]:
    root = data_dir(required=False)
    out = []
    folder = root / "pmlb"
    if folder.is_dir():
        for f in sorted(folder.glob("*.tsv.gz")):
            name = f.name[: -len(".tsv.gz")]
            out.append(TaskInfo(name, "tabular", "pmlb", lambda f=f, n=name: from_file(f, "target", n),
                                files=(f,), licence="PMLB (MIT); table per its original source",
                                description=f"PMLB table {name}"))  # fmt: skip
    for name, (fname, target, licence) in _TABLES.items():
        f = root / "tabular" / fname
        if f.is_file():
            out.append(TaskInfo(name, "tabular", "csv", lambda f=f, t=target, n=name: from_file(f, t, n),
                                files=(f,), licence=licence, description=f"{fname}, label {target!r}"))  # fmt: skip
    return out
