"""``traindx demo``: the whole tool end to end, on data that is there offline, in a couple of minutes.

The demo runs in stages, each a small function, and each announced by one line saying what it shows:

1. **sweep** (:func:`run_sweep_stage`): a short sweep of real trainings (a healthy MLP and the same MLP made
   to fail in the usual ways: learning rate far too high or too low, a tiny training set, noisy labels, a
   shifted test set), each with the live monitor and its view on, written to a DuckDB run store
   (``OUT/runs.duckdb``: runs, curves and the monitor's signals) the way ``traindx sweep`` writes it;
2. **diagnosis** (:func:`traindx.diagnose`): the curve meta-diagnoser reads every run's curves and says what
   is wrong now, where the run is heading, the likely cause and what to do;
3. **suggest** (:func:`traindx.search.candidates.suggest_untried`): a performance predictor fitted on the
   shipped corpus and the new runs ranks untried configurations;
4. **landscape** (:func:`run_mdtree_stage`): two seeds of a small CNN, their Hessian, CKA and mode
   connectivity, and the MD tree's answer (which knob to turn);
5. **report** (:func:`traindx.report.page.demo_report`): one self-contained HTML page with all of it.

Data: real MNIST when its IDX files are found (``$TRAINDX_MNIST_DIR`` or the default folders), else
scikit-learn's digits, which ship offline. ``quick=True`` (``traindx demo --quick``) trains fewer, smaller runs.

Example:
    >>> import io, tempfile
    >>> from rich.console import Console
    >>> result = run_demo(out=tempfile.mkdtemp(), console=Console(file=io.StringIO()), quick=True)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from traindx.errors import InputError

BATCH_SIZE = 64
#: SGD+momentum at 0.05 is a standard, stable rate for a ReLU MLP on MNIST; the broken run uses 100x that,
#: far beyond the ~2/curvature stability limit, so it diverges within a few dozen steps
HEALTHY_LR = 0.05
BROKEN_LR_FACTOR = 100.0
#: 1e-3 of the healthy rate: each step moves the weights by ~1e-5 of their norm, the monitor's lr_too_low range
LOW_LR_FACTOR = 1e-3
BROKEN_STOP_ON = ("nan_inf", "exploding_gradients", "lr_too_high", "loss_spike")


@dataclass(frozen=True)
class DemoRun:
    """One run of the demo sweep: a name, what it shows, and the run-config keys it changes."""

    name: str
    shows: str
    changes: dict[str, Any]
    stop_on: tuple[str, ...] = ()


#: the demo sweep: one healthy run and one per common way a training goes wrong
DEMO_RUNS = (
    DemoRun("healthy", "a sane setup: the lights should stay green", {}),
    DemoRun(
        "lr_too_high",
        f"learning rate {BROKEN_LR_FACTOR:g}x too high: the monitor stops it",
        {"lr": HEALTHY_LR * BROKEN_LR_FACTOR},
        BROKEN_STOP_ON,
    ),
    DemoRun(
        "lr_too_low", f"learning rate {1 / LOW_LR_FACTOR:g}x too low", {"lr": HEALTHY_LR * LOW_LR_FACTOR}
    ),
    DemoRun("tiny_train", "100 training examples: it memorises them", {"n_train": 100}),
    DemoRun("label_noise", "40% of the labels replaced at random", {"label_noise": 0.4}),
    DemoRun("shifted_test", "noise added to the test images only", {"shift": "noise"}),
)


@dataclass
class DemoSize:
    """How big the demo's trainings are."""

    n_train: int
    epochs: int
    eval_subset: int
    mdtree_eval: int
    connectivity_steps: int
    trace_probes: int


SIZES = {
    "quick": DemoSize(n_train=1000, epochs=3, eval_subset=500, mdtree_eval=1000, connectivity_steps=20,
                      trace_probes=10),
    "full": DemoSize(n_train=4000, epochs=6, eval_subset=1000, mdtree_eval=2000, connectivity_steps=60,
                     trace_probes=30),
}  # fmt: skip


