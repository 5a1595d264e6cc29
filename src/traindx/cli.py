"""The ``traindx`` command line: one typer app.

Each command parses its arguments, calls the library and renders the result; the library itself never prints.

Example:
    $ traindx --help
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    name="traindx",
    help="Diagnose neural-network training: live monitor, curve diagnosis, loss landscape, meta-learning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
mdtree_app = typer.Typer(help="Loss-landscape model diagnosis (MD tree): fit a tree or diagnose a model.")
app.add_typer(mdtree_app, name="mdtree")


def _fail(message: str) -> None:
    """Print a one-line error (no traceback) and exit 2: bad input is the user's to fix, not a crash."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


# --- demo (owner: monitor) -------------------------------------------------------------------------------
@app.command()
def demo(
    epochs: int = typer.Option(3, help="Epochs to train."),
    out: Path = typer.Option(Path("traindx-demo"), help="Folder for the signal record and reports."),
) -> None:
    """Train a small model on offline data with the live monitor on, then show the findings.

    A healthy run and a deliberately broken one (learning rate far too high) run side by side; each run's
    signal record is written to OUT.
    """
    from traindx.errors import InputError
    from traindx.report.demo import run_demo

    try:
        run_demo(epochs=epochs, out=out)
    except InputError as exc:
        _fail(str(exc))


