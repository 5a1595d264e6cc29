"""Fault benchmark: does the live monitor catch deliberately broken trainings and stay silent on healthy ones?

Each case is a small real PyTorch training (MLP/CNN, a few thousand examples, a few epochs) with a known
fault, or a healthy control. Per fault we report recall (an expected code fired), the detection step as a
fraction of the run, and on healthy runs the false-alarm rate (share with ANY warning/critical finding).
As a baseline measured on the same runs, a loss-only detector (the approach of TerminateOnNaN/divergence
checks: loss non-finite or above 1.5x its starting value) is scored the same way.

Main suite: MNIST and Fashion-MNIST. Held-out suite (``--heldout``; never used to choose thresholds):
MNIST-1D and scikit-learn digits, a wider 3-layer MLP, AdamW/RMSprop.

    .venv/bin/python benchmarks/faults.py --seeds 3            # main suite
    .venv/bin/python benchmarks/faults.py --quick --seeds 1    # smoke run
    .venv/bin/python benchmarks/faults.py --heldout --seeds 3  # generality check
    .venv/bin/python benchmarks/faults.py --realistic --seeds 1   # LMs, attention, BatchNorm, RNNs, VAE, L-BFGS,
                                                                  # Lightning, Keras 3, HF Trainer
    .venv/bin/python benchmarks/faults.py --realistic --suite heldout --seeds 1   # held-out realistic set
    .venv/bin/python benchmarks/faults.py --realistic --suite heldout2 --seeds 1  # second held-out set
    .venv/bin/python benchmarks/faults.py --realistic --suite heldout3 --seeds 1  # third held-out set

The realistic suite (benchmarks/faults_realistic.py) also scores the diagnosis: the share of caught faults
whose primary finding (``mon.diagnosis[0].primary``) is the right one. The held-out realistic sets
(``faults_heldout.py``, ``faults_heldout2.py``, ``faults_heldout3.py``) hold models, optimizers and schedules
that no rule was looked at on; each was written before the rule changes of its round and is a generality
check, never a tuning set (the third: a LeNet-style CNN without normalization on CIFAR-10 under SGD with
warm-up and warm restarts, a bidirectional LSTM on JapaneseVowels under Adamax and ReduceLROnPlateau, a SiLU
MLP on PMLB satimage under AdamW and a three-phase OneCycle).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import track
from rich.table import Table
from torch import nn

import traindx as tdx
from traindx.experiments.datasets import load

torch.set_num_threads(1)
_SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
if _SHARED_MNIST.is_dir():
    os.environ.setdefault("TRAINDX_MNIST_DIR", str(_SHARED_MNIST))

GRAD_SYMPTOMS = {"lr_too_high", "nan_inf", "exploding_gradients", "loss_spike", "oscillation"}


@dataclass
class Case:
    name: str
    expected: set[str] = field(default_factory=set)  # empty: healthy control
    act: str = "relu"
    width: int = 128
    depth: int = 2
    arch: str = "mlp"
    opt: str = "adam"
    lr: float | None = None
    n_train: int | None = None
    input_scale: float = 1.0
    random_labels: bool = False
    zero_grad: bool = True
    wrong_optimizer: bool = False
    init: Callable[[nn.Module], None] | None = None
    freeze: bool = False
    epochs_factor: float = 1.0


def _bias(value: float):
    def init(model: nn.Module) -> None:
        for m in list(model.modules())[:-1]:
            if isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, value)

    return init


def _huge(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=1.0)


CASES = [
    Case("healthy_mlp_sgd", opt="sgd"),
    Case("healthy_mlp_adam"),
    Case("healthy_cnn_adam", arch="cnn"),
    Case("healthy_tanh_sgd", act="tanh", opt="sgd"),
    Case("healthy_finetune_frozen", freeze=True),
    Case("lr_far_too_high", GRAD_SYMPTOMS, opt="sgd", lr=5.0),
    Case("lr_far_too_low", {"lr_too_low"}, opt="sgd", lr=5e-5),
    Case("vanishing_deep_sigmoid", {"vanishing_gradients"}, act="sigmoid", depth=8, width=64, opt="sgd"),
    Case("dead_relu_negative_bias", {"dead_relu"}, init=_bias(-3.0)),
    Case("saturated_tanh_huge_init", {"saturation", "poor_init"}, act="tanh", init=_huge),
    Case("unscaled_inputs_0_255", {"input_scale"}, input_scale=255.0),
    Case("overfit_tiny_train_large_model", {"overfitting"}, n_train=256, width=1024, epochs_factor=3.0),
    Case("random_labels", {"plateau", "underfitting", "overfitting"}, random_labels=True),
    Case("missing_zero_grad", GRAD_SYMPTOMS, opt="sgd", zero_grad=False),
    Case("optimizer_without_model_params", {"no_update"}, wrong_optimizer=True),
    Case("model_far_too_small", {"underfitting", "plateau"}, width=1, depth=1),
]
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3}
ACTS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def build(case: Case, input_shape: tuple[int, ...], n_classes: int) -> nn.Module:
    act = ACTS[case.act]
    if case.arch == "cnn":
        conv, pool = (nn.Conv1d, nn.MaxPool1d) if len(input_shape) == 2 else (nn.Conv2d, nn.MaxPool2d)
        model = nn.Sequential(
            conv(input_shape[0], 8, 3, padding=1), act(), pool(2), conv(8, 16, 3, padding=1), act(), pool(2)
        )
        with torch.no_grad():
            n = model(torch.zeros(1, *input_shape)).numel()
        return nn.Sequential(*model, nn.Flatten(), nn.Linear(n, n_classes))
    layers: list[nn.Module] = [nn.Flatten()]
    prev = math.prod(input_shape)
    for _ in range(case.depth):
        layers += [nn.Linear(prev, case.width), act()]
        prev = case.width
    layers.append(nn.Linear(prev, n_classes))
    return nn.Sequential(*layers)


def make_optimizer(name: str, params, lr: float):
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    return {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop}[name](
        params, lr=lr
    )


def run_one(
    case: Case, dataset: str, seed: int, n_train: int, epochs: int, batch: int = 64, budget: float = 0.05
) -> dict:
    ds = load(dataset)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    n = min(case.n_train or n_train, len(ds.x_train))
    idx = rng.choice(len(ds.x_train), n, replace=False)
    x, y = torch.from_numpy(ds.x_train[idx]), torch.from_numpy(ds.y_train[idx]).long()
    if case.random_labels:
        y = y[torch.randperm(len(y))]
    vidx = rng.choice(len(ds.x_test), min(1000, len(ds.x_test)), replace=False)
    xv, yv = torch.from_numpy(ds.x_test[vidx]), torch.from_numpy(ds.y_test[vidx]).long()
    if dataset == "mnist1d":
        # the loader's [0, 1] copy of MNIST-1D sits around 0.5 with little spread, so a ReLU layer's units are
        # on or off for the whole batch (the monitor rightly calls half of them dead); its authors train on
        # centred inputs, and so does a careful user
        mean, std = x.mean(dim=0, keepdim=True), x.std(dim=0, keepdim=True) + 1e-6
        x, xv = (x - mean) / std, (xv - mean) / std
    x, xv = x * case.input_scale, xv * case.input_scale
    model = build(case, ds.input_shape, ds.n_classes)
    if case.init is not None:
        case.init(model)
    lr = case.lr or DEFAULT_LR[case.opt]
    if case.freeze:  # fine-tuning: a short "pretraining", then the feature layers are frozen on purpose
        pre = make_optimizer(case.opt, model.parameters(), lr)
        for i in range(0, min(n, 1024), batch):
            pre.zero_grad()
            nn.functional.cross_entropy(model(x[i : i + batch]), y[i : i + batch]).backward()
            pre.step()
        for p in list(model.parameters())[:-2]:
            p.requires_grad_(False)
        nn.init.zeros_(model[-1].weight)
    params = [p for p in model.parameters() if p.requires_grad]
    if case.wrong_optimizer:
        params = list(build(case, ds.input_shape, ds.n_classes).parameters())
    opt = make_optimizer(case.opt, params, lr)
    n_epochs = max(1, round(epochs * case.epochs_factor))
    steps_per_epoch = math.ceil(n / batch)
    total = n_epochs * steps_per_epoch
    losses: list[float] = []
    mon = tdx.Monitor(model, opt, budget=budget)
    t0 = time.perf_counter()
    for _ in range(n_epochs):
        perm = torch.randperm(n)
        tot, correct = 0.0, 0
        model.train()
        for i in range(0, n, batch):
            b = perm[i : i + batch]
            if case.zero_grad:
                opt.zero_grad()
            out = model(x[b])
            loss = nn.functional.cross_entropy(out, y[b])
            loss.backward()
            opt.step()
            mon.step(loss)
            lv = float(loss.detach())
            losses.append(lv)
            tot += lv * len(b)
            correct += int((out.argmax(1) == y[b]).sum())
        model.eval()
        with torch.no_grad():
            vo = model(xv)
            vl = float(nn.functional.cross_entropy(vo, yv))
            va = float((vo.argmax(1) == yv).float().mean())
        mon.epoch_end(train_loss=tot / n, val_loss=vl, train_acc=correct / n, val_acc=va)
    mon.close()
    wall = time.perf_counter() - t0
    findings = [f for f in mon.findings if f.code != "indicator_disabled"]
    hits = [f.step for f in findings if f.code in case.expected]
    return {
        "case": case.name,
        "dataset": dataset,
        "seed": seed,
        "healthy": not case.expected,
        "steps": total,
        "codes": sorted({f.code for f in findings}),
        "disabled": [f.message for f in mon.findings if f.code == "indicator_disabled"],
        "detected": bool(hits),
        "detect_frac": (min(hits) + 1) / total if hits else None,
        "alarm": bool(findings),
        "baseline": loss_only(losses, total),
        "overhead": mon.overhead,
        "wall_s": wall,
    }


def loss_only(losses: list[float], total: int) -> dict:
    """The loss-only baseline: fires at the first non-finite loss or loss > 1.5x the first 10 steps' median."""
    base = statistics.median(losses[:10])
    for i, v in enumerate(losses):
        if not math.isfinite(v) or (i >= 10 and v > 1.5 * base):
            return {"alarm": True, "detect_frac": (i + 1) / total}
    return {"alarm": False, "detect_frac": None}


