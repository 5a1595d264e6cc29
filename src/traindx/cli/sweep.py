"""``traindx sweep``: run a sweep of trainings into a run store."""

from __future__ import annotations

from pathlib import Path

import typer

from traindx.cli.app import command, output_folder


@command()
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
    shuffle: int = typer.Option(
        None,
        help="Run the configs in a random order drawn from this seed, so a sweep stopped early covers every "
        "part and task evenly (the order does not change any run).",
    ),
) -> None:
    """Run a sweep of trainings into a run store: resumable, failures recorded, Ctrl-C stops cleanly.

    Exit status: 0 when every run finished (or was already in the store), 1 when some runs failed, 3 when
    every run tried failed, 2 for bad input, 130 when interrupted.

    Example: traindx sweep examples/mnist_meta.toml --store runs.duckdb --workers 2
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from traindx.experiments.backends import check_backend
    from traindx.experiments.spec import load_spec
    from traindx.experiments.sweep import run_sweep
    from traindx.store import RunStore

    plan = load_spec(spec)  # the whole spec is checked before anything runs or is created
    if shuffle is not None:
        import random

        random.Random(shuffle).shuffle(plan.configs)
    check_backend(backend, workers=workers, address=address)
    output_folder(export, "--export")
    if corpus is not None:
        output_folder(Path(corpus).parent, "--corpus")
    run_store = RunStore(store)
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

        summary = run_sweep(
            plan, run_store, backend=backend, workers=workers, address=address,
            on_start=on_start, on_result=on_result,
        )  # fmt: skip
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
    tried = summary.finished + summary.failed
    if summary.failed:
        typer.echo(
            f"{summary.failed} of {tried} runs failed; their errors are in the store (status 'failed')"
        )
        raise typer.Exit(code=3 if summary.failed == tried else 1)
