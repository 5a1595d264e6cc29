"""Import Weights & Biases runs from their local folders (``WANDB_MODE=offline``, or any run before ``wandb sync``).

Pass a run folder (``wandb/offline-run-<time>-<id>/``), its ``run-<id>.wandb`` file, a ``wandb/`` folder of
runs, or the folder that holds ``wandb/``. The ``.wandb`` file is W&B's transaction log: a LevelDB-style record
log (32 KiB blocks; each record a CRC-32, a length and a type, long records split over blocks) whose records are
W&B's own protocol buffers, decoded here with ``wandb.proto.wandb_internal_pb2.Record``. The run record gives the
run's id, name, project and config; every ``history`` record is one ``wandb.log`` call.

Each call's ``epoch`` (or ``epoch/epoch`` as Keras' ``WandbMetricsLogger`` logs it, or ``train/epoch`` as the
transformers callback does) says which epoch it belongs to: whole epochs counting from 0 are shifted to 1-based,
fractional ones (1.0 = end of the first epoch) are rounded up; each metric is averaged over its epoch's calls.
Without an epoch key the k-th logged value of each metric is epoch k (log once per epoch, or log an ``epoch``).
Runs are named by their W&B display name where the names are unique, else by the run id. A log cut short (a run
still writing, or killed) is read up to its last whole record, and says so.

Example:
    >>> import os, tempfile
    >>> os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true")
    >>> import wandb
    >>> root = tempfile.mkdtemp()
    >>> with wandb.init(project="demo", name="first", dir=root, config={"lr": 0.1}) as run:
    ...     for epoch in range(2):
    ...         run.log({"epoch": epoch, "val/acc": 0.5 + 0.25 * epoch})
    >>> wandb.teardown()  # wait for W&B's service to flush the run log
    >>> runs, curves = load_wandb_offline(root)
    >>> runs[["run_id", "lr"]].values.tolist(), curves["val_acc"].tolist()
    ([['first', 0.1]], [0.5, 0.75])
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traindx.errors import InputError, require
from traindx.store.importers.base import Importer, as_path, header
from traindx.store.importers.history import epoch_means

_IDENT = b":W&B"
_FILE_HEADER = struct.Struct("<4sHB")  # ident, magic, version
_MAGIC, _VERSION = 0xBEE1, 0
_RECORD_HEADER = struct.Struct("<IHB")  # crc32 of type byte + data, data length, type
_BLOCK = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
EPOCH_KEYS = ("epoch", "epoch/epoch", "train/epoch", "trainer/epoch")


def run_files(root: Path) -> list[Path]:
    """The ``.wandb`` run logs a path stands for (a file, a run folder, ``wandb/`` or the folder above it)."""
    if root.is_file():
        return [root]
    for pattern in ("run-*.wandb", "*run-*/run-*.wandb", "wandb/*run-*/run-*.wandb"):
        found = sorted(p for p in root.glob(pattern) if p.is_file() and not p.parent.is_symlink())
        if found:
            return found
    return []


class _Truncated(Exception):
    pass


def _chunks(data: bytes, path: Path) -> Iterator[bytes]:
    """The payload of each logical record of a W&B transaction log."""
    if len(data) < _FILE_HEADER.size:
        raise InputError(
            f"{path} is too short to be a W&B run log ({len(data)} bytes); the run wrote nothing"
        )
    ident, magic, version = _FILE_HEADER.unpack_from(data)
    if ident != _IDENT or magic != _MAGIC:
        raise InputError(
            f"{path} is not a W&B run log (it does not start with W&B's header); pass the run-<id>.wandb file "
            "of a wandb/offline-run-* or wandb/run-* folder"
        )
    if version != _VERSION:
        raise InputError(
            f"{path} is a W&B run log of format version {version}, which this reader does not know"
        )
    pos, pending = _FILE_HEADER.size, None
    crc_of_type = {t: zlib.crc32(bytes([t])) for t in (_FULL, _FIRST, _MIDDLE, _LAST)}
    while pos < len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _RECORD_HEADER.size:  # a block's tail too short for a header is zero padding
            pos += left
            continue
        if pos + _RECORD_HEADER.size > len(data):
            raise _Truncated
        crc, length, kind = _RECORD_HEADER.unpack_from(data, pos)
        if crc == 0 and length == 0 and kind == 0:  # preallocated, never written
            raise _Truncated
        body = data[pos + _RECORD_HEADER.size : pos + _RECORD_HEADER.size + length]
        if len(body) < length:
            raise _Truncated
        if kind not in crc_of_type or zlib.crc32(body, crc_of_type[kind]) != crc:
            raise InputError(
                f"{path} is corrupt at byte {pos} (a record fails its checksum); the file was damaged after the "
                "run wrote it: restore it from a copy, or delete the run folder"
            )
        pos += _RECORD_HEADER.size + length
        if kind == _FULL:
            yield body
        elif kind == _FIRST:
            pending = body
        elif pending is not None:
            pending += body
            if kind == _LAST:
                yield pending
                pending = None
    if pending is not None:
        raise _Truncated


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def _value(item: Any) -> Any:
    if item.value_json:
        try:
            return json.loads(item.value_json)
        except ValueError:
            return None
    kind = item.WhichOneof("value") if "value" in item.DESCRIPTOR.oneofs_by_name else None
    if kind == "json":
        return _value(type(item)(value_json=item.json))
    return getattr(item, kind) if kind and kind != "none" else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None  # text, media, histograms and tables are not curve values
    return float(value)


def _read_run(path: Path) -> tuple[dict, list[dict], bool]:
    """(run facts, history rows, whether the log was cut short) of one ``.wandb`` file."""
    require("wandb", "wandb")
    from google.protobuf.message import DecodeError
    from wandb.proto import wandb_internal_pb2 as pb

    facts: dict = {"wandb_id": path.stem.removeprefix("run-")}
    config: dict = {}
    rows: list[dict] = []
    truncated = False
    chunks = _chunks(path.read_bytes(), path)
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            break
        except _Truncated:
            truncated = True
            break
        record = pb.Record()
        try:
            record.ParseFromString(chunk)
        except DecodeError:
            raise InputError(
                f"{path} holds a record that is not a W&B record; the file is damaged or from another tool"
            ) from None
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            facts.update(wandb_id=run.run_id or facts["wandb_id"], name=run.display_name, project=run.project)
            updates = run.config.update
        elif kind == "config":
            updates = record.config.update
        elif kind == "history":
            row = {_key(item): _number(_value(item)) for item in record.history.item}
            rows.append({k: v for k, v in row.items() if v is not None})
            continue
        else:
            continue
        for item in updates:
            key = _key(item)
            if not key.startswith("_"):
                value = _value(item)
                config[key] = value.get("value", value) if isinstance(value, dict) else value
    return {**facts, **config}, rows, truncated


def _epochs(rows: pd.DataFrame) -> pd.Series:
    key = next((k for k in EPOCH_KEYS if k in rows.columns), None)
    if key is None:
        return pd.Series(dtype=float)
    epoch = pd.to_numeric(rows[key], errors="coerce").ffill()
    known = epoch.dropna()
    if (known != known.round()).any():  # fractional: 1.0 is the end of the first epoch
        return np.maximum(1.0, np.ceil(epoch - 1e-9))
    return epoch + (1 if not known.empty and known.min() == 0 else 0)


def _curves(rows: list[dict], run_id: str, path: Path) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    epoch = _epochs(frame)
    frame = frame.drop(columns=[c for c in frame.columns if c in EPOCH_KEYS or c.startswith("_")])
    if epoch.empty:  # no epoch logged: the k-th value of each metric is epoch k
        ranked = [frame[c].dropna().reset_index(drop=True).rename(c) for c in frame.columns]
        frame = pd.concat(ranked, axis=1) if ranked else pd.DataFrame()
        epoch = pd.Series(range(1, len(frame) + 1), dtype=float)
    frame.insert(0, "epoch", epoch.to_numpy())
    frame.insert(0, "run_id", run_id)
    return epoch_means(frame, source=f"the W&B run {path}")


def load_wandb_offline(source: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read W&B run folders (see module doc) into ``(runs, curves)``."""
    root = Path(source)
    files = run_files(root)
    if not files:
        raise InputError(
            f"no W&B run log (run-<id>.wandb) under {root}; pass a wandb/ folder, one of its run folders "
            "(offline-run-*, run-*) or the .wandb file"
        )
    read = [(path, *_read_run(path)) for path in files]
    names = [facts.get("name") or facts["wandb_id"] for _, facts, _, _ in read]
    unique = len(set(names)) == len(names)
    runs, curves, notes = [], [], []
    for (path, facts, rows, truncated), name in zip(read, names, strict=True):
        run_id = name if unique else facts["wandb_id"]
        if not rows:
            raise InputError(
                f"the W&B run {path.parent.name} logged no history (no wandb.log calls"
                f"{' before the log was cut short' if truncated else ''}); log metrics with run.log({{...}})"
            )
        if truncated:
            notes.append(
                f"W&B run {run_id}: its log is cut short (still running, or killed); read it up to there"
            )
        curves.append(_curves(rows, run_id, path))
        runs.append({"run_id": run_id, "source": "wandb", **facts})
    table = pd.concat(curves, ignore_index=True)
    table.attrs["notices"] = notes
    return pd.DataFrame(runs), table


class WandbOfflineImporter(Importer):
    name = "wandb"
    reads = "a W&B offline run folder, its run-<id>.wandb file, or a wandb/ folder of runs"

    def accepts(self, source: Any) -> bool:
        path = as_path(source)
        if path is None:
            return False
        if path.is_file():
            return path.suffix == ".wandb" or header(path, 4) == _IDENT
        return bool(run_files(path))

    def load(self, source: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        return load_wandb_offline(source)