@dataclass
class RunResult:
    """What one monitored demo run produced."""

    name: str
    run_id: str
    shows: str
    config: dict[str, Any]
    findings: list
    steps: int
    epochs: int
    val_acc: float
    seconds: float
    stopped_early: bool
    history: Any = None
    curve: Any = None
    record: Path | None = None
    overhead: Any = None


@dataclass
class DemoResult:
    """The demo's outcome: every stage's result, the files written, and the seconds each stage took."""

    data: str
    runs: list[RunResult] = field(default_factory=list)
    out: Path | None = None
    store: Path | None = None
    diagnosis: Any = None
    suggestions: Any = None
    mdtree: dict[str, Any] | None = None
    cnn_files: list[Path] = field(default_factory=list)
    mdtree_command: str | None = None
    report: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def name_of(self, run_id: str) -> str:
        """The demo name of a run id (the id itself when unknown)."""
        return next((r.name for r in self.runs if r.run_id == run_id), str(run_id))


def demo_dataset() -> str:
    """``"mnist"`` when its IDX files are found, else ``"digits"`` (always offline).

    Example:
        >>> demo_dataset() in ("mnist", "digits")
        True
    """
    from traindx.experiments.datasets import load

    try:
        load("mnist")
    except (InputError, OSError):
        return "digits"
    return "mnist"


def base_config(dataset: str, size: DemoSize) -> dict[str, Any]:
    """The healthy run's config, in the run-config keys of ``traindx sweep`` specs.

    Example:
        >>> base_config("digits", SIZES["quick"])["optimizer"]
        'sgd'
    """
    # digits has 1,347 training examples: 800 to train on and 300 to validate leave the tiny run its draw
    n_train = size.n_train if dataset != "digits" else min(size.n_train, 800)
    return {
        "dataset": dataset,
        "model": "mlp_small",
        "width": 128,
        "depth": 1,
        "optimizer": "sgd",
        "lr": HEALTHY_LR,
        "momentum": 0.9,
        "batch_size": BATCH_SIZE,
        "n_train": n_train,
        "val_size": 500 if dataset != "digits" else 300,
        "eval_subset": size.eval_subset,
        "epochs": size.epochs,
        "seed": 0,
    }


def _evaluate(model, x, y) -> tuple[float, float]:
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        logits = model(x)
        return float(F.cross_entropy(logits, y)), float((logits.argmax(1) == y).float().mean())


def train_run(spec: DemoRun, config: dict[str, Any], *, console: Console) -> RunResult:
    """Train one run of the demo sweep with the monitor and its live view on (same data and curve rows as
    :func:`traindx.experiments.runner.run_experiment`)."""
    import pandas as pd
    import torch
    import torch.nn.functional as F

    from traindx.experiments.models import build_model
    from traindx.experiments.runner import _optimizer, canonical_config, prepare_data, run_id
    from traindx.monitor import Monitor
    from traindx.monitor.view import LiveView

    cfg = canonical_config(config)
    data = prepare_data(cfg)
    t = {k: torch.from_numpy(v).float() if k.startswith("x") else torch.from_numpy(v).long()
         for k, v in data.items() if k != "n_classes"}  # fmt: skip
    torch.manual_seed(cfg["seed"])
    model = build_model(cfg["model"], tuple(data["x_train"].shape[1:]), int(data["n_classes"]), cfg["width"],
                        cfg["depth"], cfg["activation"])  # fmt: skip
    optimizer = _optimizer(cfg, model.parameters())
    mon = Monitor(model, optimizer, stop_on=spec.stop_on)
    gen = torch.Generator().manual_seed(cfg["seed"])
    n, rows, steps, epoch, val_acc = len(t["y_train"]), [], 0, 0, float("nan")
    t0 = time.perf_counter()
    title = f"{spec.name}: {cfg['model']} on {cfg['dataset']}, {cfg['optimizer']} lr={cfg['lr']:g}"
    try:
        with LiveView(mon, console=console, title=title) as view:
            for epoch in range(1, cfg["epochs"] + 1):
                model.train()
                order = torch.randperm(n, generator=gen)
                for i in range(0, n, cfg["batch_size"]):
                    idx = order[i : i + cfg["batch_size"]]
                    loss = F.cross_entropy(model(t["x_train"][idx]), t["y_train"][idx])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    mon.step(loss.detach())
                    steps += 1
                    view.update(f"epoch {epoch}/{cfg['epochs']}  step {steps}")
                    if mon.should_stop:
                        break
                model.eval()
                train_loss, train_acc = _evaluate(model, t["x_train_eval"], t["y_train_eval"])
                val_loss, val_acc = _evaluate(model, t["x_val"], t["y_val"])
                test_loss, test_acc = _evaluate(model, t["x_test"], t["y_test"])
                rows.append({"epoch": epoch, "train_acc": train_acc, "val_acc": val_acc, "test_acc": test_acc,
                             "train_loss": train_loss, "val_loss": val_loss, "test_loss": test_loss,
                             "n_train": len(t["y_train_eval"]), "n_val": len(t["y_val"]),
                             "n_test": len(t["y_test"])})  # fmt: skip
                mon.epoch_end(train_loss=train_loss, val_loss=val_loss, train_acc=train_acc, val_acc=val_acc)
                view.epoch_end(epoch, f"epoch {epoch}/{cfg['epochs']}  val_acc {val_acc:.3f}")
                if mon.should_stop:
                    break
    finally:
        mon.close()
    return RunResult(
        name=spec.name,
        run_id=run_id(cfg),
        shows=spec.shows,
        config=cfg,
        findings=list(mon.findings),
        steps=steps,
        epochs=epoch,
        val_acc=val_acc,
        seconds=time.perf_counter() - t0,
        stopped_early=bool(mon.should_stop),
        history=mon.history,
        curve=pd.DataFrame(rows),
        overhead=getattr(mon, "overhead", None),
    )


