"""``traindx diagnose``: read learning curves and say what is wrong, where runs head, and why."""

from __future__ import annotations

from pathlib import Path

import typer

from traindx.cli.app import command, fail
from traindx.store.importers import IMPORTERS

_READERS = "\n\n".join(f"* {imp.describe()}" for imp in IMPORTERS)
_HELP = f"""Diagnose learning curves: under/overfitting, dataset shift, where each run is heading, and why.

PATH is read by the first reader that knows it, in this order:

{_READERS}

Accuracies in percent are recognised (largest value in (1, 100]) and divided by 100 with a note; --percent
forces it."""


@command(help=_HELP)
def diagnose(
    path: str = typer.Argument(
        ..., help="Runs to diagnose: a file, a folder or mlflow:<tracking-uri> (see above)."
    ),
    percent: bool = typer.Option(
        None, "--percent/--no-percent", help="Accuracies are in percent (default: detected from their range)."
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
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    import traindx as tdx
    from traindx.errors import InputError

    console = Console()
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                      transient=True) as progress:  # fmt: skip
            progress.add_task(f"loading {path}", total=None)
            runs, curves = tdx.load_runs(path, percent=percent)
            progress.add_task("fitting the default diagnoser (first use) and diagnosing", total=None)
            result = tdx.diagnose(curves, at_epoch=at_epoch, runs=runs)
    except InputError as exc:
        fail(str(exc))
    except (OSError, ValueError) as exc:  # unreadable or malformed file: say which and what was expected
        fail(
            f"could not read runs from {path!r} ({exc}); pass a run store (.duckdb), a Parquet or CSV curve table "
            "(run_id, epoch, train_acc/val_acc/...), a TensorBoard log dir or mlflow:<tracking-uri>"
        )
    for notice in curves.attrs.get("notices", []):
        console.print(f"[yellow]note[/yellow]: {notice}", highlight=False)
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
            fail(str(exc))
        typer.echo(f"wrote {html_out}")


def _diagnosis_tables(result):
    """Per run a rich table of each judged label's call and probability, then lines of advice and drivers.

    A label no run could be judged on (every probability NaN: no run logs a metric it needs) is left out; one
    that only some runs lack reads "not judged" in theirs.
    """
    from rich.table import Table

    labels = [c[2:] for c in result.columns if c.startswith("p_") and result[c].notna().any()]
    left_out = [c[2:] for c in result.columns if c.startswith("p_") and c[2:] not in labels]
    if left_out:
        yield (
            f"[dim]not judged for any run (the runs do not log a metric they need): {', '.join(left_out)}[/dim]"
        )
    for run_id, row in result.iterrows():
        table = Table(title=f"run {run_id} (epoch {row['epoch']})", title_justify="left")
        table.add_column("label")
        table.add_column("call")
        table.add_column("probability", justify="right")
        if not labels:
            table.add_row("[dim]no label could be judged[/dim]", "-", "-")
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