def summarize(results: list[dict], console: Console, title: str) -> dict:
    table = Table(title=title)
    for col in ("case", "runs", "recall / alarms", "median detect frac", "loss-only baseline", "codes seen"):
        table.add_column(col)
    faults = [r for r in results if not r["healthy"]]
    healthy = [r for r in results if r["healthy"]]
    for name in dict.fromkeys(r["case"] for r in results):
        rs = [r for r in results if r["case"] == name]
        codes = sorted({c for r in rs for c in r["codes"]})
        if rs[0]["healthy"]:
            alarms = sum(r["alarm"] for r in rs)
            base = sum(r["baseline"]["alarm"] for r in rs)
            table.add_row(name, str(len(rs)), f"{alarms} alarms", "-", f"{base} alarms", ", ".join(codes))
        else:
            rec = sum(r["detected"] for r in rs) / len(rs)
            fr = [r["detect_frac"] for r in rs if r["detected"]]
            brec = sum(r["baseline"]["alarm"] for r in rs) / len(rs)
            med = f"{statistics.median(fr):.3f}" if fr else "-"
            table.add_row(name, str(len(rs)), f"{rec:.2f}", med, f"{brec:.2f}", ", ".join(codes))
    console.print(table)
    fr_all = [r["detect_frac"] for r in faults if r["detected"]]
    summary = {
        "fault_runs": len(faults),
        "healthy_runs": len(healthy),
        "recall": sum(r["detected"] for r in faults) / max(len(faults), 1),
        "false_alarm_rate": sum(r["alarm"] for r in healthy) / max(len(healthy), 1),
        "median_detect_frac": statistics.median(fr_all) if fr_all else None,
        "baseline_recall": sum(r["baseline"]["alarm"] for r in faults) / max(len(faults), 1),
        "baseline_false_alarm_rate": sum(r["baseline"]["alarm"] for r in healthy) / max(len(healthy), 1),
        "median_overhead": statistics.median(r["overhead"] for r in results),
    }
    b = summary["baseline_recall"]
    summary["recall_ratio_vs_loss_only"] = summary["recall"] / b if b > 0 else None
    console.print(json.dumps(summary, indent=2))
    return summary