def run_sweep_stage(
    dataset: str, size: DemoSize, out: Path, console: Console, runs: tuple[DemoRun, ...] = DEMO_RUNS
) -> tuple[list[RunResult], Path]:
    """Train every demo run and write each to ``out/runs.duckdb`` (runs, epochs, signals) as it finishes."""
    from traindx.store import RunStore

    path = out / "runs.duckdb"
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)  # the demo's own store: each demo starts from an empty one
    store = RunStore(path)
    base = base_config(dataset, size)
    results = []
    for spec in runs:
        console.print(f"- {spec.name}: {spec.shows}", markup=False, highlight=False, soft_wrap=True)
        result = train_run(spec, {**base, **spec.changes}, console=console)
        store.write_run(
            {"run_id": result.run_id, "status": "finished", "config": result.config,
             "train_seconds": result.seconds, "wall_seconds": result.seconds},
            result.curve,
            result.history,
        )  # fmt: skip
        result.record = out / f"{spec.name}_signals.parquet"
        _save_record(result)
        results.append(result)
    return results, path


def _save_record(result: RunResult) -> None:
    import json

    result.history.to_parquet(result.record, index=False)
    findings = result.record.with_name(result.record.stem + ".findings.json")
    findings.write_text(json.dumps([f.to_dict() for f in result.findings], indent=2, default=float))


#: the landscape stage's CNN: 8 channels keep two seeds' training to a few seconds on one CPU thread
CNN_ARCH = {"model": "cnn_small", "width": 8, "depth": 2, "activation": "relu"}


def train_cnn_pair(
    dataset: str, out: Path, n_train: int = 2000, seeds: tuple[int, ...] = (0, 1)
) -> list[Path]:
    """Train a small CNN for one epoch per seed and save each as ``cnn_seed<N>.pt`` + ``.json``.

    Two seeds let the MD tree measure mode connectivity and CKA between them.

    Example:
        >>> import tempfile
        >>> paths = train_cnn_pair("digits", Path(tempfile.mkdtemp()), n_train=256)
        >>> [p.name for p in paths]
        ['cnn_seed0.pt', 'cnn_seed1.pt']
    """
    import torch
    import torch.nn.functional as F

    from traindx.experiments.datasets import load
    from traindx.experiments.models import build_model
    from traindx.landscape.modelfile import save_model

    ds = load(dataset)
    x = torch.from_numpy(ds.x_train[:n_train]).float()
    y = torch.from_numpy(ds.y_train[:n_train]).long()
    arch = {**CNN_ARCH, "input_shape": list(ds.input_shape), "n_classes": ds.n_classes}
    paths = []
    for seed in seeds:
        torch.manual_seed(seed)
        model = build_model(arch["model"], tuple(arch["input_shape"]), arch["n_classes"], width=arch["width"],
                            depth=arch["depth"], activation=arch["activation"])  # fmt: skip
        optimizer = torch.optim.SGD(model.parameters(), lr=HEALTHY_LR, momentum=0.9)
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
        for i in range(0, len(order), BATCH_SIZE):
            idx = order[i : i + BATCH_SIZE]
            optimizer.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            optimizer.step()
        pt, _ = save_model(model.eval(), arch, out / f"cnn_seed{seed}.pt")
        paths.append(pt)
    return paths


