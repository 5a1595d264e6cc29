"""``traindx demo``: watch a healthy and a deliberately broken training with the live monitor.

The demo runs in steps, each a small function, so later parts of traindx can add their own:

1. :func:`load_demo_data` — real MNIST when its IDX files are found (``$TRAINDX_MNIST_DIR`` or the default
   folders), else scikit-learn's digits, which ship offline;
2. :func:`train_run` — a healthy MLP trained for a few epochs with the monitor and its live view on;
3. the same with a learning rate far too high (SGD at 100x a sane rate), stopped by ``stop_on`` when
   the monitor sees the run break, so a finding fires next to a clean run;
4. each run's signal record written to the output folder (``Monitor.save``), ready for the run store;
5. :func:`train_cnn_pair` — two seeds of a small CNN saved in the model-file convention
   (:mod:`traindx.landscape.modelfile`), with the ``traindx mdtree diagnose`` command that reads their loss
   landscape.

Everything runs on one CPU thread in well under a minute.

Example:
    >>> import io, tempfile
    >>> from rich.console import Console
    >>> result = run_demo(epochs=1, out=tempfile.mkdtemp(), console=Console(file=io.StringIO()),
    ...                   max_train=512)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from traindx.errors import InputError

#: examples used from MNIST: enough for a clean ~95% MLP in 3 epochs, small enough to stay well under a minute
MAX_TRAIN = 8000
MAX_VAL = 2000
BATCH_SIZE = 64
#: SGD+momentum at 0.05 is a standard, stable rate for a ReLU MLP on MNIST; the broken run uses 100x that,
#: far beyond the ~2/curvature stability limit, so it diverges within a few dozen steps
HEALTHY_LR = 0.05
BROKEN_LR_FACTOR = 100.0
BROKEN_STOP_ON = ("nan_inf", "exploding_gradients", "lr_too_high", "loss_spike")


@dataclass
class DemoData:
    """Training and validation tensors for the demo."""

    name: str
    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    n_classes: int


@dataclass
class RunResult:
    """What one monitored demo run produced."""

    name: str
    findings: list
    steps: int
    epochs: int
    val_acc: float
    seconds: float
    stopped_early: bool
    record: Path | None
    overhead: Any = None


@dataclass
class DemoResult:
    """The demo's outcome: the data used, each run's result in order, and the saved CNN files."""

    data: str
    runs: list[RunResult] = field(default_factory=list)
    out: Path | None = None
    cnn_files: list[Path] = field(default_factory=list)
    mdtree_command: str | None = None


def load_demo_data(max_train: int = MAX_TRAIN, max_val: int = MAX_VAL, seed: int = 0) -> DemoData:
    """Real MNIST if its IDX files are found, else scikit-learn digits (always offline).

    Example:
        >>> load_demo_data(max_train=100, max_val=50).x_train.shape[0]
        100
    """
    import numpy as np
    import torch

    from traindx.experiments.datasets import load

    try:
        ds = load("mnist")
    except (InputError, OSError):
        ds = load("digits")
    rng = np.random.default_rng(seed)
    tr = rng.permutation(len(ds.x_train))[:max_train]
    va = rng.permutation(len(ds.x_test))[:max_val]
    return DemoData(
        name=ds.name,
        x_train=torch.from_numpy(ds.x_train[tr]).float(),
        y_train=torch.from_numpy(ds.y_train[tr]).long(),
        x_val=torch.from_numpy(ds.x_test[va]).float(),
        y_val=torch.from_numpy(ds.y_test[va]).long(),
        n_classes=ds.n_classes,
    )


def build_demo_model(data: DemoData, seed: int = 0):
    """A one-hidden-layer ReLU MLP sized for the data."""
    import torch

    from traindx.experiments.models import build_model

    torch.manual_seed(seed)
    return build_model("mlp_small", tuple(data.x_train.shape[1:]), data.n_classes, width=128, depth=1)


def _evaluate(model, x, y, loss_fn) -> tuple[float, float]:
    import torch

    with torch.no_grad():
        logits = model(x)
        return float(loss_fn(logits, y)), float((logits.argmax(1) == y).float().mean())


def train_run(
    name: str,
    data: DemoData,
    *,
    epochs: int,
    lr: float,
    console: Console,
    out: Path | None,
    stop_on: tuple[str, ...] = (),
    seed: int = 0,
) -> RunResult:
    """Train the demo MLP with SGD+momentum, the monitor and its live view on; save its signal record."""
    import torch

    from traindx.monitor import Monitor
    from traindx.monitor.view import LiveView

    model = build_demo_model(data, seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    mon = Monitor(model, optimizer, stop_on=stop_on)
    gen = torch.Generator().manual_seed(seed)
    n = len(data.x_train)
    steps, epoch, val_acc = 0, 0, float("nan")
    t0 = time.perf_counter()
    title = f"{name}: MLP on {data.name}, SGD lr={lr:g}"
    try:
        with LiveView(mon, console=console, title=title) as view:
            for epoch in range(1, epochs + 1):
                model.train()
                order = torch.randperm(n, generator=gen)
                total, count, correct = 0.0, 0, 0
                for i in range(0, n, BATCH_SIZE):
                    idx = order[i : i + BATCH_SIZE]
                    logits = model(data.x_train[idx])
                    loss = loss_fn(logits, data.y_train[idx])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    mon.step(loss.detach())
                    steps += 1
                    total += float(loss.detach()) * len(idx)
                    correct += int((logits.argmax(1) == data.y_train[idx]).sum())
                    count += len(idx)
                    view.update(f"epoch {epoch}/{epochs}  step {steps}  loss {float(loss.detach()):.4g}")
                    if mon.should_stop:
                        break
                model.eval()
                val_loss, val_acc = _evaluate(model, data.x_val, data.y_val, loss_fn)
                mon.epoch_end(
                    train_loss=total / max(count, 1),
                    val_loss=val_loss,
                    train_acc=correct / max(count, 1),
                    val_acc=val_acc,
                )
                view.epoch_end(
                    epoch, f"epoch {epoch}/{epochs}  val_loss {val_loss:.4g}  val_acc {val_acc:.3f}"
                )
                if mon.should_stop:
                    break
    finally:
        mon.close()
    record = None
    if out is not None:
        record = out / f"{name}_signals.parquet"
        mon.save(record)
    return RunResult(
        name=name,
        findings=list(mon.findings),
        steps=steps,
        epochs=epoch,
        val_acc=val_acc,
        seconds=time.perf_counter() - t0,
        stopped_early=bool(mon.should_stop),
        record=record,
        overhead=getattr(mon, "overhead", None),
    )


#: the landscape step's CNN: 8 channels keep two seeds' training to a few seconds on one CPU thread
CNN_ARCH = {"model": "cnn_small", "width": 8, "depth": 2, "activation": "relu"}


def train_cnn_pair(data: DemoData, out: Path, epochs: int = 1, seeds: tuple[int, ...] = (0, 1)) -> list[Path]:
    """Train a small CNN once per seed and save each as ``cnn_seed<N>.pt`` + ``.json``; return the .pt paths.

    Two seeds let ``traindx mdtree diagnose`` measure mode connectivity and CKA between them.

    Example:
        >>> import tempfile
        >>> paths = train_cnn_pair(load_demo_data(max_train=256, max_val=64), Path(tempfile.mkdtemp()))
        >>> [p.name for p in paths]
        ['cnn_seed0.pt', 'cnn_seed1.pt']
    """
    import torch

    from traindx.experiments.models import build_model
    from traindx.landscape.modelfile import save_model

    arch = {**CNN_ARCH, "input_shape": list(data.x_train.shape[1:]), "n_classes": data.n_classes}
    loss_fn = torch.nn.CrossEntropyLoss()
    paths = []
    for seed in seeds:
        torch.manual_seed(seed)
        model = build_model(
            arch["model"],
            tuple(arch["input_shape"]),
            arch["n_classes"],
            width=arch["width"],
            depth=arch["depth"],
            activation=arch["activation"],
        )
        optimizer = torch.optim.SGD(model.parameters(), lr=HEALTHY_LR, momentum=0.9)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            order = torch.randperm(len(data.x_train), generator=gen)
            for i in range(0, len(order), BATCH_SIZE):
                idx = order[i : i + BATCH_SIZE]
                optimizer.zero_grad()
                loss_fn(model(data.x_train[idx]), data.y_train[idx]).backward()
                optimizer.step()
        pt, _ = save_model(model.eval(), arch, out / f"cnn_seed{seed}.pt")
        paths.append(pt)
    return paths


def _rule(console: Console, title: str) -> None:
    from traindx.monitor.view import supports_emoji

    # box-drawing characters garble logs and non-UTF terminals; plain dashes read everywhere
    console.rule(title, characters="─" if supports_emoji(console) else "-")


def _prepare_out(out: str | Path | None) -> Path | None:
    if out is None:
        return None
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise InputError(f"demo output {path} is a file; pass a folder path with --out")
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_demo(
    epochs: int = 3,
    out: str | Path | None = "traindx-demo",
    console: Console | None = None,
    *,
    max_train: int = MAX_TRAIN,
    broken_epochs: int = 1,
) -> DemoResult:
    """Run the demo: a healthy and a broken training side by side, each with the live monitor.

    Returns the :class:`DemoResult`; renders to ``console`` (a terminal gets live tables, other outputs
    plain text).
    """
    import torch

    if int(epochs) < 1:
        raise InputError(f"epochs must be at least 1, got {epochs}; pass --epochs 1 or more")
    console = console if console is not None else Console()
    out_dir = _prepare_out(out)
    torch.set_num_threads(1)  # the demo is sized for one thread; more only add contention on small batches

    # step 1: data
    data = load_demo_data(max_train=max_train)
    result = DemoResult(data=data.name, out=out_dir)
    _rule(
        console,
        f"traindx demo: {data.name}, {len(data.x_train)} training / {len(data.x_val)} validation examples",
    )

    # step 2: a healthy run
    console.print("1) a healthy run: the lights should stay green", markup=False, highlight=False)
    result.runs.append(
        train_run("healthy", data, epochs=int(epochs), lr=HEALTHY_LR, console=console, out=out_dir)
    )

    # step 3: the same model with the learning rate far too high
    broken_lr = HEALTHY_LR * BROKEN_LR_FACTOR
    console.print(
        f"2) a broken run: the same model with lr {broken_lr:g} ({BROKEN_LR_FACTOR:g}x too high); "
        f"the monitor stops it on {', '.join(BROKEN_STOP_ON)}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    result.runs.append(
        train_run(
            "broken_lr",
            data,
            epochs=max(1, int(broken_epochs)),
            lr=broken_lr,
            console=console,
            out=out_dir,
            stop_on=BROKEN_STOP_ON,
        )
    )

    # step 4: side-by-side summary and where the records went
    _rule(console, "summary")
    for run in result.runs:
        codes = ", ".join(sorted({f.code for f in run.findings})) or "none"
        stop = " (stopped by the monitor)" if run.stopped_early else ""
        console.print(
            f"{run.name:<10} {run.steps:>5} steps  {run.seconds:5.1f}s  val_acc {run.val_acc:.3f}  "
            f"findings: {codes}{stop}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if out_dir is None:
        return result
    console.print(f"signal records written to {out_dir}/", markup=False, highlight=False)

    # step 5: a small CNN, two seeds, saved for the loss-landscape diagnosis
    _rule(console, "loss landscape")
    with console.status("training a small CNN, two seeds, for the MD tree diagnosis..."):
        result.cnn_files = train_cnn_pair(data, out_dir, epochs=1)
    first, second = result.cnn_files
    result.mdtree_command = (
        f"traindx mdtree diagnose --model {first} --arch {first.with_suffix('.json')} "
        f"--model2 {second} --data {data.name}"
    )
    console.print(
        f"saved {first.name} and {second.name} (+ .json architectures); ask the MD tree which knob to turn:",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"  {result.mdtree_command}", markup=False, highlight=False, soft_wrap=True)
    return result
