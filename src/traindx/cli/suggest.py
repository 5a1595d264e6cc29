"""``traindx suggest``: the untried configurations of a spec worth training next."""

from __future__ import annotations

from pathlib import Path

import typer

from traindx.cli.app import at_least, command, fail


@command()
def suggest(
    spec: Path = typer.Argument(..., help="TOML sweep spec whose configurations are the candidates."),
    store: Path = typer.Option(Path("runs.duckdb"), help="DuckDB run store the predictor learns from."),
    n: int = typer.Option(10, "-n", help="How many configurations to print."),
    kappa: float = typer.Option(0.0, help="Exploration: rank by predicted accuracy + kappa * uncertainty."),
) -> None:
    """Print the N most promising untried configurations of SPEC, with predicted accuracy and uncertainty.

    Example: traindx suggest examples/mnist_meta.toml --store runs.duckdb -n 10
    """
    from rich.console import Console
    from rich.table import Table

    from traindx.experiments.spec import load_spec
    from traindx.search.candidates import suggest_untried
    from traindx.store import RunStore

    at_least(n, 1, "-n")
    if not store.is_file():
        fail(f"run store {store} not found; run `traindx sweep SPEC --store {store}` first or pass --store")
    console = Console()
    configs = load_spec(spec).configs
    with console.status("fitting the performance predictor on the run store..."):
        rs = RunStore(store, read_only=True)
        runs, curves = rs.read()
        top = suggest_untried(configs, runs, curves, n=n, kappa=kappa)
    shown = [c for c in top.columns if c not in ("run_id", "pred_acc", "pred_std", "score")]
    varying = [c for c in shown if top[c].astype(str).nunique() > 1] or shown[:6]
    table = Table(title=f"{len(top)} most promising untried configurations of {spec.name}")
    for col in ["#", *varying, "predicted val acc", "+-", "run_id"]:
        table.add_column(col, justify="right" if col not in varying else "left")
    for i, row in top.iterrows():
        values = [f"{row[c]:.3g}" if isinstance(row[c], float) else str(row[c]) for c in varying]
        table.add_row(str(i + 1), *values, f"{row.pred_acc:.3f}", f"{row.pred_std:.3f}", str(row.run_id))
    console.print(table)
