"""Summary of a shipped corpus: runs per part, final accuracies and rule-label rates at the study checkpoints.

Shows whether every label has positives from more than one cause (the study design alone gives underfitting
only at epoch 1 and overfitting almost only with class imbalance).

    .venv/bin/python benchmarks/corpus.py mnist fashion_mnist
"""

from __future__ import annotations

import sys

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


if __name__ == "__main__":
    for corpus in sys.argv[1:] or ["mnist", "fashion_mnist"]:
        summarize(corpus)
