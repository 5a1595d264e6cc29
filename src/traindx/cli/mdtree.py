"""``traindx mdtree fit|diagnose``: loss-landscape model diagnosis with the MD tree."""

from __future__ import annotations

from pathlib import Path

import typer

from traindx.cli.app import at_least, command, mdtree_app, output_file, writing

_MDTREE_CAVEAT = (
    "note: the default trees were fitted on the MD tree paper's ResNet-18 / CIFAR-10 collection; the scale of "
    "these metrics differs on other models and data, so read the diagnosis as a hint, not a verdict."
)


def _shipped_mdtree_csv() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "mdtree_clean.csv"


@command(mdtree_app, "fit")
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
    """Fit an MD tree on a model-diagnosis table and save it as JSON.

    Example: traindx mdtree fit --question width_vs_batch --out tree.json
    """
    from traindx.landscape import MDTree, read_model_diagnosis_csv

    output_file(out, "--out")
    tree = MDTree(question, variant).fit(read_model_diagnosis_csv(csv or _shipped_mdtree_csv()))
    with writing(out) as tmp:
        tree.save(tmp)
    typer.echo(
        f"fitted {variant} tree for {question!r} on {tree.n_train_} rows, training accuracy "
        f"{100 * tree.train_accuracy_:.1f}%"
    )
    if getattr(tree, "thresholds_", None):
        typer.echo("thresholds: " + ", ".join(f"{t:.4g}" for t in tree.thresholds_))
    typer.echo(f"wrote {out}")


@command(mdtree_app, "diagnose")
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
        "mnist", help="Task the model was trained on: a name from `traindx tasks` or a CSV / Parquet table."
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
    """Diagnose a trained model from its loss landscape: which knob to turn, with the tree's path in words.

    Example: traindx mdtree diagnose --model a.pt --arch a.json --model2 b.pt --data mnist
    """
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from traindx.errors import InputError
    from traindx.experiments.tasks import load
    from traindx.landscape import MDTree, load_model, model_diagnosis_metrics
    from traindx.landscape.mdtree import FEATURE_WORDS, QUESTIONS

    for value, option in ((max_eval, "--max-eval"), (steps, "--steps"), (hessian_samples, "--hessian-samples"),
                          (trace_probes, "--trace-probes")):  # fmt: skip
        at_least(value, 1, option)
    questions = list(QUESTIONS) if question == "all" else [question]
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
