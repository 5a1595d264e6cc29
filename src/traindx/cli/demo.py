"""``traindx demo``: the whole tool end to end on offline data."""

from __future__ import annotations

from pathlib import Path

import typer

from traindx.cli.app import command, fail


@command()
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
        fail(str(exc))
