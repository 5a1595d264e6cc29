"""``traindx demo``: the whole tool end to end on offline data."""

from __future__ import annotations

from pathlib import Path

import typer

from traindx.cli.app import at_least, command, output_folder


@command()
def demo(
    epochs: int = typer.Option(3, help="Epochs to train."),
    out: Path = typer.Option(Path("traindx-demo"), help="Folder for the signal record and reports."),
) -> None:
    """Train a small model on offline data with the live monitor on, then show the findings.

    A healthy run and a deliberately broken one (learning rate far too high) run side by side; each run's
    signal record is written to OUT.
    """
    from traindx.report.demo import run_demo

    at_least(epochs, 1, "--epochs")
    run_demo(epochs=epochs, out=output_folder(out, "--out"))
