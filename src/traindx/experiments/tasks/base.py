"""The :class:`Task`: a named classification problem with its splits, plus where task files are found.

A task holds train and test arrays (and a validation split when its source publishes one), the number of
classes and its modality. Float inputs are shaped ``(n, *input_shape)``; text tasks hold int64 token ids
(0 = padding, 1 = out of vocabulary) shaped ``(n, length)`` with their ``vocab_size``.

Files are read from the data dir: ``$TRAINDX_DATA_DIR`` when set (only there), else ``../shared/data`` beside
the source checkout, else ``~/.cache/traindx/data``. Decoded arrays and meta-features are cached under ``$TRAINDX_CACHE_DIR``
(default ``~/.cache/traindx``).

Example:
    >>> import numpy as np
    >>> t = Task("toy", "tabular", np.zeros((4, 3), np.float32), np.array([0, 1, 0, 1]),
    ...          np.zeros((2, 3), np.float32), np.array([0, 1]), n_classes=2)
    >>> t.input_shape, t.n_train
    ((3,), 4)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from traindx.errors import InputError
from traindx.experiments.vocabulary import MODALITIES

_REPO_ROOT = Path(__file__).resolve().parents[4]


@dataclass(frozen=True, eq=False)
class Task:
    """A classification task: splits, classes, modality and where it came from."""

    name: str
    modality: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    source: str = ""
    classes: tuple[str, ...] = ()
    vocab_size: int = 0  # text: token ids are in [0, vocab_size)
    bounded: bool = False  # inputs lie in [0, 1] (images): shifted inputs are clipped back into it
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise InputError(
                f"task {self.name!r}: unknown modality {self.modality!r}; use one of {MODALITIES}"
            )
        for part in ("train", "test"):
            x, y = getattr(self, f"x_{part}"), getattr(self, f"y_{part}")
            if len(x) != len(y):
                raise InputError(f"task {self.name!r}: {len(x)} {part} inputs but {len(y)} labels")
        if len(np.unique(self.y_train)) < 2:
            raise InputError(
                f"task {self.name!r}: the target has a single class in the training split; a classification "
                "task needs at least two classes (check the target column)"
            )

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example, e.g. ``(1, 28, 28)``."""
        return tuple(self.x_train.shape[1:])

    @property
    def n_train(self) -> int:
        """Training examples available."""
        return len(self.y_train)

    @property
    def tokens(self) -> bool:
        """Whether inputs are token ids (text) rather than floats."""
        return self.vocab_size > 0

    def __repr__(self) -> str:
        return (
            f"Task({self.name!r}, {self.modality}, train={len(self.y_train)}, test={len(self.y_test)}, "
            f"input_shape={self.input_shape}, n_classes={self.n_classes})"
        )


def data_dir(required: bool = True) -> Path:
    """The folder task files are read from (see the module docstring for the order).

    Example:
        >>> data_dir(required=False).name
        'data'
    """
    env = os.environ.get("TRAINDX_DATA_DIR")
    # a folder named in the setting is the only one looked at: a typo there is an error, not a silent fallback
    candidates = (
        [Path(env).expanduser()]
        if env
        else [_REPO_ROOT.parent / "shared" / "data", Path.home() / ".cache" / "traindx" / "data"]
    )
    for path in candidates:
        if path.is_dir():
            return path
    if required:
        raise InputError(
            f"task data dir not found (looked in: {', '.join(map(str, candidates))}); set $TRAINDX_DATA_DIR "
            "to the folder holding pmlb/, ucr/, nltk/, ... (the task suite's data folder)"
        )
    return candidates[0]


def data_file(*parts: str) -> Path:
    """A file under the data dir, with an error naming the file and the setting when it is missing."""
    root = data_dir()
    path = root.joinpath(*parts)
    if not path.exists():
        raise InputError(
            f"{path} not found; put {'/'.join(parts)} under the data dir {root} or set $TRAINDX_DATA_DIR"
        )
    return path


def cache_dir(*parts: str) -> Path:
    """A folder under ``$TRAINDX_CACHE_DIR`` (default ``~/.cache/traindx``), created on demand."""
    root = Path(os.environ.get("TRAINDX_CACHE_DIR") or Path.home() / ".cache" / "traindx").expanduser()
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def split_fixed(
    x: np.ndarray, y: np.ndarray, test_size: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A fixed stratified train/test split for sources that ship without one (seeded: same split for all).

    Classes too rare to stratify (one example) go to the training split.

    Example:
        >>> x, y = np.arange(8).reshape(8, 1), np.array([0, 1] * 4)
        >>> [len(a) for a in split_fixed(x, y)]
        [6, 6, 2, 2]
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(len(idx) * test_size)) if len(idx) > 1 else 0
        test.append(idx[:k])
        train.append(idx[k:])
    tr, te = rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
    return x[tr], y[tr], x[te], y[te]


def encode_labels(y) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels of any type as int64 codes 0..k-1 and the class names in code order.

    Example:
        >>> encode_labels(["b", "a", "b"])
        (array([1, 0, 1]), ('a', 'b'))
    """
    values = np.asarray(y)
    classes, codes = np.unique(values.astype(str) if values.dtype == object else values, return_inverse=True)
    return codes.astype(np.int64), tuple(str(c) for c in classes)


def standardize(x_train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Standardise features with the training split's mean and std (constant features stay 0), float32."""
    mean = x_train.mean(0)
    std = x_train.std(0)
    std = np.where(std > 0, std, 1.0)
    return [((a - mean) / std).astype(np.float32) for a in (x_train, *others)]
