"""Datasets for experiment corpora: MNIST and Fashion-MNIST (IDX files), scikit-learn digits and MNIST-1D.

IDX files are found in this order: the ``root`` argument, ``$TRAINDX_MNIST_DIR`` /
``$TRAINDX_FASHION_MNIST_DIR``, ``~/.cache/traindx/<name>``, the Debian ``dataset-fashion-mnist`` folder
``/usr/share/datasets/fashion-mnist``, and, with ``download=True``, the canonical mirrors. Every file is checked
against the canonical MD5 of its *uncompressed* bytes, so a gzipped or a raw copy both verify.

Example:
    >>> from traindx.experiments.datasets import load
    >>> ds = load("digits")
    >>> ds.x_train.shape[1:], ds.n_classes
    ((1, 8, 8), 10)
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import struct
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from traindx.errors import InputError

NAMES = ("mnist", "fashion_mnist", "digits", "mnist1d")

_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# MD5 of the uncompressed IDX files. MNIST: LeCun et al.'s canonical files. Fashion-MNIST: computed from the
# Debian ``dataset-fashion-mnist`` files and identical to the uncompressed checksums Zalando's files give
# (the published MD5s of the .gz files, 8d4fb7e6..., differ only because gzip headers differ between copies).
CHECKSUMS: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}

MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/"],
    "fashion_mnist": ["https://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}
_ENV = {"mnist": "TRAINDX_MNIST_DIR", "fashion_mnist": "TRAINDX_FASHION_MNIST_DIR"}
_SYSTEM_DIRS = {"fashion_mnist": [Path("/usr/share/datasets/fashion-mnist")]}


@dataclass(frozen=True)
class Dataset:
    """A classification dataset: float32 inputs in [0, 1] shaped (n, channels, ...) and int64 labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example, e.g. ``(1, 28, 28)``."""
        return tuple(self.x_train.shape[1:])


def load(name: str, root: str | os.PathLike | None = None, download: bool = False) -> Dataset:
    """Load a dataset by name: ``"mnist"``, ``"fashion_mnist"``, ``"digits"`` or ``"mnist1d"``.

    Results are cached per process, so sweep workers read and verify each file once.

    Example:
        >>> load("mnist1d").x_train.shape
        (4000, 1, 40)
    """
    if name not in NAMES:
        raise InputError(f"unknown dataset {name!r}; use one of {', '.join(NAMES)}")
    return _load_cached(name, None if root is None else str(root), bool(download))


@functools.lru_cache(maxsize=8)
def _load_cached(name: str, root: str | None, download: bool) -> Dataset:
    if name == "digits":
        return _load_digits()
    if name == "mnist1d":
        return _load_mnist1d()
    folder = find_idx_dir(name, root, download)
    parts = {key: read_idx(folder, base, CHECKSUMS[name][base]) for key, base in _FILES.items()}
    return Dataset(
        name=name,
        x_train=(parts["train_images"][:, None].astype(np.float32) / 255.0),
        y_train=parts["train_labels"].astype(np.int64),
        x_test=(parts["test_images"][:, None].astype(np.float32) / 255.0),
        y_test=parts["test_labels"].astype(np.int64),
        n_classes=10,
    )


def _candidates(name: str, root: str | None) -> list[Path]:
    dirs: list[Path] = []
    if root is not None:
        dirs.append(Path(root).expanduser())
    env = os.environ.get(_ENV[name])
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(Path.home() / ".cache" / "traindx" / name)
    dirs.extend(_SYSTEM_DIRS.get(name, []))
    from traindx.experiments.tasks.base import data_dir

    dirs.append(data_dir(required=False) / name)  # the task suite's data dir (``mnist/`` there)
    return dirs


def _has_all(folder: Path) -> bool:
    return all((folder / b).is_file() or (folder / f"{b}.gz").is_file() for b in _FILES.values())


def find_idx_dir(name: str, root: str | os.PathLike | None = None, download: bool = False) -> Path:
    """Return the first folder holding all four IDX files of ``name``; download them if asked and none does.

    Example:
        >>> find_idx_dir("mnist").is_dir()  # doctest: +SKIP
        True
    """
    dirs = _candidates(name, None if root is None else str(root))
    for folder in dirs:
        if folder.is_dir() and _has_all(folder):
            return folder
    if download:
        return _download(name, Path.home() / ".cache" / "traindx" / name)
    looked = ", ".join(str(d) for d in dirs)
    raise InputError(
        f"{name} IDX files not found (looked in: {looked}); put the four *-ubyte(.gz) files in one of these "
        f"folders, set ${_ENV[name]} to their folder, pass root=..., or call load({name!r}, download=True)"
    )


def _download(name: str, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for base, md5 in CHECKSUMS[name].items():
        dest = target / f"{base}.gz"
        if dest.is_file() and _md5(_read_bytes(dest)) == md5:
            continue
        errors = []
        for mirror in MIRRORS[name]:
            try:
                with urllib.request.urlopen(mirror + f"{base}.gz", timeout=60) as resp:  # noqa: S310
                    data = resp.read()
            except OSError as exc:
                errors.append(f"{mirror}: {exc}")
                continue
            if _md5(gzip.decompress(data)) != md5:
                errors.append(f"{mirror}: checksum mismatch")
                continue
            tmp = dest.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(dest)
            break
        else:
            raise InputError(
                f"could not download {base}.gz for {name} ({'; '.join(errors)}); "
                f"copy the files into {target} by hand or set ${_ENV[name]}"
            )
    return target


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    try:
        return gzip.decompress(data) if path.suffix == ".gz" else data
    except (EOFError, OSError, zlib.error) as exc:
        raise InputError(
            f"{path} is truncated or not gzip data ({exc}); replace it with the original file"
        ) from None


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def read_idx(folder: str | os.PathLike, base: str, md5: str | None = None) -> np.ndarray:
    """Read one IDX file (``base`` or ``base.gz``) into a numpy array, verifying its MD5 when given.

    Example:
        >>> read_idx(find_idx_dir("mnist"), "t10k-labels-idx1-ubyte").shape  # doctest: +SKIP
        (10000,)
    """
    folder = Path(folder)
    path = folder / base if (folder / base).is_file() else folder / f"{base}.gz"
    if not path.is_file():
        raise InputError(f"{base} not found in {folder}; add {base} or {base}.gz there")
    data = _read_bytes(path)
    if md5 is not None and _md5(data) != md5:
        raise InputError(
            f"{path} fails its checksum (MD5 {_md5(data)}, expected {md5}): the file is corrupt or not the "
            "canonical one; replace it with the original file"
        )
    try:
        zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
        if zero != 0 or dtype_code != 0x08:
            raise InputError(f"{path} is not an unsigned-byte IDX file (bad magic number); replace it")
        shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
        return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)
    except (struct.error, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(
            f"{path} is truncated: its header and its length disagree ({exc}); replace it"
        ) from None


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.data.reshape(-1, 1, 8, 8) / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    # a fixed stratified 75/25 split: the set ships without one
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    return Dataset("digits", x_tr, y_tr, x_te, y_te, 10)


def _load_mnist1d() -> Dataset:
    from mnist1d.data import get_dataset_args, make_dataset

    # generated offline from the package's templates with its default arguments (4000 train / 1000 test)
    data = make_dataset(get_dataset_args())
    lo, hi = float(data["x"].min()), float(data["x"].max())

    def scale(x: np.ndarray) -> np.ndarray:
        return np.clip((x - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)[:, None, :]

    return Dataset(
        "mnist1d",
        scale(data["x"]),
        data["y"].astype(np.int64),
        scale(data["x_test"]),
        data["y_test"].astype(np.int64),
        10,
    )
