"""Sweep orchestration benchmark: overhead of the sweep machinery and the speedup of parallel workers.

Measures, in one process run, the same set of real MNIST trainings swept
  (a) with 1 local worker          -> overhead = sweep wall time / sum of the runs' own wall time
  (b) with 2 local workers         -> speedup = wall(a) / wall(b)
  (c) in this process with 2 torch threads (one process, many threads: the alternative to a process pool)
Targets (issue 3): overhead <= 1.10, speedup >= 1.5x on a 2-core machine. Check `uptime` first: other load
on the machine lowers the speedup.

    TRAINDX_MNIST_DIR=../shared/data/mnist .venv/bin/python benchmarks/sweep.py
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from traindx.experiments.spec import parse_spec
from traindx.experiments.sweep import run_sweep
from traindx.store import RunStore


def _spec(dataset: str, epochs: int) -> dict:
    return {
        "name": "bench",
        "base": {"dataset": dataset, "n_train": 2000, "val_size": 500, "eval_subset": 500, "epochs": epochs},
        "grid": {"model": ["mlp_small", "mlp_large", "cnn_small", "cnn_large"], "seed": [0, 1]},
    }


def _sweep(spec, workers: int, threads: int = 1) -> tuple[float, float]:
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "bench.duckdb")
        t0 = time.perf_counter()
        summary = run_sweep(spec, store, workers=workers)
        wall = time.perf_counter() - t0
        assert summary.finished == len(spec), summary
        return wall, summary.run_seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--skip-threads", action="store_true", help="skip the one-process, two-thread variant")
    args = ap.parse_args()
    spec = parse_spec(_spec(args.dataset, args.epochs))
    print(f"load average before: {os.getloadavg()}; {len(spec)} runs, {args.epochs} epochs each")
    w1, runs1 = _sweep(spec, workers=1)
    w2, runs2 = _sweep(spec, workers=2)
    print(
        f"1 worker : wall {w1:7.1f}s, sum of run times {runs1:7.1f}s, overhead {w1 / runs1:.3f} (target <= 1.10)"
    )
    print(
        f"2 workers: wall {w2:7.1f}s, sum of run times {runs2:7.1f}s, speedup over 1 worker {w1 / w2:.2f}x (target >= 1.5x)"
    )
    if not args.skip_threads:
        wt, _ = _sweep(spec, workers=0, threads=2)
        print(f"1 process, 2 torch threads: wall {wt:7.1f}s, 2 workers are {wt / w2:.2f}x faster")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