# --- sweep (owner: experiments) --------------------------------------------------------------------------
@app.command()
def sweep(
    spec: Path = typer.Argument(..., help="TOML sweep spec (see examples/README.md)."),
    store: Path = typer.Option(
        Path("runs.duckdb"), help="DuckDB run store; finished runs in it are skipped."
    ),
    backend: str = typer.Option("local", help="Where runs execute: local (process pool) or ray."),
    workers: int = typer.Option(1, help="Parallel runs (processes, or local Ray CPUs); 0 = in this process."),
    address: str = typer.Option(None, help="Ray cluster to join (e.g. auto or ray://host:10001)."),
    export: Path = typer.Option(
        None, help="After the sweep, write runs/epochs/signals.parquet to this folder."
    ),
    corpus: str = typer.Option(
        None, help="After the sweep, write a compact corpus PREFIX_runs.parquet and PREFIX_epochs.parquet."
    ),
) -> None:
    """Run a sweep of trainings into a run store: resumable, failures recorded, Ctrl-C stops cleanly."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from traindx.errors import InputError
    from traindx.experiments.spec import load_spec
    from traindx.experiments.sweep import run_sweep
    from traindx.store import RunStore

    try:
        plan = load_spec(spec)
        run_store = RunStore(store)
    except InputError as exc:
        _fail(str(exc))
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task(plan.name, total=None, failed=0)
        failed = 0

        def on_start(todo: int, skipped: int) -> None:
            progress.update(task, total=todo)
            if skipped:
                progress.console.print(f"{skipped} finished runs already in {store}: skipped")

        def on_result(result: dict) -> None:
            nonlocal failed
            run = result["run"]
            if run["status"] != "finished":
                failed += 1
                first = (run.get("error") or "").splitlines()[0] if run.get("error") else ""
                progress.console.print(f"[red]run {run['run_id']} failed[/red]: {first}")
            progress.update(task, advance=1, failed=failed)

        try:
            summary = run_sweep(
                plan, run_store, backend=backend, workers=workers, address=address,
                on_start=on_start, on_result=on_result,
            )  # fmt: skip
        except InputError as exc:
            _fail(str(exc))
    state = "interrupted" if summary.interrupted else "done"
    typer.echo(
        f"{state}: {summary.finished} finished, {summary.failed} failed, {summary.skipped} skipped of "
        f"{summary.total} runs in {summary.wall_seconds:.1f}s -> {store}"
    )
    if summary.interrupted:
        typer.echo("rerun the same command to finish the remaining runs")
        raise typer.Exit(code=130)
    if export is not None:
        typer.echo(f"exported to {run_store.export_parquet(export)}")
    if corpus is not None:
        prefix = Path(corpus)
        paths = run_store.export_corpus(prefix.parent, prefix.name)
        typer.echo(f"corpus written: {paths[0]} {paths[1]}")


# --- diagnose (owner: curve diagnoser) ---------------------------------------------------------------------
@app.command()
def diagnose(
    path: str = typer.Argument(
        ...,
        help="Runs to diagnose: DuckDB store, Parquet, CSV, TensorBoard log dir or mlflow:<tracking-uri>.",
    ),
    at_epoch: int = typer.Option(None, "--at-epoch", help="Diagnose each run as it stood at this epoch."),
    json_out: Path = typer.Option(None, "--json", help="Also write the diagnosis to this JSON file."),
    csv_out: Path = typer.Option(None, "--csv", help="Also write the diagnosis to this CSV file."),
    html_out: Path = typer.Option(
        None,
        "--html",
        help="Also write an HTML page of each run's curves with its calls (flagged runs first).",
    ),
    max_runs: int = typer.Option(30, help="Most runs drawn on the --html page."),
) -> None:
    """Diagnose learning curves: under/overfitting, dataset shift, where each run is heading, and why."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    import traindx as tdx
    from traindx.errors import InputError

    console = Console()
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                      transient=True) as progress:  # fmt: skip
            progress.add_task(f"loading {path}", total=None)
            runs, curves = tdx.load_runs(path)
            progress.add_task("fitting the default diagnoser (first use) and diagnosing", total=None)
            result = tdx.diagnose(curves, at_epoch=at_epoch, runs=runs)
    except InputError as exc:
        _fail(str(exc))
    except (OSError, ValueError) as exc:  # unreadable or malformed file: say which and what was expected
        _fail(
            f"could not read runs from {path!r} ({exc}); pass a run store (.duckdb), a Parquet or CSV curve table "
            "(run_id, epoch, train_acc/val_acc/...), a TensorBoard log dir or mlflow:<tracking-uri>"
        )
    for table in _diagnosis_tables(result):
        console.print(table)
    if json_out is not None:
        json_out.write_text(result.reset_index().to_json(orient="records", indent=2))
        typer.echo(f"wrote {json_out}")
    if csv_out is not None:
        result.to_csv(csv_out)
        typer.echo(f"wrote {csv_out}")
    if html_out is not None:
        from traindx.report.html import curves_report

        try:
            curves_report(curves, html_out, diagnosis=result, max_runs=max_runs, title=f"traindx: {path}")
        except InputError as exc:
            _fail(str(exc))
        typer.echo(f"wrote {html_out}")


def _diagnosis_tables(result):
    """Per run a rich table of each label's call and probability, then lines of advice and drivers."""
    from rich.table import Table

    labels = [c[2:] for c in result.columns if c.startswith("p_")]
    for run_id, row in result.iterrows():
        table = Table(title=f"run {run_id} (epoch {row['epoch']})", title_justify="left")
        table.add_column("label")
        table.add_column("call")
        table.add_column("probability", justify="right")
        for label in labels:
            prob = row["p_" + label]
            if prob != prob:  # NaN: the run does not log a metric this label needs
                table.add_row(label, "[dim]not judged[/dim]", "-")
                continue
            call = "[red]yes[/red]" if row[label] else "[green]no[/green]"
            table.add_row(label, call, f"{prob:.2f}")
        yield table
        yield f"  [bold]advice[/bold]: {row['advice']}"
        if row["drivers"]:
            yield f"  [bold]drivers[/bold]: {row['drivers']}"
        yield ""


# --- mdtree (owner: landscape) ---------------------------------------------------------------------------
_MDTREE_CAVEAT = (
    "note: the default trees were fitted on the MD tree paper's ResNet-18 / CIFAR-10 collection; the scale of "
    "these metrics differs on other models and data, so read the diagnosis as a hint, not a verdict."
)


