"""Shared test setup: quiet, single-threaded torch and real MNIST when it sits beside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
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


_CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def browser_dom() -> Callable[..., str]:
    """``browser_dom(page, budget_ms=5000)``: the DOM of an HTML file after headless Chromium ran its scripts.

    Skips, saying why, where Debian's chromium is missing (the CI script installs it).
    """
    if _CHROMIUM is None:
        pytest.skip("needs Debian's chromium (the CI script installs it)")

    def render(page: Path, budget_ms: int = 5000, timeout: float = 120) -> str:
        cmd = [
            _CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tempfile.mkdtemp()}", f"--virtual-time-budget={budget_ms}", "--dump-dom",
            Path(page).as_uri(),
        ]  # fmt: skip
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout).stdout

    return render
