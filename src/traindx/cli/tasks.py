"""``traindx tasks``: list the tasks available from the data dir, with their meta-features."""

from __future__ import annotations

import typer

from traindx.cli.app import command


@command(name="tasks")
def tasks_command(
    modality: str = typer.Option(None, help="Only tasks of this modality: tabular, image, text, timeseries."),
    meta: bool = typer.Option(
        True, help="Compute (or read cached) meta-features; --no-meta lists names only."
    ),
    csv: str = typer.Option(None, help="Also write the table to this CSV file."),
) -> None:
    """List the tasks available from the data dir ($TRAINDX_DATA_DIR), with meta-features computed from data.

    Example: traindx tasks --modality tabular --csv tasks.csv
    """
    import pandas as pd
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from traindx.errors import InputError
    from traindx.experiments import tasks
    from traindx.experiments.vocabulary import MODALITIES

    if modality is not None and modality not in MODALITIES:
        raise InputError(f"unknown modality {modality!r}; use one of {', '.join(MODALITIES)}")
    root = tasks.data_dir(required=False)
    if not root.is_dir():
        typer.secho(
            f"warning: data dir {root} not found, so only the built-in tasks are listed; set $TRAINDX_DATA_DIR "
            "to the folder holding pmlb/, ucr/, nltk/, ...",
            fg=typer.colors.YELLOW,
            err=True,
        )
    names = tasks.list(modality)
    if not names:
        raise InputError(
            f"no tasks found; is the data dir {tasks.data_dir(required=False)} right? set $TRAINDX_DATA_DIR"
        )
    rows = []
    console = Console()
    if not console.is_terminal:  # piped or redirected: print every column in full
        console = Console(width=220)
    with Progress(console=console, transient=True) as bar:
        job = bar.add_task("meta-features", total=len(names))
        for name in names:
            info = tasks.info(name)
            row = {"task": name, "modality": info.modality, "source": info.source}
            if meta:
                row.update(tasks.meta_features(tasks.load(name)))
            rows.append(row)
            bar.advance(job)
    df = pd.DataFrame(rows)
    table = Table(title=f"{len(df)} tasks from {tasks.data_dir(required=False)}")
    for col in df.columns:
        table.add_column(col, justify="left" if df[col].dtype == object else "right")
    for _, r in df.iterrows():
        table.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in r])
    console.print(table)
    counts = df["modality"].value_counts().to_dict()
    console.print(", ".join(f"{k}: {v}" for k, v in counts.items()))
    if csv:
        df.to_csv(csv, index=False)
        console.print(f"written to {csv}")