def _shipped_mdtree_csv() -> Path:
    return Path(__file__).resolve().parent / "data" / "mdtree_clean.csv"


@mdtree_app.command("fit")
def mdtree_fit(
    csv: Path = typer.Option(
        None, help="Model-diagnosis CSV (released MD tree format); default: the shipped clean one."
    ),
    question: str = typer.Option("batch_size", help="batch_size, width_vs_batch or data_vs_batch."),
    variant: str = typer.Option(
        "paper", help="paper (fixed structure), learned (boosted trees) or validation."
    ),
    out: Path = typer.Option(Path("tree.json"), help="Where to write the fitted tree (JSON)."),
) -> None:
    """Fit an MD tree on a model-diagnosis table and save it as JSON."""
    from traindx.errors import InputError
    from traindx.landscape import MDTree, read_model_diagnosis_csv

    try:
        tree = MDTree(question, variant).fit(read_model_diagnosis_csv(csv or _shipped_mdtree_csv()))
    except InputError as exc:
        _fail(str(exc))
    tree.save(out)
    typer.echo(
        f"fitted {variant} tree for {question!r} on {tree.n_train_} rows, training accuracy "
        f"{100 * tree.train_accuracy_:.1f}%"
    )
    if getattr(tree, "thresholds_", None):
        typer.echo("thresholds: " + ", ".join(f"{t:.4g}" for t in tree.thresholds_))
    typer.echo(f"wrote {out}")


