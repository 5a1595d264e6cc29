"""Wall time of ``traindx diagnose`` with the shipped model: one run, and 1,000 runs (targets < 2 s and < 5 s).

Each command runs in a fresh process, so start-up (Python, imports, reading the model file) is included.
``traindx --version`` is timed beside it as the start-up floor, and the spread of the repeats is the A/A control:
on a loaded machine the repeats disagree, and the numbers only hold when re-run idle.

Run:  .venv/bin/python benchmarks/diagnose_speed.py [--repeats 5]      (about a minute)
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


def curves(n: int, epochs: int = 20, seed: int = 0) -> pd.DataFrame:
    """n saturating runs with train/val/test accuracy and loss."""
    rng = np.random.default_rng(seed)
    e = np.arange(1, epochs + 1)
    parts = []
    for i in range(n):
        cap, rate, gap = rng.uniform(0.5, 1.0), rng.uniform(0.1, 0.6), rng.uniform(0, 0.2)
        train = cap * (1 - np.exp(-rate * e))
        val = train - gap * e / epochs
        parts.append(pd.DataFrame({"run_id": f"run{i}", "epoch": e, "train_acc": train, "val_acc": val,
                                   "test_acc": val - 0.01, "train_loss": 2 * (1 - train), "val_loss": 2 * (1 - val)}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    tdx = [sys.executable, "-m", "traindx"]
    with tempfile.TemporaryDirectory() as tmp:
        one, thousand = Path(tmp) / "one.csv", Path(tmp) / "thousand.csv"
        curves(1).to_csv(one, index=False)
        curves(1000, seed=1).to_csv(thousand, index=False)
        wall([*tdx, "diagnose", str(one)])  # warm the file cache
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        rows = {
            "start-up (traindx --version)": [wall([*tdx, "--version"]) for _ in range(args.repeats)],
            "diagnose one.csv (target < 2 s)": [
                wall([*tdx, "diagnose", str(one)]) for _ in range(args.repeats)
            ],
            "diagnose 1,000 runs (target < 5 s)": [
                wall([*tdx, "diagnose", str(thousand), "--summary"]) for _ in range(args.repeats)
            ],
        }
    for name, times in rows.items():
        print(f"{name:36s} median {statistics.median(times):5.2f} s   repeats (A/A) "
              + ", ".join(f"{t:.2f}" for t in times))  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
