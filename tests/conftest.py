"""Shared test setup: quiet, single-threaded torch and real MNIST when it sits beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
_SHARED_MNIST = _SHARED_DATA / "mnist"
if "TRAINDX_DATA_DIR" not in os.environ and _SHARED_DATA.is_dir():
    os.environ["TRAINDX_DATA_DIR"] = str(_SHARED_DATA)
if "TRAINDX_MNIST_DIR" not in os.environ and _SHARED_MNIST.is_dir():
    os.environ["TRAINDX_MNIST_DIR"] = str(_SHARED_MNIST)


@pytest.fixture(autouse=True, scope="session")
def _single_thread_torch():
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    torch.set_num_threads(1)
    yield


@pytest.fixture
def mnist_dir() -> Path:
    """Real MNIST IDX files; tests that need them are skipped with the reason when absent."""
    path = os.environ.get("TRAINDX_MNIST_DIR")
    if not path or not Path(path).is_dir():
        pytest.skip("real MNIST not available: set TRAINDX_MNIST_DIR to a folder with the IDX .gz files")
    return Path(path)
