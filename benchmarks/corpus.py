"""Summary of a shipped corpus: runs per part, final accuracies and rule-label rates at the study checkpoints.

Shows whether every label has positives from more than one cause (the study design alone gives underfitting
only at epoch 1 and overfitting almost only with class imbalance).

    .venv/bin/python benchmarks/corpus.py mnist fashion_mnist

The many-task corpus (``tasks``): per task and per modality the runs, final-epoch label rates, spread of final
test accuracy and seconds per run; then sweep throughput on the same small many-task sweep with 1 local worker
(twice: the A/A control of timing noise), 2 local workers and Ray with 2 CPUs, as ratios measured in one run.

    TRAINDX_DATA_DIR=../shared/data .venv/bin/python benchmarks/corpus.py tasks [--throughput-runs 16]
"""

from __future__ import annotations

import pandas as pd

from traindx.curves.labels import checkpoint_rule_labels
from traindx.diagnose.default import corpus_dir

CHECKPOINTS = [1, 5, 6, 11, 16, 21, 26]


def summarize(name: str) -> None:
    runs = pd.read_parquet(corpus_dir() / f"{name}_runs.parquet")
    curves = pd.read_parquet(corpus_dir() / f"{name}_epochs.parquet")
    size = sum((corpus_dir() / f"{name}_{t}.parquet").stat().st_size for t in ("runs", "epochs")) / 1e6
    print(
        f"## {name}: {len(runs)} runs, {len(curves)} curve rows, {size:.2f} MB, "
        f"{runs['wall_seconds'].sum() / 60:.1f} CPU-minutes of runs"
    )
    labels = checkpoint_rule_labels(curves, CHECKPOINTS).reset_index()
    labels = labels.merge(runs[["run_id", "part", "imbalance"]], on="run_id")
    labels["group"] = labels["part"].where(
        labels["part"] != "study",
        "study_" + labels["imbalance"].map({1.0: "balanced", 0.1: "imbalanced"}).astype(str),
    )
    table = labels.groupby("group")[["underfitting", "overfitting", "dataset_shift"]].mean().round(2)
    table.insert(0, "runs", labels.groupby("group")["run_id"].nunique())
    late = labels[labels["checkpoint"] >= 5].groupby("group")[["underfitting", "overfitting"]].mean().round(2)
    table["underfitting_from_epoch5"] = late["underfitting"]
    print(table.to_string())
    final = curves.sort_values("epoch").groupby("run_id").last()
    print(
        f"final test accuracy: median {final['test_acc'].median():.3f}, "
        f"range {final['test_acc'].min():.3f}-{final['test_acc'].max():.3f}\n"
    )


def summarize_tasks() -> None:
    from traindx.curves.labels import rule_labels
    from traindx.experiments.corpus import load_parts

    runs, curves, signals = load_parts(corpus_dir() / "tasks_causes")
    runs = runs.set_index("run_id")
    labels = rule_labels(curves).reindex(runs.index)
    final = curves.sort_values("epoch").groupby("run_id").last().reindex(runs.index)
    frame = labels.assign(
        modality=runs["modality"],
        task=runs["dataset"],
        test_acc=final["test_acc"],
        seconds=runs["wall_seconds"],
    )
    print(
        f"## tasks_causes: {len(runs)} runs, {runs['dataset'].nunique()} tasks, {runs['modality'].nunique()} "
        f"modalities, {len(curves)} curve rows, {len(signals)} signal rows"
    )
    for key in ("modality", "task"):
        g = frame.groupby(key)
        table = g[["underfitting", "overfitting", "dataset_shift"]].mean().round(2)
        table.insert(0, "runs", g.size())
        acc = g["test_acc"]
        table["acc_median"] = acc.median().round(3)
        table["acc_iqr"] = (acc.quantile(0.75) - acc.quantile(0.25)).round(3)
        table["acc_min"], table["acc_max"] = acc.min().round(3), acc.max().round(3)
        table["s_per_run"] = g["seconds"].mean().round(2)
        print(table.to_string(), "\n")


def throughput(n_runs: int) -> None:
    """Wall time of one small many-task sweep per backend, as ratios against 1 local worker."""
    import os
    import tempfile
    import time
    from pathlib import Path

    from traindx.experiments.spec import load_spec
    from traindx.experiments.sweep import run_sweep
    from traindx.store import RunStore

    spec = load_spec(Path(__file__).resolve().parents[1] / "examples" / "tasks_causes.toml")
    # the first configs of the interleaved order, shortened: the corpus' mix of modalities and conditions
    configs = [{**c, "epochs": 5} for c in spec.configs[:n_runs]]
    print(f"load average before: {os.getloadavg()}; {len(configs)} runs of 5 epochs")

    def one(backend: str, workers: int) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            store = RunStore(Path(tmp) / "t.duckdb")
            t0 = time.perf_counter()
            summary = run_sweep(configs, store, backend=backend, workers=workers)
            wall = time.perf_counter() - t0
            assert summary.finished == len(configs), summary
            return wall

    base = one("local", 1)
    rows = [("local, 1 worker (A)", base), ("local, 1 worker (A/A)", one("local", 1))]
    rows.append(("local, 2 workers", one("local", 2)))
    try:
        rows.append(("ray, 2 CPUs (incl. start-up)", one("ray", 2)))
    except Exception as exc:  # Ray is an optional extra
        print(f"ray skipped: {exc}")
    for name, wall in rows:
        print(
            f"{name:30s} wall {wall:7.1f}s  {len(configs) / wall * 60:6.1f} runs/min  ratio to A {base / wall:.2f}"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpora", nargs="*", default=["mnist", "fashion_mnist"])
    ap.add_argument(
        "--throughput-runs",
        type=int,
        default=16,
        help="runs per throughput sweep (0: skip the throughput part)",
    )
    args = ap.parse_args()
    for corpus in args.corpora:
        if corpus == "tasks":
            summarize_tasks()
            if args.throughput_runs > 0:
                throughput(args.throughput_runs)
        else:
            summarize(corpus)
