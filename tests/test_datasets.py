"""Datasets (IDX loader with checksums, digits, MNIST-1D) and reproducible data conditions."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from traindx.errors import InputError
from traindx.experiments import conditions as C
from traindx.experiments.datasets import CHECKSUMS, load, read_idx

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def test_mnist_loads_and_verifies(mnist_dir):
    ds = load("mnist", root=mnist_dir)
    assert ds.x_train.shape == (60000, 1, 28, 28) and ds.x_test.shape == (10000, 1, 28, 28)
    assert ds.x_train.dtype == np.float32 and ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert ds.y_train[:5].tolist() == [5, 0, 4, 1, 9]  # the canonical first training labels
    assert np.bincount(ds.y_test).tolist()[:3] == [980, 1135, 1032]
    assert ds.n_classes == 10 and ds.input_shape == (1, 28, 28)


@pytest.mark.skipif(
    not FASHION_DIR.is_dir(),
    reason="needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist; the CI script installs it)",
)
def test_fashion_mnist_from_debian_folder():
    ds = load("fashion_mnist", root=FASHION_DIR)
    assert ds.x_train.shape == (60000, 1, 28, 28)
    assert np.bincount(ds.y_train).tolist() == [6000] * 10  # Fashion-MNIST is exactly balanced


def test_corrupt_file_fails_checksum(mnist_dir, tmp_path):
    for f in mnist_dir.glob("*.gz"):
        shutil.copy(f, tmp_path / f.name)
    raw = gzip.decompress((tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes())
    bad = raw[:-1] + bytes([(raw[-1] + 1) % 10])
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(bad)  # a raw (uncompressed) copy is read too
    with pytest.raises(InputError, match="checksum"):
        read_idx(tmp_path, "t10k-labels-idx1-ubyte", CHECKSUMS["mnist"]["t10k-labels-idx1-ubyte"])
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(raw)
    labels = read_idx(tmp_path, "t10k-labels-idx1-ubyte", CHECKSUMS["mnist"]["t10k-labels-idx1-ubyte"])
    assert labels.shape == (10000,)


def test_missing_files_say_where_and_how(monkeypatch, tmp_path):
    monkeypatch.delenv("TRAINDX_MNIST_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("TRAINDX_DATA_DIR", str(empty))  # the task suite's mnist/ is a candidate too
    with pytest.raises(InputError, match="looked in") as info:
        load("mnist", root=empty)
    assert str(empty) in str(info.value) and "download=True" in str(info.value)


def test_unknown_dataset():
    with pytest.raises(InputError, match="unknown dataset"):
        load("cifar")


def test_digits_and_mnist1d_shapes():
    d = load("digits")
    assert d.x_train.shape[1:] == (1, 8, 8) and len(d.x_train) + len(d.x_test) == 1797
    assert d.x_train.min() >= 0.0 and d.x_train.max() <= 1.0
    m = load("mnist1d")
    assert m.x_train.shape == (4000, 1, 40) and m.x_test.shape == (1000, 1, 40)
    assert m.x_train.dtype == np.float32 and m.x_test.min() >= 0.0 and m.x_test.max() <= 1.0


def test_stratified_sample_and_imbalance():
    y = np.repeat(np.arange(10), 100)
    idx = C.stratified_sample(y, 200, 0)
    assert len(set(idx)) == 200 and np.bincount(y[idx]).tolist() == [20] * 10
    w = C.class_weights(10, 0.1, 0)
    assert sorted(w.tolist()) == [0.1] * 5 + [1.0] * 5
    idx = C.stratified_sample(y, 550, 0, w)
    counts = np.bincount(y[idx], minlength=10)
    assert counts[w == 0.1].tolist() == [10] * 5 and counts[w == 1.0].tolist() == [100] * 5
    assert (C.stratified_sample(y, 200, 3) == C.stratified_sample(y, 200, 3)).all()


def test_label_noise_fraction():
    y = np.zeros(20000, dtype=int)
    noisy = C.add_label_noise(y, 0.5, 10, 0)
    # half of the labels redrawn uniformly: 45% end up wrong
    assert abs((noisy != 0).mean() - 0.45) < 0.02
    with pytest.raises(InputError):
        C.add_label_noise(y, 1.5, 10, 0)


@pytest.mark.parametrize("kind", ["noise", "invert", "blur", "rotate", "contrast"])
def test_shifts_change_images_and_stay_in_range(kind):
    x = load("digits").x_test[:50]
    out = C.apply_shift(x, kind, None, 0)
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.abs(out - x).mean() > 0.01
    assert (C.apply_shift(x, "none") == x).all()


def test_shift_errors():
    x1d = load("mnist1d").x_test[:4]
    with pytest.raises(InputError, match="2-D"):
        C.apply_shift(x1d, "rotate")
    assert C.apply_shift(x1d, "blur").shape == x1d.shape
    with pytest.raises(InputError, match="unknown shift"):
        C.apply_shift(x1d, "fog")
