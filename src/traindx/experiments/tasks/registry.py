"""The task registry: every source module lists its tasks here; loading goes through one cache.

Each source (``idx``, ``table``, ``cifar``, ``text``, ``ucr``, ``procedural``) has ``entries()`` returning the
:class:`TaskInfo` of the tasks whose files are present in the data dir. ``load`` decodes a task once per process
and keeps the decoded arrays on disk (``<cache dir>/tasks``), keyed by the source files' sizes and times, so
sweep workers start fast.

Example:
    >>> from traindx.experiments.tasks import registry
    >>> registry.get("digits").modality
    'image'
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from traindx.errors import InputError
from traindx.experiments.tasks.base import Task, cache_dir

# bump when a loader changes what it produces, so stale disk caches are not read
LOADER_VERSION = 1


@dataclass(frozen=True)
class TaskInfo:
    """A registered task: name, modality, source, a loader, its files (for the cache key) and its licence."""

    name: str
    modality: str
    source: str
    loader: Callable[[], Task]
    files: tuple[Path, ...] = ()
    description: str = ""
    licence: str = ""
    disk_cache: bool = True


def _sources():
    from traindx.experiments.tasks import cifar, idx, procedural, table, text, ucr

    return (idx, procedural, cifar, text, ucr, table)


@functools.lru_cache(maxsize=4)
def _registry(root: str) -> dict[str, TaskInfo]:
    out: dict[str, TaskInfo] = {}
    for source in _sources():
        for info in source.entries():
            name = info.name if info.name not in out else f"{info.source}_{info.name}"
            out[name] = info if name == info.name else TaskInfo(**{**info.__dict__, "name": name})
    return out


def registry() -> dict[str, TaskInfo]:
    """All tasks available now (depends on the data dir), by name."""
    from traindx.experiments.tasks.base import data_dir

    return _registry(str(data_dir(required=False)))


def names(modality: str | None = None) -> list[str]:
    """Registered task names, optionally of one modality."""
    return [n for n, info in registry().items() if modality is None or info.modality == modality]


def get(name: str) -> TaskInfo:
    """The registered task ``name``, or an error that suggests the closest names."""
    reg = registry()
    if name in reg:
        return reg[name]
    close = difflib.get_close_matches(name, list(reg), n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    from traindx.experiments.tasks.base import data_dir

    root = data_dir(required=False)
    where = "" if root.is_dir() else f" (the data dir {root} does not exist: set $TRAINDX_DATA_DIR)"
    raise InputError(
        f"unknown task {name!r}{where}; {hint}list the tasks with `traindx tasks`, or give the path of a "
        "CSV / Parquet / TSV table with a target column"
    )


@functools.lru_cache(maxsize=8)
def load(name: str) -> Task:
    """Load a registered task (decoded once per process, and kept on disk between processes)."""
    info = get(name)
    if not info.disk_cache:
        return info.loader()
    path = cache_dir("tasks") / f"{name}-{_fingerprint(info)}.npz"
    if path.is_file():
        try:
            return _read(path, info)
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # a torn write from an interrupted process: decode again
    task = info.loader()
    _write(path, task)
    return task


def _fingerprint(info: TaskInfo) -> str:
    stat = [(str(f), f.stat().st_size, int(f.stat().st_mtime)) for f in info.files if f.exists()]
    blob = json.dumps([LOADER_VERSION, info.name, stat])
    return hashlib.sha1(blob.encode(), usedforsecurity=False).hexdigest()[:10]


_ARRAYS = ("x_train", "y_train", "x_test", "y_test", "x_val", "y_val")


def _write(path: Path, task: Task) -> None:
    arrays = {k: getattr(task, k) for k in _ARRAYS if getattr(task, k) is not None}
    meta = {
        "n_classes": task.n_classes, "source": task.source, "classes": list(task.classes),
        "vocab_size": task.vocab_size, "bounded": task.bounded, "extra": task.extra,
    }  # fmt: skip
    tmp = path.with_name(path.name + ".part.npz")
    np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays)
    tmp.replace(path)


def _read(path: Path, info: TaskInfo) -> Task:
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
        arrays = {k: f[k] for k in _ARRAYS if k in f.files}
    return Task(
        name=info.name, modality=info.modality, n_classes=int(meta["n_classes"]), source=meta["source"],
        classes=tuple(meta["classes"]), vocab_size=int(meta["vocab_size"]), bounded=bool(meta["bounded"]),
        extra=meta["extra"], **arrays,
    )  # fmt: skip
