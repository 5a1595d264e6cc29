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
    """Train a small model on offline data with the live monitor on, then show the findings."""
    from traindx.report.demo import run_demo

    run_demo(epochs=epochs, out=out)


if __name__ == "__main__":  # pragma: no cover
    app()
