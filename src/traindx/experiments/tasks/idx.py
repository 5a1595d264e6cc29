"""MNIST-family IDX tasks: MNIST, Fashion-MNIST (train/test as published) and notMNIST (letters A-J).

The files are read and MD5-checked by :mod:`traindx.experiments.datasets`; notMNIST ships only its 10,000 test
images, so a fixed stratified 80/20 split makes its train and test sets.

Example:
    >>> from traindx.experiments.tasks import load
    >>> load("notmnist").input_shape  # doctest: +SKIP
    (1, 28, 28)
"""

from __future__ import annotations

from traindx.experiments import datasets
from traindx.experiments.tasks.base import Task, data_dir, split_fixed
from traindx.experiments.tasks.registry import TaskInfo

NOTMNIST_CHECKSUMS = {
    "t10k-images-idx3-ubyte": "1e78b07d677d6e4de2c8857bafff012e",
    "t10k-labels-idx1-ubyte": "b10b3ef34b4e468313a7b24c216c6a53",
}
_LICENCES = {
    "mnist": "as published by LeCun et al.",
    "fashion_mnist": "MIT (Zalando Research)",
    "notmnist": "repository MIT (davidflanagan/notMNIST-to-MNIST)",
}


def _idx_task(name: str) -> Task:
    ds = datasets.load(name)
    return Task(
        name, "image", ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.n_classes,
        source=f"IDX files ({name})", bounded=True,
    )  # fmt: skip


def _notmnist() -> Task:
    folder = data_dir() / "notmnist"
    x = datasets.read_idx(folder, "t10k-images-idx3-ubyte", NOTMNIST_CHECKSUMS["t10k-images-idx3-ubyte"])
    y = datasets.read_idx(folder, "t10k-labels-idx1-ubyte", NOTMNIST_CHECKSUMS["t10k-labels-idx1-ubyte"])
    x = x[:, None].astype("float32") / 255.0
    x_tr, y_tr, x_te, y_te = split_fixed(x, y.astype("int64"), test_size=0.2)
    return Task(
        "notmnist", "image", x_tr, y_tr, x_te, y_te, 10, source="notMNIST (IDX, test files)",
        classes=tuple("ABCDEFGHIJ"), bounded=True,
    )  # fmt: skip


def entries() -> list[TaskInfo]:
    out = []
    # always registered (configs name them before any file is read); loading says where the files go
    for name in ("mnist", "fashion_mnist"):
        out.append(
            TaskInfo(name, "image", "idx", lambda n=name: _idx_task(n), licence=_LICENCES[name],
                     description=f"{name} digits/clothes 28x28, 60,000 / 10,000", disk_cache=False)
        )  # fmt: skip
    folder = data_dir(required=False) / "notmnist"
    if (folder / "t10k-images-idx3-ubyte.gz").is_file() or (folder / "t10k-images-idx3-ubyte").is_file():
        out.append(
            TaskInfo("notmnist", "image", "idx", _notmnist, files=tuple(folder.iterdir()),
                     licence=_LICENCES["notmnist"], description="letters A-J 28x28, 8,000 / 2,000")
        )  # fmt: skip
    return out