HELDOUT = [
    Case("healthy_wide_adamw", opt="adamw", width=256, depth=3),
    Case("healthy_wide_rmsprop", opt="rmsprop", width=256, depth=3),
    Case("healthy_cnn_sgd", arch="cnn", opt="sgd"),
    Case("lr_far_too_high", GRAD_SYMPTOMS, opt="adamw", lr=1.0, width=256, depth=3),
    Case("lr_far_too_low", {"lr_too_low"}, opt="rmsprop", lr=1e-7, width=256, depth=3),
    Case("vanishing_deep_sigmoid", {"vanishing_gradients"}, act="sigmoid", depth=10, width=96, opt="adamw"),
    Case("dead_relu_negative_bias", {"dead_relu"}, init=_bias(-5.0), opt="rmsprop", width=256, depth=3),
    Case("saturated_tanh_huge_init", {"saturation", "poor_init"}, act="tanh", init=_huge, opt="adamw"),
    Case("unscaled_inputs_0_255", {"input_scale"}, input_scale=255.0, arch="cnn"),
    Case("missing_zero_grad", GRAD_SYMPTOMS, opt="adamw", zero_grad=False, width=256, depth=3),
    Case("optimizer_without_model_params", {"no_update"}, wrong_optimizer=True, opt="rmsprop"),
    Case("model_far_too_small", {"underfitting", "plateau"}, width=1, depth=1, opt="adamw"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer examples and epochs (smoke run)")
    ap.add_argument("--heldout", action="store_true", help="run the held-out variations instead")
    ap.add_argument("--datasets", default=None, help="comma-separated dataset names")
    ap.add_argument("--cases", default=None, help="comma-separated case names (default: all)")
    ap.add_argument("--out", default=None, help="write per-run results as JSON here")
    ap.add_argument(
        "--budget",
        type=float,
        default=0.05,
        help="the monitor's overhead budget (1e-9: no sample after step 0 is paid for, a loaded machine's "
        "worst case)",
    )
    ap.add_argument(
        "--realistic",
        action="store_true",
        help="run the realistic cases (faults_realistic.py and the framework cases, faults_frameworks.py)",
    )
    ap.add_argument(
        "--suite",
        default="realistic",
        choices=("realistic", "frameworks", "heldout", "heldout2", "heldout3"),
        help="with --realistic: all realistic cases, the framework cases alone, or a held-out realistic set",
    )
    ap.add_argument(
        "--from-json", default=None, help="with --realistic: summarize a saved --out file instead"
    )
    args = ap.parse_args()
    if args.realistic:
        realistic(args)
        return
    cases = HELDOUT if args.heldout else CASES
    if args.cases:
        keep = set(args.cases.split(","))
        cases = [c for c in cases if c.name in keep]
    datasets = (args.datasets or ("mnist1d,digits" if args.heldout else "mnist,fashion_mnist")).split(",")
    n_train, epochs = (2000, 5) if args.quick else (4000, 10)
    jobs = [(c, d, s) for d in datasets for c in cases for s in range(args.seeds)]
    console = Console(width=None if os.isatty(1) else 160)
    results = [
        run_one(c, d, s, n_train, epochs, budget=args.budget)
        for c, d, s in track(jobs, description="trainings", console=console)
    ]
    title = "held-out variations" if args.heldout else "fault suite"
    summary = summarize(results, console, f"{title} ({', '.join(datasets)}; {args.seeds} seeds)")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"summary": summary, "runs": results}, fh, indent=1)


