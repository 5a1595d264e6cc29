"""Tasks generated or bundled offline: scikit-learn's digits and ``make_*`` generators, and MNIST-1D.

Every generator is seeded, so a task is the same on every machine.

Example:
    >>> from traindx.experiments.tasks import load
    >>> load("moons").input_shape
    (2,)
"""

from __future__ import annotations

import numpy as np

from traindx.experiments import datasets
from traindx.experiments.tasks.base import Task, split_fixed, standardize
from traindx.experiments.tasks.registry import TaskInfo


def _digits() -> Task:
    ds = datasets.load("digits")
    return Task("digits", "image", ds.x_train, ds.y_train, ds.x_test, ds.y_test, 10,
                source="scikit-learn load_digits", bounded=True)  # fmt: skip


def _mnist1d() -> Task:
    ds = datasets.load("mnist1d")
    return Task("mnist1d", "timeseries", ds.x_train, ds.y_train, ds.x_test, ds.y_test, 10,
                source="mnist1d make_dataset (default arguments)", bounded=True)  # fmt: skip


def _generated(name: str) -> Task:
    from sklearn import datasets as sk

    if name == "moons":
        x, y = sk.make_moons(n_samples=3000, noise=0.3, random_state=0)
    elif name == "circles":
        x, y = sk.make_circles(n_samples=3000, noise=0.2, factor=0.5, random_state=0)
    elif name == "synthetic_easy":
        x, y = sk.make_classification(
            n_samples=4000, n_features=20, n_informative=10, n_classes=4, class_sep=1.5, random_state=0
        )
    else:  # synthetic_hard: many classes, few informative features, 5% flipped labels
        x, y = sk.make_classification(
            n_samples=4000, n_features=40, n_informative=6, n_redundant=4, n_classes=8,
            n_clusters_per_class=2, class_sep=0.8, flip_y=0.05, random_state=0,
        )  # fmt: skip
    x_tr, y_tr, x_te, y_te = split_fixed(x.astype(np.float32), y.astype(np.int64))
    x_tr, x_te = standardize(x_tr, x_te)
    return Task(name, "tabular", x_tr, y_tr, x_te, y_te, int(y.max()) + 1, source=f"scikit-learn {name}")


_SK = "BSD-3 (scikit-learn)"


def entries() -> list[TaskInfo]:
    out = [
        TaskInfo("digits", "image", "sklearn", _digits, licence=_SK, disk_cache=False,
                 description="8x8 digits, 1,347 / 450"),
        TaskInfo("mnist1d", "timeseries", "mnist1d", _mnist1d, licence="Apache-2.0 (mnist1d)",
                 disk_cache=False, description="MNIST-1D, 4,000 / 1,000 series of length 40"),
    ]  # fmt: skip
    for name in ("moons", "circles", "synthetic_easy", "synthetic_hard"):
        out.append(TaskInfo(name, "tabular", "sklearn", lambda n=name: _generated(n), licence=_SK,
                            disk_cache=False, description=f"scikit-learn generator ({name})"))  # fmt: skip
    return out
