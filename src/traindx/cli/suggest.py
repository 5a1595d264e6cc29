"""``traindx suggest``: the untried configurations of a spec worth training next, and optionally the loop
suggest -> train -> refit -> suggest again, every run recorded in the store."""

from __future__ import annotations

from pathlib import Path

import typer

from traindx.cli.app import at_least, command, fail


@command()
def suggest(
    spec: Path = typer.Argument(..., help="TOML sweep spec whose configurations are the candidates."),
    store: Path = typer.Option(Path("runs.duckdb"), help="DuckDB run store the predictor learns from."),
    n: int = typer.Option(10, "-n", help="How many configurations to suggest (per round)."),
    kappa: float = typer.Option(0.0, help="Exploration: rank by predicted accuracy + kappa * uncertainty."),
    train: bool = typer.Option(False, "--train", help="Train the suggested configurations into the store."),
    rounds: int = typer.Option(1, help="With --train: suggest, train and refit this many times."),
    workers: int = typer.Option(
        0, help="With --train: parallel local training processes (0: train in this process)."
    ),
    seed: int = typer.Option(0, help="Seed of the first round's random picks when the store has no runs."),
) -> None:
    """Print the N most promising untried configurations of SPEC, with predicted accuracy and uncertainty;
    with --train, train them, refit on the store and suggest again (--rounds).

    A store with fewer than two finished runs has nothing to learn from yet: the first round then trains N
    configurations of the spec drawn at random.

    Example: traindx suggest examples/mnist_meta.toml --store runs.duckdb -n 4 --train --rounds 3
    """
    import numpy as np
    import pandas as pd
    from rich.console import Console

    from traindx.experiments.runner import run_id
    from traindx.experiments.spec import load_spec
    from traindx.experiments.sweep import run_sweep
    from traindx.search.candidates import suggest_untried
    from traindx.search.predictor import targets
    from traindx.store import RunStore

    at_least(n, 1, "-n")
    at_least(rounds, 1, "--rounds")
    at_least(workers, 0, "--workers")
    if rounds > 1 and not train:
        fail(f"--rounds {rounds} repeats suggest -> train -> refit; add --train (or drop --rounds)")
    if not store.is_file() and not train:
        fail(f"run store {store} not found; run `traindx sweep SPEC --store {store}` first or pass --store")
    console = Console()
    configs = load_spec(spec).configs
    by_id = {run_id(c): c for c in configs}
    spec_table = pd.DataFrame(configs).drop(columns=["part"], errors="ignore")
    searched = [c for c in spec_table.columns if spec_table[c].astype(str).nunique() > 1]
    rng = np.random.default_rng(seed)
    for r in range(1, rounds + 1):
        runs, curves = RunStore(store, read_only=True).read() if store.is_file() else (pd.DataFrame(), None)
        status = runs.set_index("run_id")["status"] if len(runs) else pd.Series(dtype=str)
        finished = runs[runs["status"] == "finished"] if len(runs) else runs
        failed = {i for i in by_id if status.get(i) == "failed"}
        # a configuration that failed is not suggested again (`traindx sweep` retries failed runs)
        todo = [i for i in by_id if status.get(i) != "finished" and i not in failed]
        title = f"round {r}/{rounds}: " if train else ""
        if not todo:
            if r > 1:
                console.print(
                    f"every configuration of {spec.name} has been tried; stopping after round {r - 1}"
                )
                break
            fail(
                f"every configuration of {spec.name} is already in {store}"
                + (f" ({len(failed)} failed; `traindx sweep` retries them)" if failed else "")
                + "; widen the spec's space"
            )
        if failed and r == 1:
            console.print(f"{len(failed)} configurations failed before and are left out")
        if len(finished) < 2:
            picks = [todo[i] for i in rng.choice(len(todo), size=min(n, len(todo)), replace=False)]
            top = pd.DataFrame([dict(by_id[i], run_id=i) for i in picks]).drop(
                columns=["part"], errors="ignore"
            )
            top = top.assign(pred_acc=np.nan, pred_std=np.nan)
            title += f"{len(top)} random configurations of {spec.name} (no runs to learn from yet)"
        else:
            with console.status("fitting the performance predictor on the run store..."):
                top = suggest_untried([by_id[i] for i in todo], runs, curves, n=n, kappa=kappa)
            title += f"{len(top)} most promising untried configurations of {spec.name}"
        _print(console, top, title, searched)
        if not train:
            return
        run_store = RunStore(store)
        with console.status(f"training {len(top)} configurations into {store}..."):
            summary = run_sweep([by_id[i] for i in top["run_id"]], run_store, workers=workers)
        if summary.interrupted:
            typer.echo("interrupted: the runs already trained are in the store; rerun to continue")
            raise typer.Exit(code=130)
        done_runs = run_store.runs().set_index("run_id").reindex(top["run_id"])
        errors = done_runs.loc[done_runs["status"] == "failed", "error"].dropna()
        first_error = str(errors.iloc[0]).splitlines()[0] if len(errors) else ""
        if summary.finished == 0 and summary.failed:
            typer.echo(
                f"error: every run of round {r} failed ({summary.failed}); the first: {first_error}\n"
                "fix the spec and rerun (each error is in the store: status 'failed', column 'error')",
                err=True,
            )
            raise typer.Exit(code=3)
        got = targets(run_store.curves())["final"].reindex(top["run_id"])
        line = f"trained {summary.finished} ({summary.failed} failed) in {summary.wall_seconds:.1f}s"
        if got.notna().any():
            line += f"; best val acc this round {got.max():.3f}"
        if top["pred_acc"].notna().any() and got.notna().any():
            err = np.nanmean(np.abs(got.to_numpy() - top["pred_acc"].to_numpy()))
            line += f"; predicted-vs-real error {err:.3f}"
        console.print(line)
        if first_error:
            console.print(f"failed: {first_error}")
    if train:
        t = targets(RunStore(store, read_only=True).curves())["final"]
        t = t[t.index.isin(by_id)]
        if len(t):
            console.print(f"best of {spec.name} in {store}: val acc {t.max():.3f} (run {t.idxmax()})")


def _print(console, top, title: str, searched: list[str]) -> None:
    from rich.table import Table

    shown = [c for c in top.columns if c not in ("run_id", "pred_acc", "pred_std", "score")]
    # the spec's searched parameters, even where this round's picks agree on one
    varying = [c for c in shown if c in searched] or [c for c in shown if top[c].astype(str).nunique() > 1]
    varying = varying or shown[:6]
    table = Table(title=title)
    for col in ["#", *varying, "predicted val acc", "+-", "run_id"]:
        table.add_column(col, justify="right" if col not in varying else "left")
    for i, row in enumerate(top.itertuples(index=False)):
        d = row._asdict()
        values = [f"{d[c]:.3g}" if isinstance(d[c], float) else str(d[c]) for c in varying]
        pred = "-" if d["pred_acc"] != d["pred_acc"] else f"{d['pred_acc']:.3f}"
        std = "-" if d["pred_std"] != d["pred_std"] else f"{d['pred_std']:.3f}"
        table.add_row(str(i + 1), *values, pred, std, str(d["run_id"]))
    console.print(table)