@mdtree_app.command("diagnose")
def mdtree_diagnose(
    model: Path = typer.Option(
        ..., help="Model weights: a state_dict saved with torch.save (read weights-only)."
    ),
    arch: Path = typer.Option(
        ..., help="Architecture JSON for traindx.experiments.models (model, input_shape, ...)."
    ),
    model2: Path = typer.Option(
        None, help="Weights of a second seed of the same model: enables CKA and connectivity."
    ),
    data: str = typer.Option(
        "mnist", help="Dataset the model was trained on: mnist, fashion_mnist, digits, mnist1d."
    ),
    tree: Path = typer.Option(
        None, help="Tree JSON from `traindx mdtree fit`; default: fitted on the shipped CSV."
    ),
    question: str = typer.Option("all", help="batch_size, width_vs_batch, data_vs_batch or all."),
    max_eval: int = typer.Option(10_000, help="Examples used to measure the training and test error."),
    steps: int = typer.Option(300, help="Training steps of the Bezier curve between the two seeds."),
    hessian_samples: int = typer.Option(
        200, help="Training examples in the Hessian batch (the paper uses 200)."
    ),
    trace_probes: int = typer.Option(100, help="Most Hutchinson probes for the Hessian trace."),
) -> None:
    """Diagnose a trained model from its loss landscape: which knob to turn, with the tree's path in words."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from traindx.errors import InputError
    from traindx.experiments.datasets import load
    from traindx.landscape import MDTree, load_model, model_diagnosis_metrics
    from traindx.landscape.mdtree import FEATURE_WORDS, QUESTIONS

    questions = list(QUESTIONS) if question == "all" else [question]
    try:
        if any(q not in QUESTIONS for q in questions):
            raise InputError(f"unknown question {question!r}; use all or one of {list(QUESTIONS)}")
        net = load_model(model, arch)
        net2 = load_model(model2, arch) if model2 is not None else None
        ds = load(data)
        if tuple(ds.input_shape) != tuple(json_shape := _arch_input_shape(arch)):
            raise InputError(
                f"dataset {data!r} has inputs {ds.input_shape} but the model expects {json_shape}; "
                "pass the dataset the model was trained on"
            )
        if tree is not None:
            loaded = MDTree.load(tree)  # a saved tree answers its own question
            questions, trees = [loaded.question], {loaded.question: loaded}
        else:
            trees = {q: _default_mdtree(q) for q in questions}
    except InputError as exc:
        _fail(str(exc))
    console = Console()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("loss-landscape metrics", total=None)
        row = model_diagnosis_metrics(
            net,
            (ds.x_train, ds.y_train),
            (ds.x_test, ds.y_test),
            model2=net2,
            max_eval=max_eval,
            connectivity_steps=steps,
            hessian_samples=hessian_samples,
            trace_probes=trace_probes,
            progress=lambda name: bar.update(task, description=name),
        )
    metrics = Table(title="loss-landscape metrics", title_justify="left")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    for key in (
        "train_error",
        "test_error",
        "train_loss",
        "test_loss",
        "hessian_e",
        "hessian_t",
        "CKA",
        "mode_connectivity_peak",
    ):
        value = row[key]
        metrics.add_row(
            FEATURE_WORDS.get(key, key), "not measured (no --model2)" if value != value else f"{value:.4g}"
        )
    console.print(metrics)
    for q in questions:
        console.print(f"[bold]{q}[/bold]")
        for line in trees[q].explain(row):
            console.print(f"  {line}")
    if net2 is None:
        console.print(
            "without --model2 (a second seed), CKA and mode connectivity are not measured; the tree took "
            "its training-majority branch where it needed them."
        )
    console.print(_MDTREE_CAVEAT)


_DEFAULT_MDTREES: dict = {}


def _default_mdtree(question: str):
    """The paper-structure tree fitted on the shipped clean collection (cached: fitting takes seconds)."""
    from traindx.landscape import MDTree, read_model_diagnosis_csv

    if question not in _DEFAULT_MDTREES:
        table = read_model_diagnosis_csv(_shipped_mdtree_csv())
        _DEFAULT_MDTREES[question] = MDTree(question).fit(table)
    return _DEFAULT_MDTREES[question]


def _arch_input_shape(arch: Path) -> tuple[int, ...]:
    import json

    return tuple(json.loads(arch.read_text())["input_shape"])


# --- suggest (owner: search) ------------------------------------------------------------------------------
@app.command()
def suggest(
    spec: Path = typer.Argument(..., help="TOML sweep spec whose configurations are the candidates."),
    store: Path = typer.Option(Path("runs.duckdb"), help="DuckDB run store the predictor learns from."),
    n: int = typer.Option(10, "-n", help="How many configurations to print."),
    kappa: float = typer.Option(0.0, help="Exploration: rank by predicted accuracy + kappa * uncertainty."),
) -> None:
    """Print the N most promising untried configurations of SPEC, with predicted accuracy and uncertainty."""
    from rich.console import Console
    from rich.table import Table

    from traindx.errors import InputError
    from traindx.experiments.spec import load_spec
    from traindx.search.candidates import suggest_untried
    from traindx.store import RunStore

    if not store.is_file():
        _fail(f"run store {store} not found; run `traindx sweep SPEC --store {store}` first or pass --store")
    console = Console()
    try:
        configs = load_spec(spec).configs
        with console.status("fitting the performance predictor on the run store..."):
            rs = RunStore(store)
            top = suggest_untried(configs, rs.runs(), rs.curves(), n=n, kappa=kappa)
    except InputError as exc:
        _fail(str(exc))
        return
    shown = [c for c in top.columns if c not in ("run_id", "pred_acc", "pred_std", "score")]
    varying = [c for c in shown if top[c].astype(str).nunique() > 1] or shown[:6]
    table = Table(title=f"{len(top)} most promising untried configurations of {spec.name}")
    for col in ["#", *varying, "predicted val acc", "+-", "run_id"]:
        table.add_column(col, justify="right" if col not in varying else "left")
    for i, row in top.iterrows():
        values = [f"{row[c]:.3g}" if isinstance(row[c], float) else str(row[c]) for c in varying]
        table.add_row(str(i + 1), *values, f"{row.pred_acc:.3f}", f"{row.pred_std:.3f}", str(row.run_id))
    console.print(table)


if __name__ == "__main__":  # pragma: no cover
    app()
