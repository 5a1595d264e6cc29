"""The product surface: how long the demo takes, and how quickly ``traindx diagnose`` answers.

Three measurements, each from a fresh process as a user would run it (``python -m traindx``, the same entry
point as the ``traindx`` script):

1. ``traindx demo`` (the full demo, as ``bash scripts/demo.sh`` runs it after the install) and
   ``traindx demo --quick``: wall time against the 2-minute target;
2. ``traindx diagnose one.csv`` (one run) and ``traindx diagnose thousand.csv --summary`` (1,000 runs) with the
   shipped model file, against two baselines measured in the same run: the interpreter start-up with
   ``python -m traindx --version`` (what any command pays), and the refit the default model needed before it
   shipped as data (``fit_default`` on the shipped corpus, in-process);
3. an A/A control: the one-run diagnosis timed twice more, so the spread between repeats shows the noise.

Usage:
    TRAINDX_MNIST_DIR=../shared/data/mnist .venv/bin/python benchmarks/surface.py
    .venv/bin/python benchmarks/surface.py --skip-demo --skip-refit    # the diagnose timings alone
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def wall(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return seconds


def curves(n_runs: int, seed: int = 0) -> pd.DataFrame:
    """Curves shaped like real ones (saturating accuracy, some runs overfitting), 10 epochs each."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_runs):
        rate, gap = rng.uniform(0.2, 0.8), rng.choice([0.0, 0.02])
        for e in range(1, 11):
            t = 0.98 * (1 - np.exp(-rate * e)) + rng.normal(0, 0.003)
            v = t - gap * e + rng.normal(0, 0.003)
            rows.append((f"run{i}", e, t, v, v - rng.normal(0, 0.01), 1 - t, 1 - v))
    cols = ["run_id", "epoch", "train_acc", "val_acc", "test_acc", "train_loss", "val_loss"]
    return pd.DataFrame(rows, columns=cols)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--skip-refit", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    tdx = [sys.executable, "-m", "traindx"]
    tmp = Path(tempfile.mkdtemp())
    print(f"load average before: {os.getloadavg()[0]:.2f}")

    if not args.skip_demo:
        for name, extra in (("demo", []), ("demo --quick", ["--quick"])):
            s = wall([*tdx, "demo", *extra, "--out", str(tmp / name.replace(" ", ""))], env)
            print(f"traindx {name:<14} {s:6.1f} s   ratio to the 120 s target {s / 120:.2f}")

    one, thousand = tmp / "one.csv", tmp / "thousand.csv"
    curves(1).to_csv(one, index=False)
    curves(1000, seed=1).to_csv(thousand, index=False)
    startup = statistics.median(wall([*tdx, "--version"], env) for _ in range(args.repeats))
    ones = [wall([*tdx, "diagnose", str(one)], env) for _ in range(args.repeats)]
    many = statistics.median(
        wall([*tdx, "diagnose", str(thousand), "--summary"], env) for _ in range(args.repeats)
    )
    print(f"start-up (traindx --version)     {startup:6.2f} s (median of {args.repeats})")
    print(f"diagnose 1 run                   {statistics.median(ones):6.2f} s (median; target < 2 s)")
    print(f"  A/A: the {args.repeats} repeats        " + ", ".join(f"{s:.2f}" for s in ones) + " s")
    print(f"diagnose 1,000 runs              {many:6.2f} s (median; target < 5 s)")
    print(f"  ratio 1 run / start-up         {statistics.median(ones) / startup:6.2f}")
    if not args.skip_refit:
        from traindx.diagnose.default import fit_default, load_corpus

        t0 = time.perf_counter()
        fit_default(*load_corpus())
        refit = time.perf_counter() - t0
        print(f"refit of the default (before)    {refit:6.1f} s (in-process, corpus loaded)")
        print(f"  ratio refit / diagnose 1 run   {refit / statistics.median(ones):6.1f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
