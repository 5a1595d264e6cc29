"""Monitor overhead: wall-time ratio of monitored to unmonitored training, interleaved in one process.

Four models (CPU, one torch thread): an MLP and a CNN with BatchNorm on real MNIST, a character-level LSTM and a
small GPT-style transformer on tiny shakespeare (see benchmarks/zoo.py). Per model, four arms train from the
same initialisation on the same batches: ``plain`` (no monitor), ``control`` (a second unmonitored copy: its
ratio to ``plain`` is the benchmark's own noise, an A/A test), ``default`` (``tdx.Monitor(model, opt)``: 5%
budget, adaptive sampling) and ``every_step`` (``every=1``, all indicators every step). Two settings:

- long run: one persistent copy per arm; blocks of ``--block`` steps run in turn, arm order shuffled per
  repeat, after one unrecorded warm-up block per arm; each block ends with ``epoch_end``;
- 50-step runs: each repeat builds every arm afresh (the monitor's constructor is inside the timed region) and
  trains ``--short`` steps, so the start of a run is what is measured.

Cells: median ratio to ``plain`` [interquartile range] over repeats; CPU: the same over process CPU time;
own: the ratio the monitor's ``overhead`` implies (1 / (1 - overhead)) and its gap to the measured ratio in
percentage points.

Run:
    TRAINDX_MNIST_DIR=/path/to/mnist .venv/bin/python benchmarks/overhead.py            # ~4 min on 2 cores
    TRAINDX_MNIST_DIR=/path/to/mnist .venv/bin/python benchmarks/overhead.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from zoo import CharRNN, TinyGPT, char_batch, char_data, cnn_bn

import traindx as tdx
from traindx.experiments.datasets import load
from traindx.experiments.models import build_model, count_params

ARMS = ("plain", "control", "default", "every_step")
MONITORED = ("control", "default", "every_step")


@dataclass
class Kind:
    """How to build one model kind and feed it: ``build() -> (model, optimizer)``, ``batch(i) -> (x, y)``."""

    name: str
    build: Callable[[], tuple[nn.Module, torch.optim.Optimizer]]
    batch: Callable[[int], tuple[torch.Tensor, torch.Tensor]]
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def kinds(batch: int) -> dict[str, Kind]:
    ds = load("mnist")  # real MNIST only: the acceptance figure is about MNIST-sized steps
    x = torch.from_numpy(ds.x_train[:10000]).float()
    y = torch.from_numpy(ds.y_train[:10000]).long()
    text, vocab = char_data()
    seq = 64
    g = torch.Generator().manual_seed(0)
    chars = [char_batch(text, 32, seq, g) for _ in range(64)]

    def img(i: int):
        j = (i * batch) % (len(x) - batch)
        return x[j : j + batch], y[j : j + batch]

    def lm(i: int):
        return chars[i % len(chars)]

    def ce(out, t):
        return nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), t.reshape(-1))

    def sgd(model):
        return model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def adam(model):
        return model, torch.optim.Adam(model.parameters(), lr=3e-3)

    return {
        "mlp": Kind("mlp", lambda: sgd(build_model("mlp_large", tuple(x.shape[1:]), 10)), img, ce),
        "cnn_bn": Kind("cnn_bn", lambda: sgd(cnn_bn(1, 10)), img, ce),
        "lstm": Kind("lstm", lambda: adam(CharRNN(vocab, "lstm")), lm, ce),
        "transformer": Kind("transformer", lambda: adam(TinyGPT(vocab, seq=seq)), lm, ce),
    }


class Arm:
    """One training copy: model, optimizer, optional monitor and its own batch counter."""

    def __init__(self, name: str, kind: Kind) -> None:
        self.name, self.kind = name, kind
        torch.manual_seed(0)
        self.model, self.opt = kind.build()
        self.i = 0
        self.monitor = None

    def attach(self) -> None:
        if self.name == "default":
            self.monitor = tdx.Monitor(self.model, self.opt)
        elif self.name == "every_step":
            self.monitor = tdx.Monitor(self.model, self.opt, every=1)

    def train(self, steps: int) -> float:
        total = 0.0
        for _ in range(steps):
            xb, yb = self.kind.batch(self.i)
            self.i += 1
            loss = self.kind.loss(self.model(xb), yb)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            if self.monitor is not None:
                self.monitor.step(loss.detach())
            total += float(loss.detach())
        return total / steps

    def block(self, steps: int) -> tuple[float, float]:
        """Train ``steps`` steps and end an epoch; return (wall time, process CPU time)."""
        c0, t0 = time.process_time(), time.perf_counter()  # the CPU clock outside the wall region
        mean = self.train(steps)
        if self.monitor is not None:
            self.monitor.epoch_end(train_loss=mean)
        wall = time.perf_counter() - t0
        return wall, time.process_time() - c0

    def run(self, steps: int) -> tuple[float, float, float | None]:
        """A whole short run, monitor construction included: (wall, CPU, the monitor's own overhead)."""
        c0, t0 = time.process_time(), time.perf_counter()  # the CPU clock outside the wall region
        self.attach()
        self.train(steps)
        if self.monitor is not None:
            self.monitor.close()
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        return wall, cpu, None if self.monitor is None else self.monitor.overhead


def _cell(ratios: list[float], cpu: list[float], own: list[float | None]) -> dict:
    q1, med, q3 = np.percentile(ratios, [25, 50, 75])
    owns = [o for o in own if o is not None]
    implied = float(np.median([1 / (1 - o) for o in owns])) if owns else None
    return {
        "median_ratio": float(med),
        "q1": float(q1),
        "q3": float(q3),
        "cpu_median_ratio": float(np.median(cpu)),
        "own_implied_ratio": implied,
        "own_gap_points": None if implied is None else 100 * (float(med) - implied),
    }


def measure_long(kind: Kind, *, repeats: int, block: int, rng: random.Random) -> dict:
    arms = {a: Arm(a, kind) for a in ARMS}
    for arm in arms.values():
        arm.attach()
        arm.block(block)  # warm-up, unrecorded
    ratios = {a: [] for a in MONITORED}
    cpu = {a: [] for a in MONITORED}
    for _ in range(repeats):
        order = list(ARMS)
        rng.shuffle(order)
        t = {a: arms[a].block(block) for a in order}
        for a in MONITORED:
            ratios[a].append(t[a][0] / t["plain"][0])
            cpu[a].append(t[a][1] / t["plain"][1])
    out = {}
    for a in MONITORED:
        mon = arms[a].monitor
        out[a] = _cell(ratios[a], cpu[a], [None if mon is None else mon.overhead])
        out[a]["findings"] = [] if mon is None else sorted({f.code for f in mon.findings})
        if mon is not None:
            mon.close()
    out["plain_ms_per_step"] = 1000 * statistics.median(
        [arms["plain"].block(block)[0] / block for _ in range(3)]
    )
    out["params"] = count_params(arms["plain"].model)
    return out


def measure_short(kind: Kind, *, repeats: int, steps: int, rng: random.Random) -> dict:
    ratios = {a: [] for a in MONITORED}
    cpu = {a: [] for a in MONITORED}
    own = {a: [] for a in MONITORED}
    for _ in range(repeats):
        order = list(ARMS)
        rng.shuffle(order)
        arms = {a: Arm(a, kind) for a in ARMS}  # built outside the timed region, identically for all arms
        t = {a: arms[a].run(steps) for a in order}
        for a in MONITORED:
            ratios[a].append(t[a][0] / t["plain"][0])
            cpu[a].append(t[a][1] / t["plain"][1])
            own[a].append(t[a][2])
    return {a: _cell(ratios[a], cpu[a], own[a]) for a in MONITORED}


def _line(label: str, c: dict) -> str:
    own = (
        "-"
        if c["own_implied_ratio"] is None
        else f"{c['own_implied_ratio']:.3f}x ({c['own_gap_points']:+.1f} pt)"
    )
    return (
        f"  {label:<11} {c['median_ratio']:.3f}x [{c['q1']:.3f}, {c['q3']:.3f}]  CPU {c['cpu_median_ratio']:.3f}x  "
        f"own {own}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--block", type=int, default=50, help="training steps per timed block (long run)")
    ap.add_argument("--short", type=int, default=50, help="steps of each short run")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--models", default="mlp,cnn_bn,lstm,transformer")
    ap.add_argument("--quick", action="store_true", help="3 repeats: a smoke run, not a measurement")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats = 3
    torch.set_num_threads(1)
    all_kinds = kinds(args.batch)
    load1 = os.getloadavg()[0]
    print(
        f"overhead benchmark: torch {torch.__version__}, 1 thread, {args.repeats} repeats; long run: blocks of "
        f"{args.block} steps; short runs: {args.short} steps; load average at start {load1:.2f}"
    )
    results, ok = [], True
    for name in args.models.split(","):
        rng = random.Random(0)
        long = measure_long(all_kinds[name], repeats=args.repeats, block=args.block, rng=rng)
        short = measure_short(all_kinds[name], repeats=args.repeats, steps=args.short, rng=rng)
        results.append({"model": name, "long": long, "short": short})
        print(f"\n{name} ({long['params']:,} params): {long['plain_ms_per_step']:.2f} ms/step unmonitored")
        for a in MONITORED:
            print(_line(a, long[a]) + (f"  findings {long[a]['findings']}" if long[a]["findings"] else ""))
        print(f"  {args.short}-step runs:")
        for a in MONITORED:
            print(_line(a, short[a]))
        ok = ok and long["default"]["median_ratio"] <= 1.05 and short["default"]["median_ratio"] <= 1.05
    load2 = os.getloadavg()[0]
    print(f"\nload average at end {load2:.2f}")
    print(f"default <= 1.05x for every model, long and {args.short}-step runs: {'yes' if ok else 'NO'}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"load_start": load1, "load_end": load2, "results": results}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