def realistic(args) -> None:
    import importlib

    modules = {
        "realistic": ("faults_realistic", "faults_frameworks"),
        "frameworks": ("faults_frameworks",),
        "heldout": ("faults_heldout",),
        "heldout2": ("faults_heldout2",),
        "heldout3": ("faults_heldout3",),
    }[args.suite]
    suites = [importlib.import_module(m) for m in modules]
    runner = {fam: mod for mod in suites for fam in mod.FAMILIES}
    fr = importlib.import_module("faults_realistic")
    jobs = [job for mod in suites for job in mod.cases(args.seeds)]
    if args.cases:
        keep = set(args.cases.split(","))
        jobs = [j for j in jobs if j[0] in keep or j[1] in keep or f"{j[0]}/{j[1]}" in keep]
    console = Console(width=None if os.isatty(1) else 160)
    results = []
    if args.from_json:  # score a saved run again (e.g. one that was interrupted)
        with open(args.from_json) as fh:
            results = [fr.score(r, runner[r["family"]].FAULTS) for r in json.load(fh)["runs"]]
        jobs = []
    for fam, fault, seed in track(jobs, description="trainings", console=console):
        t0 = time.perf_counter()
        r = runner[fam].run_case(fam, fault, seed)
        r["wall_s"] = time.perf_counter() - t0
        results.append(r)
        if args.out:  # after every run, so an interrupted suite keeps what it measured
            with open(args.out, "w") as fh:
                json.dump({"runs": results}, fh, indent=1)
    table = Table(title=f"{args.suite} fault suite ({args.seeds} seed(s))")
    for col in ("case", "runs", "caught / alarms", "right primary", "primary seen", "codes seen"):
        table.add_column(col)
    for name in dict.fromkeys(r["case"] for r in results):
        rs = [r for r in results if r["case"] == name]
        codes = ", ".join(sorted({c for r in rs for c in r["codes"]}))
        prim = ", ".join(sorted({str(r["primary"]) for r in rs if r["primary"]}))
        if rs[0]["healthy"]:
            table.add_row(
                name, str(len(rs)), f"{sum(r['alarm'] for r in rs)} alarms", "-", prim or "-", codes
            )
        else:
            caught = [r for r in rs if r["detected"]]
            table.add_row(
                name,
                str(len(rs)),
                f"{len(caught)}/{len(rs)}",
                f"{sum(bool(r['right_primary']) for r in caught)}/{len(caught)}",
                prim or "-",
                codes,
            )
    console.print(table)
    faults = [r for r in results if not r["healthy"]]
    healthy = [r for r in results if r["healthy"]]
    caught = [r for r in faults if r["detected"]]
    summary = {
        "fault_runs": len(faults),
        "healthy_runs": len(healthy),
        "recall": len(caught) / max(len(faults), 1),
        "healthy_alarmed": sum(r["alarm"] for r in healthy),
        "right_primary_rate": sum(bool(r["right_primary"]) for r in caught) / max(len(caught), 1),
        "median_detect_frac": statistics.median(r["detect_frac"] for r in caught) if caught else None,
        "median_overhead": statistics.median(r["overhead"] for r in results) if results else None,
        "missed": [r["case"] for r in faults if not r["detected"]],
        "wrong_primary": [f"{r['case']}: {r['primary']}" for r in caught if not r["right_primary"]],
        "healthy_codes": [f"{r['case']}: {r['codes']}" for r in healthy if r["alarm"]],
    }
    console.print(json.dumps(summary, indent=2))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"summary": summary, "runs": results}, fh, indent=1)


if __name__ == "__main__":
    main()
