"""``traindx diagnose``: read learning curves and say what is wrong, where runs head, and why."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.core import TyperCommand

from traindx.cli.app import at_least, command, output_file, writing

#: above this many runs the terminal gets one summary row per run instead of a table each
DETAIL_RUNS = 10


class _WithReaders(TyperCommand):
    """``--help`` ends with the readers of :data:`traindx.store.importers.IMPORTERS`, in the order they are
    tried; built when help is shown, so other commands do not pay for importing them."""

    def format_help(self, ctx, formatter):
        from traindx.store.importers import IMPORTERS

        readers = "\n\n".join(f"* {imp.describe()}" for imp in IMPORTERS)
        self.help = (
            f"{self.help}\n\nPATH is read by the first reader that knows it, in this order:\n\n{readers}\n\n"
            "Accuracies in percent are recognised (largest value in (1, 100]) and divided by 100 with a note; "
            "--percent forces it."
        )
        return super().format_help(ctx, formatter)


@command(cls=_WithReaders)
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
    details: bool = typer.Option(
        None,
        "--details/--summary",
        help=f"One table per run (default up to {DETAIL_RUNS} runs), or one summary row per run.",
    ),
) -> None:
    """Diagnose learning curves: under/overfitting, dataset shift, where each run is heading, and why.

    Example: traindx diagnose runs.duckdb --at-epoch 5 --html report.html
    """
    import warnings

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    import traindx as tdx
    from traindx.diagnose.default import StaleModelWarning
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
            runs, curves = tdx.load_runs(path, percent=percent)
            progress.add_task("diagnosing", total=None)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", StaleModelWarning)
                result = tdx.diagnose(curves, at_epoch=at_epoch, runs=runs)
            for w in caught:  # the default model was refitted: say why, in one line, not as a code warning
                console.print(f"note: {w.message}", markup=False, highlight=False, soft_wrap=True)
    except (InputError, OSError):
        raise
    except ValueError as exc:  # a malformed file a reader rejected: say which and what was expected
        raise InputError(
            f"could not read runs from {path!r} ({exc}); traindx diagnose --help lists what each reader takes"
        ) from exc
    for notice in curves.attrs.get("notices", []):
        console.print(f"note: {notice}", markup=False, highlight=False, soft_wrap=True)
    unshown = sorted(result.attrs.get("causes_not_judged", {}))
    if unshown:
        console.print(
            f"causes not judged on any run (the curves do not show them: on tasks held out when the model was "
            f"fitted, no call reached the target precision): {', '.join(unshown)}",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
    if details if details is not None else len(result) <= DETAIL_RUNS:
        for table in _diagnosis_tables(result):
            console.print(table)
    else:
        console.print(_summary_table(result))
        console.print(
            "each run's probabilities, advice and drivers: --details, --json or --csv", markup=False
        )
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
    """Per run a rich table of each judged label's call and probability, then lines of advice and drivers.

    A label no run could be judged on (every probability NaN: no run logs a metric it needs) is left out; one
    that only some runs lack reads "not judged" in theirs.
    """
    from rich.table import Table

    labels = [c[2:] for c in result.columns if c.startswith("p_") and result[c].notna().any()]
    left_out = [c[2:] for c in result.columns if c.startswith("p_") and c[2:] not in labels]
    if left_out:
        yield (
            f"[dim]not judged for any run (a metric they need is not logged, or the curves are unlike the corpus): {', '.join(left_out)}[/dim]"
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
        yield f"  [bold]advice[/bold]: {row['advice'].split('; not judged: ')[0]}"
        if row["drivers"]:
            yield f"  [bold]drivers[/bold]: {row['drivers']}"
        if row.get("not_judged"):
            yield f"  [bold]not judged[/bold]: {row['not_judged']}"
        yield ""


def _summary_table(result):
    """One row per run: the calls raised now, where it is heading, the likely cause."""
    from rich.table import Table

    from traindx.report.tables import call_summary

    summary = call_summary(result)
    table = Table(title=f"{len(result)} runs", title_justify="left")
    for name in ("run", "epoch", "now", "heading to", "likely cause"):
        table.add_column(name, justify="right" if name == "epoch" else "left")
    for run_id, row in summary.iterrows():
        table.add_row(str(run_id), str(result.loc[run_id, "epoch"]), row["now"], row["heading to"],
                      row["likely cause"])  # fmt: skip
    return table
