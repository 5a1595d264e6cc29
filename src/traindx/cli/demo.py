"""``traindx demo``: the whole tool end to end on offline data."""

from __future__ import annotations

from pathlib import Path

import typer

from traindx.cli.app import at_least, command, output_folder


@command()
def demo(
    quick: bool = typer.Option(False, "--quick", help="Fewer, smaller trainings (about half a minute)."),
    epochs: int = typer.Option(None, help="Epochs per training (default: 6, or 3 with --quick)."),
    out: Path = typer.Option(
        Path("traindx-demo"), help="Folder for the run store, signal records, models and report.html."
    ),
) -> None:
    """Show the whole tool on offline data: sweep, monitor, curve diagnosis, suggest, MD tree, HTML report.

    Example: traindx demo --quick --out demo

    Six real trainings (one healthy, five broken in common ways) run with the live monitor on into a DuckDB
    run store (OUT/runs.duckdb, rewritten each time); the curve diagnoser reads them, a performance
    predictor suggests what to try next, the MD tree diagnoses a small CNN, and OUT/report.html holds it all.
    """
    from traindx.report.demo import run_demo

    at_least(epochs, 1, "--epochs")
    run_demo(out=output_folder(out, "--out"), quick=quick, epochs=epochs)
