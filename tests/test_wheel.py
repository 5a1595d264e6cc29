"""The built package, not the checkout: the sdist and wheel build, carry the data files, and run installed.

The wheel is installed with ``pip install --no-deps`` into a new venv whose only link to the outside is a
``.pth`` line naming this interpreter's site-packages, so the dependencies (torch, duckdb, ...) come from
there instead of being downloaded: the test stays offline and takes seconds. A ``.pth`` line adds a folder
to ``sys.path`` without running the ``.pth`` files in it, so an editable install of the checkout living there
is not picked up; the test checks that ``traindx`` is imported from the new venv. ``--ignore-installed`` makes
pip install the wheel even though it sees that environment's ``traindx`` metadata through the ``.pth`` (it
never uninstalls anything there).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("src", "pyproject.toml", "README.md", "CHANGELOG.md", "MANIFEST.in", "docs", "examples")
DATA = (
    "traindx/data/corpus/mnist_runs.parquet",
    "traindx/data/corpus/mnist_epochs.parquet",
    "traindx/data/models/default_diagnoser.npz",
    "traindx/data/models/default_diagnoser.json",
    "traindx/data/mdtree_clean.csv",
)


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert out.returncode == 0, f"{cmd}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin folder, environment) with the freshly built wheel installed."""
    pytest.importorskip("build", reason="the build package is in the dev extra: pip install -e '.[dev]'")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src_copy"  # build from a copy: the build writes build/ and *.egg-info beside the sources
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif path.exists():
            shutil.copy2(path, src / name)
    dist = tmp / "dist"
    # --no-isolation: build with this environment's setuptools instead of downloading one
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(src)])
    wheel = next(dist.glob("traindx-*.whl"))
    assert next(dist.glob("traindx-*.tar.gz"))
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    assert set(DATA) <= names, set(DATA) - names
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    site = Path(
        _run(
            [str(venv / "bin" / "python"), "-c", "import site; print(site.getsitepackages()[0])"]
        ).stdout.strip()
    )
    (site / "shared_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
          "--no-index", "--ignore-installed", "-q", str(wheel)])  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TRAINDX_CORPUS_DIR")}
    env["OMP_NUM_THREADS"] = "1"
    return venv / "bin", env, tmp


def test_the_installed_package_is_the_wheel_not_the_checkout(installed):
    bindir, env, tmp = installed
    out = _run([str(bindir / "python"), "-c", "import traindx; print(traindx.__file__)"], env=env, cwd=tmp)
    assert str(bindir.parent) in out.stdout and str(ROOT) not in out.stdout
    version = _run([str(bindir / "traindx"), "--version"], env=env, cwd=tmp).stdout
    import traindx

    assert version.strip() == f"traindx {traindx.__version__}"


def test_the_installed_package_diagnoses_with_its_shipped_model(installed):
    bindir, env, tmp = installed
    curves = tmp / "one.csv"
    curves.write_text(
        "run_id,epoch,train_acc,val_acc\n"
        + "".join(f"a,{e},{0.5 + 0.1 * e},{0.5 + 0.05 * e}\n" for e in range(1, 5))
    )
    out = _run([str(bindir / "traindx"), "diagnose", str(curves)], env=env, cwd=tmp)
    assert "run a (epoch 4)" in out.stdout and "advice" in out.stdout
    assert "refitting" not in out.stdout + out.stderr  # the shipped model file was found and matched


def test_the_installed_package_runs_the_quick_demo(installed):
    bindir, env, tmp = installed
    out = _run([str(bindir / "traindx"), "demo", "--quick", "--out", str(tmp / "demo")], env=env, cwd=tmp)
    assert "5/5 report" in out.stdout
    assert (tmp / "demo" / "report.html").stat().st_size > 1_000_000  # plotly inlined