def run_mdtree_stage(dataset: str, files: list[Path], size: DemoSize) -> dict[str, Any]:
    """The MD tree's answer for the first CNN (against the second seed): metrics, and per question the path.

    Returns ``{"metrics": {...}, "answers": {question: [lines]}}``.
    """
    from traindx.experiments.datasets import load
    from traindx.landscape import MDTree, load_model, model_diagnosis_metrics, read_model_diagnosis_csv
    from traindx.landscape.mdtree import QUESTIONS

    ds = load(dataset)
    first, second = files
    row = model_diagnosis_metrics(
        load_model(first, first.with_suffix(".json")),
        (ds.x_train, ds.y_train),
        (ds.x_test, ds.y_test),
        model2=load_model(second, second.with_suffix(".json")),
        max_eval=size.mdtree_eval,
        connectivity_steps=size.connectivity_steps,
        trace_probes=size.trace_probes,
    )
    table = read_model_diagnosis_csv(Path(__file__).resolve().parent.parent / "data" / "mdtree_clean.csv")
    answers = {q: MDTree(q).fit(table).explain(row) for q in QUESTIONS}
    return {"metrics": dict(row), "answers": answers}


def suggest_stage(result: DemoResult, size: DemoSize, n: int = 5):
    """Untried configurations around the demo's healthy run, ranked by a predictor fitted on the shipped
    corpus of the same dataset (when there is one) and the demo's own runs."""
    import itertools

    import pandas as pd

    from traindx.search.candidates import suggest_untried
    from traindx.search.corpus import load_corpus
    from traindx.search.predictor import PerformancePredictor
    from traindx.store import RunStore

    runs, curves = RunStore(result.store, read_only=True).read()
    try:
        c_runs, c_curves = load_corpus(result.data)
        runs = pd.concat([runs, c_runs.assign(status="finished")], ignore_index=True)
        curves = pd.concat([curves, c_curves], ignore_index=True)
    except InputError:
        pass  # no shipped corpus for this dataset: the predictor learns from the demo's runs alone
    base = base_config(result.data, size)
    grid = itertools.product(
        ("logreg", "mlp_small", "mlp_large", "cnn_small"),
        ("sgd", "adam"),
        (base["n_train"], 2 * base["n_train"]),
    )
    configs = [
        {**base, "model": m, "optimizer": o, "lr": HEALTHY_LR if o == "sgd" else 1e-3, "n_train": k,
         "width": None, "depth": None}
        for m, o, k in grid
    ]  # fmt: skip
    configs = [{k: v for k, v in c.items() if v is not None} for c in configs]
    predictor = PerformancePredictor(landmarkers=False).fit(runs, curves)
    return suggest_untried(configs, runs, curves, n=n, predictor=predictor)


def _rule(console: Console, title: str) -> None:
    from traindx.monitor.view import supports_emoji

    # box-drawing characters garble logs and non-UTF terminals; plain dashes read everywhere
    console.rule(title, characters="─" if supports_emoji(console) else "-")


