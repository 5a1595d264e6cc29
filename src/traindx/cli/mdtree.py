"""``traindx mdtree fit|diagnose``: loss-landscape model diagnosis with the MD tree."""

from __future__ import annotations

from pathlib import Path

import typer

from traindx.cli.app import at_least, command, mdtree_app, output_file, writing

# the collections a default tree can be fitted on: (file under traindx/data, what it holds)
COLLECTIONS = {
    "ours": (
        ("landscape", "landscape.csv"),
        "traindx's landscape collection (small MLPs, CNNs and text models on 13 tasks of four modalities)",
    ),
    "clean": (("mdtree_clean.csv",), "the MD tree paper's clean collection (ResNet-18 on CIFAR-10)"),
}
DEFAULT_COLLECTION = "ours"


def _shipped_mdtree_csv(collection: str = "clean") -> Path:
    from traindx.errors import InputError

    if collection not in COLLECTIONS:
        raise InputError(f"unknown collection {collection!r}; use one of {list(COLLECTIONS)}")
    return Path(__file__).resolve().parent.parent.joinpath("data", *COLLECTIONS[collection][0])


@command(mdtree_app, "fit")
def mdtree_fit(
    csv: Path = typer.Option(
        None, help="Model-diagnosis CSV (released MD tree format); default: the shipped clean one."
    ),
    question: str = typer.Option("batch_size", help="batch_size, width_vs_batch or data_vs_batch."),
    variant: str = typer.Option(
        "paper",
        help="paper (fixed structure), learned (boosted trees), learned_tree (one CART) or validation.",
    ),
    out: Path = typer.Option(Path("tree.json"), help="Where to write the fitted tree (JSON)."),
    collection: str = typer.Option(
        DEFAULT_COLLECTION, help="Shipped collection to fit on when no --csv: ours or clean (the paper's)."
    ),
) -> None:
    """Fit an MD tree on a model-diagnosis table and save it as JSON.

    Example: traindx mdtree fit --question width_vs_batch --out tree.json
    """
    from traindx.landscape import MDTree, read_model_diagnosis_csv

    output_file(out, "--out")
    source = str(csv) if csv else COLLECTIONS.get(collection, ("", collection))[1]
    table = read_model_diagnosis_csv(csv or _shipped_mdtree_csv(collection))
    tree = MDTree(question, variant).fit(table, fitted_on=source)
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
        None, help="Tree JSON from `traindx mdtree fit`; default: fitted on the shipped --collection."
    ),
    collection: str = typer.Option(
        DEFAULT_COLLECTION, help="Collection the default trees are fitted on: ours or clean (the paper's)."
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
    from traindx.landscape.modelfile import read_arch

    for value, option in ((max_eval, "--max-eval"), (steps, "--steps"), (hessian_samples, "--hessian-samples"),
                          (trace_probes, "--trace-probes")):  # fmt: skip
        at_least(value, 1, option)
    questions = list(QUESTIONS) if question == "all" else [question]
    if any(q not in QUESTIONS for q in questions):
        raise InputError(f"unknown question {question!r}; use all or one of {list(QUESTIONS)}")
    if collection not in COLLECTIONS:
        raise InputError(f"unknown collection {collection!r}; use one of {list(COLLECTIONS)}")
    if not model.is_file():
        raise InputError(f"no such file: {model}; pass the model weights (.pt state_dict)")
    spec = read_arch(arch)
    ds = load(data)
    _check_arch_fits_task(spec, arch, ds, data)
    net = load_model(model, arch)
    net2 = load_model(model2, arch) if model2 is not None else None
    if tree is not None:
        loaded = MDTree.load(tree)  # a saved tree answers its own question
        questions, trees = [loaded.question], {loaded.question: loaded}
    else:
        trees = {q: _default_mdtree(q, collection) for q in questions}
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
    outside: list[str] = []
    for q in questions:
        console.print(f"[bold]{q}[/bold]")
        for line in trees[q].explain(row):
            console.print(f"  {line}")
        outside += [w for w in trees[q].out_of_range(row) if w not in outside]
    if net2 is None:
        console.print(
            "without --model2 (a second seed), CKA and mode connectivity are not measured; the tree took "
            "its training-majority branch where it needed them."
        )
    if outside:
        console.print(
            "[bold yellow]warning: this model lies outside what the tree was fitted on[/bold yellow]"
        )
        for line in outside:
            console.print(f"  {line}")
        console.print("  the diagnosis extrapolates there: read it as a hint, not a verdict.")
    fitted_on = {getattr(t, "fitted_on_", "") for t in trees.values()} - {""}
    if fitted_on:
        console.print("trees fitted on: " + "; ".join(sorted(fitted_on)))


_DEFAULT_MDTREES: dict = {}


def _default_mdtree(question: str, collection: str = DEFAULT_COLLECTION):
    """The paper-structure tree fitted on a shipped collection (cached: fitting takes seconds)."""
    from traindx.landscape import MDTree, read_model_diagnosis_csv

    key = (question, collection)
    if key not in _DEFAULT_MDTREES:
        table = read_model_diagnosis_csv(_shipped_mdtree_csv(collection))
        _DEFAULT_MDTREES[key] = MDTree(question).fit(table, fitted_on=COLLECTIONS[collection][1])
    return _DEFAULT_MDTREES[key]


def _check_arch_fits_task(spec: dict, arch: Path, ds, data: str) -> None:
    """Refuse, with the fix, an architecture that cannot read the task's inputs."""
    from traindx.errors import InputError
    from traindx.experiments.vocabulary import TOKEN_MODELS

    shape, family = tuple(spec["input_shape"]), spec["model"]
    if shape != tuple(ds.input_shape):
        raise InputError(
            f"dataset {data!r} has inputs {ds.input_shape} but the model expects {shape}; "
            "pass the dataset the model was trained on"
        )
    if ds.tokens and family not in TOKEN_MODELS:
        raise InputError(
            f"task {data!r} is text (token ids) but {family!r} reads float inputs; "
            f"a text model is one of {', '.join(TOKEN_MODELS)}"
        )
    if ds.tokens and not spec.get("vocab_size"):
        raise InputError(
            f'{arch} describes a text model but has no vocab_size; add "vocab_size": {ds.vocab_size} '
            f"(the vocabulary of task {data!r})"
        )
    if not ds.tokens and spec.get("vocab_size"):
        raise InputError(
            f"{arch} has vocab_size {spec['vocab_size']} (a text model) but task {data!r} is {ds.modality}; "
            "pass the task the model was trained on"
        )
