"""``traindx diagnose``: read learning curves and say what is wrong, where runs head, and why."""

from __future__ import annotations

from pathlib import Path

import typer

from traindx.cli.app import at_least, command, output_file, writing


@command()
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

    at_least(max_runs, 1, "--max-runs")
    at_least(at_epoch, 1, "--at-epoch")
    outs = [output_file(p, o) for p, o in ((json_out, "--json"), (csv_out, "--csv"), (html_out, "--html"))]
    if len({p.resolve() for p in outs if p is not None}) < sum(p is not None for p in outs):
        raise InputError("--json, --csv and --html name the same file; give each its own path")
    console = Console()
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                      transient=True) as progress:  # fmt: skip
            progress.add_task(f"loading {path}", total=None)
            runs, curves = tdx.load_runs(path)
            progress.add_task("fitting the default diagnoser (first use) and diagnosing", total=None)
            result = tdx.diagnose(curves, at_epoch=at_epoch, runs=runs)
    except (InputError, OSError):
        raise
    except ValueError as exc:  # a malformed file a reader rejected: say which and what was expected
        raise InputError(
            f"could not read runs from {path!r} ({exc}); pass a run store (.duckdb), a Parquet or CSV curve table "
            "(run_id, epoch, train_acc/val_acc/...), a TensorBoard log dir or mlflow:<tracking-uri>"
        ) from exc
    for table in _diagnosis_tables(result):
        console.print(table)
    if json_out is not None:
        with writing(json_out) as tmp:
            tmp.write_text(result.reset_index().to_json(orient="records", indent=2))
        typer.echo(f"wrote {json_out}")
    if csv_out is not None:
        with writing(csv_out) as tmp:
            result.to_csv(tmp)
        typer.echo(f"wrote {csv_out}")
    if html_out is not None:
        from traindx.report.html import curves_report

        with writing(html_out) as tmp:
            curves_report(curves, tmp, diagnosis=result, max_runs=max_runs, title=f"traindx: {path}")
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
