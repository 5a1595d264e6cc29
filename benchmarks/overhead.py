"""Monitor overhead: wall-time ratio of monitored to unmonitored training, interleaved in one process.

For each model (an MLP and a CNN on real MNIST, CPU, one torch thread) three copies train from the same
initialisation on the same batches: without a monitor, with ``tdx.Monitor`` at default settings (5% budget,
adaptive sampling) and with ``every=1`` (every step, all indicators). Blocks of ``--block`` steps run in turn,
arm order shuffled each repeat, so machine load drifts hit all arms alike; each repeat gives a ratio
monitored/unmonitored, and the table reports the median and the interquartile range over repeats. The same
ratio over process CPU time is printed beside it: on a loaded machine it is far less noisy than wall time.
A first unrecorded block per arm warms caches and lets the monitor calibrate its budget.

Run:
    TRAINDX_MNIST_DIR=/path/to/mnist .venv/bin/python benchmarks/overhead.py            # full
    TRAINDX_MNIST_DIR=/path/to/mnist .venv/bin/python benchmarks/overhead.py --quick    # ~20 s smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

import traindx as tdx
from traindx.experiments.datasets import load
from traindx.experiments.models import build_model, count_params

#: "control" is a second unmonitored copy: its ratio to "plain" is the benchmark's own noise floor (A/A test)
ARMS = ("plain", "control", "default", "every_step")
MODELS = {"mlp": "mlp_large", "cnn": "cnn_large"}


class Arm:
    """One training copy: model, optimizer, optional monitor and its own batch cursor."""

    def __init__(self, kind: str, model_name: str, x: torch.Tensor, y: torch.Tensor, batch: int) -> None:
        torch.manual_seed(0)
        self.model = build_model(model_name, tuple(x.shape[1:]), 10)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.05, momentum=0.9)
        self.loss_fn = nn.CrossEntropyLoss()
        self.x, self.y, self.batch = x, y, batch
        self.cursor = 0
        self.monitor = None
        if kind == "default":
            self.monitor = tdx.Monitor(self.model, self.opt)
        elif kind == "every_step":
            self.monitor = tdx.Monitor(self.model, self.opt, every=1)
        self.times: list[float] = []

    def block(self, steps: int) -> tuple[float, float]:
        """Train ``steps`` steps; return (wall time, process CPU time)."""
        n = len(self.x)
        t0, c0 = time.perf_counter(), time.process_time()
        total = 0.0
        for _ in range(steps):
            if self.cursor + self.batch > n:
                self.cursor = 0
            xb = self.x[self.cursor : self.cursor + self.batch]
            yb = self.y[self.cursor : self.cursor + self.batch]
            self.cursor += self.batch
            loss = self.loss_fn(self.model(xb), yb)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            if self.monitor is not None:
                self.monitor.step(loss.detach())
            total += float(loss.detach())
        if self.monitor is not None:
            self.monitor.epoch_end(train_loss=total / steps)
        return time.perf_counter() - t0, time.process_time() - c0


def measure(model_key: str, x, y, *, repeats: int, block: int, batch: int, seed: int) -> dict:
    model_name = MODELS[model_key]
    arms = {kind: Arm(kind, model_name, x, y, batch) for kind in ARMS}
    for arm in arms.values():  # warm-up, unrecorded
        arm.block(block)
    rng = random.Random(seed)
    ratios: dict[str, list[float]] = {"control": [], "default": [], "every_step": []}
    cpu_ratios: dict[str, list[float]] = {kind: [] for kind in ratios}
    for _ in range(repeats):
        order = list(ARMS)
        rng.shuffle(order)
        t = {kind: arms[kind].block(block) for kind in order}
        for kind in ratios:
            ratios[kind].append(t[kind][0] / t["plain"][0])
            cpu_ratios[kind].append(t[kind][1] / t["plain"][1])
        for kind, (secs, _cpu) in t.items():
            arms[kind].times.append(secs)
    out = {
        "model": model_key,
        "architecture": model_name,
        "params": count_params(arms["plain"].model),
        "plain_ms_per_step": 1000 * statistics.median(arms["plain"].times) / block,
    }
    for kind, rs in ratios.items():
        q1, med, q3 = np.percentile(rs, [25, 50, 75])
        mon = arms[kind].monitor
        out[kind] = {
            "median_ratio": float(med),
            "q1": float(q1),
            "q3": float(q3),
            "cpu_median_ratio": float(np.median(cpu_ratios[kind])),
            "self_reported_overhead": None if mon is None else _overhead(mon),
            "findings": [] if mon is None else sorted({f.code for f in mon.findings}),
        }
        if mon is not None:
            mon.close()
    return out


def _overhead(mon) -> float | None:
    value = getattr(mon, "overhead", None)
    if isinstance(value, dict):  # a breakdown: take the total share when given
        value = value.get("fraction", value.get("total"))
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--block", type=int, default=50, help="training steps per timed block")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument(
        "--quick", action="store_true", help="5 repeats of 20 steps: a smoke run, not a measurement"
    )
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.block = 5, 20
    torch.set_num_threads(1)
    ds = load("mnist")  # real MNIST only: the acceptance figure is about MNIST-sized steps
    x = torch.from_numpy(ds.x_train[:10000]).float()
    y = torch.from_numpy(ds.y_train[:10000]).long()
    load1 = os.getloadavg()[0]
    print(
        f"overhead benchmark: torch {torch.__version__}, 1 thread, batch {args.batch}, "
        f"{args.repeats} repeats x {args.block} steps, load average at start {load1:.2f}"
    )
    results = []
    for key in args.models.split(","):
        r = measure(key, x, y, repeats=args.repeats, block=args.block, batch=args.batch, seed=0)
        results.append(r)
        print(
            f"\n{key} ({r['architecture']}, {r['params']:,} params): {r['plain_ms_per_step']:.2f} ms/step unmonitored"
        )
        for kind in ("control", "default", "every_step"):
            s = r[kind]
            rep = s["self_reported_overhead"]
            rep_text = "-" if rep is None else f"{rep:.3f}"
            print(
                f"  {kind:<11} median {s['median_ratio']:.3f}x  IQR [{s['q1']:.3f}, {s['q3']:.3f}]  "
                f"CPU-time {s['cpu_median_ratio']:.3f}x  "
                f"monitor's own estimate {rep_text}  findings {s['findings'] or 'none'}"
            )
    load2 = os.getloadavg()[0]
    print(f"\nload average at end {load2:.2f}")
    ok = all(r["default"]["median_ratio"] <= 1.05 for r in results)
    print(f"default <= 1.05x for all models: {'yes' if ok else 'NO'}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"load_start": load1, "load_end": load2, "results": results}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
