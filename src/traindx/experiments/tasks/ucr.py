"""UCR/UEA time-series tasks from their ``.ts`` files (sktime/aeon format), train and test as published.

Series are shaped ``(n, channels, length)``; unequal-length series are padded with their last value (an
``_eq`` equal-length version is preferred where one ships) and every channel is standardised with the
training split's mean and std.

Example:
    >>> from traindx.experiments.tasks import load
    >>> load("GunPoint").input_shape  # doctest: +SKIP
    (1, 150)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from traindx.errors import InputError
from traindx.experiments.tasks.base import Task, data_dir, encode_labels
from traindx.experiments.tasks.registry import TaskInfo


def read_ts(path: str | Path) -> tuple[list[np.ndarray], list[str]]:
    """Parse a ``.ts`` file: one (channels, length) array and one class label per series."""
    series, labels, in_data = [], [], False
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                in_data = line.lower().startswith("@data")
                continue
            *dims, label = line.split(":")
            chans = [np.array([float(v) if v != "?" else np.nan for v in d.split(",")]) for d in dims]
            length = max(len(c) for c in chans)
            series.append(np.stack([np.pad(c, (0, length - len(c)), mode="edge") for c in chans]))
            labels.append(label.strip())
    if not series:
        raise InputError(f"{path} has no @data section with series; it is not a .ts file")
    return series, labels


def _stack(series: list[np.ndarray], length: int) -> np.ndarray:
    out = np.stack([np.pad(s, ((0, 0), (0, length - s.shape[1])), mode="edge") for s in series])
    return np.nan_to_num(out, nan=0.0)


def load_ucr(folder: str | Path, name: str) -> Task:
    """Load ``<folder>/<name>_TRAIN.ts`` and ``_TEST.ts`` (the ``_eq`` files when present)."""
    folder = Path(folder)
    stem = f"{name}_eq" if (folder / f"{name}_eq_TRAIN.ts").is_file() else name
    tr, ltr = read_ts(folder / f"{stem}_TRAIN.ts")
    te, lte = read_ts(folder / f"{stem}_TEST.ts")
    length = max(s.shape[1] for s in tr + te)
    x_tr, x_te = _stack(tr, length), _stack(te, length)
    codes, classes = encode_labels(ltr + lte)
    mean = x_tr.mean(axis=(0, 2), keepdims=True)
    std = x_tr.std(axis=(0, 2), keepdims=True)
    std = np.where(std > 0, std, 1.0)
    x_tr, x_te = ((x_tr - mean) / std).astype(np.float32), ((x_te - mean) / std).astype(np.float32)
    return Task(name, "timeseries", x_tr, codes[: len(tr)], x_te, codes[len(tr) :], len(classes),
                source=f"UCR/UEA archive ({name}, aeon 1.6.0)", classes=classes)  # fmt: skip


def entries() -> list[TaskInfo]:
    root = data_dir(required=False) / "ucr"
    if not root.is_dir():
        return []
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        name = folder.name
        if (folder / f"{name}_TRAIN.ts").is_file() and (folder / f"{name}_TEST.ts").is_file():
            out.append(TaskInfo(name, "timeseries", "ucr", lambda f=folder, n=name: load_ucr(f, n),
                                files=tuple(sorted(folder.glob("*.ts"))), licence="BSD-3 (aeon); UCR/UEA archive",
                                description=f"UCR/UEA {name}"))  # fmt: skip
    return out
