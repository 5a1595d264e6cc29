"""Import TensorBoard event directories with TensorBoard's own event reader.

Every directory under the root that holds ``events.out.tfevents.*`` files is one run, named by its path relative
to the root (the root itself is named after its folder). A run folder whose name is a split (``train``,
``validation``, ``val``, ``test``, ``eval``), as Keras' TensorBoard callback writes them, contributes that split
to its parent run, so ``logs/run1/validation`` logging ``epoch_accuracy`` becomes ``val_acc`` of run ``run1``.
Tags map to curve columns by :func:`~traindx.store.importers.names.canonical_metric` (``train/acc``,
``Accuracy/val``, ``val_loss``, ``epoch_accuracy``, ...) and steps become 1-based epochs as described in
:mod:`traindx.store.importers.history`. Both plain scalar summaries (``torch.utils.tensorboard``) and scalar
tensor summaries (TensorFlow 2 / Keras) are read.

Example:
    >>> import tempfile
    >>> from torch.utils.tensorboard import SummaryWriter
    >>> root = tempfile.mkdtemp()
    >>> with SummaryWriter(root + "/run1") as w:
    ...     for epoch in (1, 2):
    ...         w.add_scalar("train/acc", 0.4 * epoch, epoch)
    >>> runs, curves = load_tensorboard(root)
    >>> curves[["run_id", "epoch", "train_acc"]].values.tolist()
    [['run1', 1, 0.4000000059604645], ['run1', 2, 0.800000011920929]]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from traindx.errors import InputError, require
from traindx.store.importers.base import Importer, as_path
from traindx.store.importers.history import history_to_curves
from traindx.store.importers.names import split_of

EVENT_MARK = "tfevents"


def find_event_dirs(root: str | os.PathLike) -> list[Path]:
    """Directories under ``root`` (itself included) that hold TensorBoard event files, sorted."""
    root = Path(root)
    return sorted({p.parent for p in root.rglob(f"*{EVENT_MARK}*") if p.is_file()})


def _run_and_split(folder: Path, root: Path) -> tuple[str, str | None]:
    rel = folder.relative_to(root)
    split = split_of(folder.name) if rel.parts else None
    if split is not None:
        rel = rel.parent
    name = rel.as_posix() if rel.parts else root.resolve().name
    return name, split


def _scalars(folder: Path) -> list[tuple[str, int, float, float]]:
    """(tag, step, wall_time, value) for every scalar in one event directory."""
    require("tensorboard", "tensorboard")
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util

    # 0 keeps every event: the default keeps a sample of 10,000 scalars per tag, which would drop epochs
    keep = {"scalars": 0, "tensors": 0, "images": 1, "audio": 1, "histograms": 1, "compressedHistograms": 1}
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance=keep)
    acc.Reload()
    tags = acc.Tags()
    out = [(tag, e.step, e.wall_time, float(e.value)) for tag in tags["scalars"] for e in acc.Scalars(tag)]
    for tag in tags.get("tensors", []):
        if acc.SummaryMetadata(tag).plugin_data.plugin_name != "scalars":
            continue  # histograms, images, text and hparams are tensors too
        for e in acc.Tensors(tag):
            value = tensor_util.make_ndarray(e.tensor_proto)
            if value.size == 1 and value.dtype.kind in "fiu":
                out.append((tag, e.step, e.wall_time, float(value.reshape(-1)[0])))
    return out


def load_tensorboard(root: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a TensorBoard log directory into ``(runs, curves)``: one run per event directory (see module doc).

    Example:
        >>> import tempfile
        >>> load_tensorboard(tempfile.mkdtemp())
        Traceback (most recent call last):
        ...
        traindx.errors.InputError: no TensorBoard event files (events.out.tfevents.*) under ...
    """
    root = Path(root)
    folders = find_event_dirs(root)
    if not folders:
        raise InputError(
            f"no TensorBoard event files (events.out.tfevents.*) under {root}; point to the log dir you "
            "passed to SummaryWriter / the TensorBoard callback"
        )
    rows = []
    for folder in folders:
        run, split = _run_and_split(folder, root)
        for tag, step, wall, value in _scalars(folder):
            rows.append((run, split, tag, step, wall, value))
    if not rows:
        raise InputError(
            f"no scalar values in the event files under {root}; log scalars (SummaryWriter.add_scalar, the "
            "Keras TensorBoard callback); a damaged or truncated event file also reads as empty"
        )
    frame = pd.DataFrame(rows, columns=["run_id", "split", "name", "step", "wall_time", "value"])
    # the last write wins where a resumed run logged a step twice
    frame = frame.sort_values("wall_time", kind="stable")
    curves = history_to_curves(frame, source=f"TensorBoard logs {root}")
    runs = pd.DataFrame({"run_id": sorted(curves["run_id"].unique()), "source": "tensorboard"})
    return runs, curves


class TensorBoardImporter(Importer):
    name = "tensorboard"
    reads = "a TensorBoard log dir (event files of SummaryWriter, Keras, Lightning), or one event file"

    def accepts(self, source: Any) -> bool:
        path = as_path(source)
        if path is None:
            return False
        return EVENT_MARK in path.name if path.is_file() else bool(find_event_dirs(path))

    def load(self, source: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        path = as_path(source)
        return load_tensorboard(path.parent if path.is_file() else path)