def _say(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _prepare_out(out: str | Path) -> Path:
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise InputError(f"demo output {path} is a file; pass a folder path with --out")
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_demo(
    out: str | Path = "traindx-demo",
    console: Console | None = None,
    *,
    quick: bool = False,
    epochs: int | None = None,
    runs: tuple[DemoRun, ...] = DEMO_RUNS,
) -> DemoResult:
    """Run every stage of the demo, rendering to ``console``; return the :class:`DemoResult`.

    ``epochs`` overrides the size's epoch count; ``runs`` the sweep (a subset of :data:`DEMO_RUNS`, say).
    """
    import torch

    from traindx.diagnose import diagnose
    from traindx.report.page import demo_report
    from traindx.report.tables import call_summary

    size = SIZES["quick" if quick else "full"]
    if epochs is not None:
        if int(epochs) < 1:
            raise InputError(f"epochs must be at least 1, got {epochs}; pass --epochs 1 or more")
        size = DemoSize(**{**size.__dict__, "epochs": int(epochs)})
    console = console if console is not None else Console()
    out_dir = _prepare_out(out)
    torch.set_num_threads(1)  # the demo is sized for one thread; more only add contention on small batches
    result = DemoResult(data=demo_dataset(), out=out_dir)
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        result.seconds[stage] = now - clock
        clock = now

    _rule(console, f"traindx demo on {result.data} ({'quick' if quick else 'full'})")
    _say(console, f"1/5 sweep: {len(runs)} real trainings with the live monitor on, into a DuckDB run store")
    result.runs, result.store = run_sweep_stage(result.data, size, out_dir, console, runs)
    for run in result.runs:
        codes = ", ".join(sorted({f.code for f in run.findings})) or "none"
        stop = " (stopped by the monitor)" if run.stopped_early else ""
        _say(
            console,
            f"  {run.name:<13} {run.steps:>4} steps  val_acc {run.val_acc:.3f}  findings: {codes}{stop}",
        )
    _say(console, f"  store: {result.store} (runs, epochs and signals tables)")
    lap("sweep")

    _rule(console, "curve diagnosis")
    _say(
        console, "2/5 diagnosis: the meta-model reads each run's curves: wrong now, heading to, likely cause"
    )
    from traindx.store import RunStore

    store_runs, store_curves = RunStore(result.store, read_only=True).read()
    result.diagnosis = diagnose(store_curves, runs=store_runs)
    summary = call_summary(result.diagnosis)
    for run_id, row in summary.iterrows():
        _say(console, f"  {result.name_of(run_id):<13} now: {row['now']}; heading to: {row['heading to']}; "
                      f"likely cause: {row['likely cause']}")  # fmt: skip
        _say(console, f"  {'':<13} advice: {row['advice']}")
    lap("diagnosis")

    _rule(console, "suggest")
    _say(console, "3/5 suggest: the configurations a performance predictor expects to do best next")
    result.suggestions = suggest_stage(result, size)
    for i, row in result.suggestions.iterrows():
        _say(console, f"  {i + 1}. {row['model']:<10} {row['optimizer']:<5} lr {row['lr']:<6g} "
                      f"n_train {int(row['n_train']):>5}: predicted val acc {row['pred_acc']:.3f} "
                      f"+- {row['pred_std']:.3f}")  # fmt: skip
    lap("suggest")

    _rule(console, "loss landscape")
    _say(console, "4/5 MD tree: a small CNN's Hessian, CKA and mode connectivity say which knob to turn")
    with console.status("training two seeds of a small CNN and measuring their loss landscape..."):
        result.cnn_files = train_cnn_pair(result.data, out_dir, n_train=1000 if quick else 2000)
        result.mdtree = run_mdtree_stage(result.data, result.cnn_files, size)
    first, second = result.cnn_files
    for question, lines in result.mdtree["answers"].items():
        _say(console, f"  {question}: {lines[-1]}")
    result.mdtree_command = (
        f"traindx mdtree diagnose --model {first} --arch {first.with_suffix('.json')} "
        f"--model2 {second} --data {result.data}"
    )
    _say(console, f"  the full path through each tree: {result.mdtree_command}")
    lap("landscape")

    _rule(console, "report")
    _say(console, "5/5 report: one HTML page with the curves, indicator plots, diagnosis and suggestions")
    result.report = demo_report(result, out_dir / "report.html")
    lap("report")
    total = sum(result.seconds.values())
    _say(console, f"done in {total:.0f} s. Open the report: {result.report}")
    return result
