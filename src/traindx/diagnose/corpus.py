"""The corpora the default diagnoser is fitted and checked on, and the labels it learns from them.

- the **many-task corpus** (``traindx/data/corpus/tasks_causes/``: 45 tasks, 4 modalities, a factorial design
  of applied conditions), read with :func:`traindx.experiments.corpus.load_parts`: the default is fitted on it;
- the **MNIST / Fashion-MNIST corpora** (``traindx/data/corpus/<name>_{runs,epochs}.parquet``) of an earlier
  sweep with other models, sizes and 26-40 epochs: an extra check on runs from outside the fitting corpus.

Both come back as ``(runs, curves)`` with the run context the task-free features read (``max_epochs`` from the
run's planned epochs, ``n_classes`` from ``traindx/data/models/corpus_tasks.csv``) and ``task``/``modality``
columns in the run table for grouping.

Example:
    >>> runs, curves = load_many_task()
    >>> runs["task"].nunique() >= 40, {"max_epochs", "n_classes"} <= set(curves.columns)
    (True, True)
"""

from __future__ import annotations

import hashlib
import os
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from traindx.errors import InputError

#: cause label -> what it means in the corpus design (examples/tasks_causes.toml)
CAUSES = {
    "small_train": "train_fraction 0.25 or 0.05 of the task's training set",
    "imbalance": "half of the classes kept at rate 0.3 or 0.1 in training",
    "label_noise": "20% or 50% of training labels redrawn at random",
    "undersized_model": "capacity tiny or small (1/16 or 1/4 of the family's default width)",
    "bad_lr": "learning rate 0.003x, 0.03x, 10x or 100x Adam's 1e-3",
    "weight_decay": "weight decay 1e-3 or 1e-2",
    "dropout": "dropout 0.3 or 0.5",
    "shift": "a test-time shift suited to the modality",
}
FINISHED = ("ok", "done", "finished", "completed", "success")


def corpus_root() -> Path:
    """Folder of the shipped corpora: ``$TRAINDX_CORPUS_DIR`` when set, else ``traindx/data/corpus``.

    Example:
        >>> corpus_root().name  # doctest: +SKIP
        'corpus'
    """
    own = os.environ.get("TRAINDX_CORPUS_DIR")
    return Path(own) if own else Path(str(resources.files("traindx") / "data" / "corpus"))


def many_task_dir(root: str | Path | None = None) -> Path:
    """The many-task corpus folder (``tasks_causes``) under ``root`` (default :func:`corpus_root`)."""
    return Path(root if root is not None else corpus_root()) / "tasks_causes"


def task_classes() -> pd.Series:
    """Number of classes per corpus task (``traindx/data/models/corpus_tasks.csv``, from the task meta-features).

    Example:
        >>> int(task_classes()["cifar10"])
        10
    """
    path = Path(str(resources.files("traindx") / "data" / "models" / "corpus_tasks.csv"))
    table = pd.read_csv(path)
    return table.set_index("dataset")["n_classes"]


def _with_context(runs: pd.DataFrame, curves: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    if "status" in runs.columns:
        runs = runs[runs["status"].astype(str).isin(FINISHED)]
    runs = runs.assign(run_id=runs["run_id"].astype(str), task=runs["dataset"].astype(str)).reset_index(
        drop=True
    )
    if "modality" not in runs.columns:
        runs["modality"] = "image"
    classes = task_classes()
    by_run = runs.set_index("run_id")
    curves = curves.assign(run_id=curves["run_id"].astype(str))
    curves = curves[curves["run_id"].isin(by_run.index)].reset_index(drop=True)
    key = curves["run_id"]
    curves["max_epochs"] = key.map(by_run["epochs"]).astype(float)
    curves["n_classes"] = key.map(by_run["task"].map(classes)).astype(float)
    size = by_run["n_train_used"] if "n_train_used" in by_run.columns else by_run["n_train"]
    curves["train_size"] = key.map(size).astype(float)
    curves["batch_size"] = key.map(by_run["batch_size"]).astype(float)
    return runs, curves


def load_many_task(root: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, curves) of the many-task corpus, finished runs only, with context columns.

    Example:
        >>> runs, _ = load_many_task()
        >>> sorted(runs["modality"].unique())
        ['image', 'tabular', 'text', 'timeseries']
    """
    from traindx.experiments.corpus import load_parts

    folder = many_task_dir(root)
    runs, curves, _ = load_parts(folder)
    return _with_context(runs, curves)


def load_mnist_corpora(root: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, curves) of the MNIST and Fashion-MNIST corpora, run ids prefixed by the corpus name.

    Example:
        >>> runs, _ = load_mnist_corpora()
        >>> sorted(runs["task"].unique())
        ['fashion_mnist', 'mnist']
    """
    root = Path(root if root is not None else corpus_root())
    parts = []
    for name in ("fashion_mnist", "mnist"):
        rp, ep = root / f"{name}_runs.parquet", root / f"{name}_epochs.parquet"
        if rp.exists() and ep.exists():
            runs, curves = pd.read_parquet(rp), pd.read_parquet(ep)
            runs = runs.assign(run_id=name + ":" + runs["run_id"].astype(str), dataset=name)
            curves = curves.assign(run_id=name + ":" + curves["run_id"].astype(str))
            parts.append(_with_context(runs, curves))
    if not parts:
        raise InputError(f"the MNIST / Fashion-MNIST corpora are missing from {root}; reinstall traindx")
    return pd.concat([p[0] for p in parts], ignore_index=True), pd.concat(
        [p[1] for p in parts], ignore_index=True
    )


def cause_table(runs: pd.DataFrame) -> pd.DataFrame:
    """0/1 cause labels per run (index ``run_id``, columns :data:`CAUSES`) from the applied conditions.

    The many-task corpus records each condition's level; the MNIST corpora record ``n_train``, ``model``/``width``
    and ``lr``/``optimizer`` instead, read with :func:`traindx.curves.cause_labels` where a level is absent.

    Example:
        >>> runs = pd.DataFrame({"run_id": ["a", "b"], "capacity": ["medium", "tiny"], "shift": ["none", "blur"]})
        >>> cause_table(runs)[["undersized_model", "shift"]].to_numpy().tolist()
        [[0, 0], [1, 1]]
    """
    r = runs.set_index(runs["run_id"].astype(str))
    r.index.name = "run_id"
    out = pd.DataFrame(0, index=r.index, columns=list(CAUSES))

    def col(name: str, fill) -> pd.Series:
        return r[name].fillna(fill) if name in r.columns else pd.Series(fill, index=r.index)

    out["small_train"] = (col("train_fraction", 1.0).astype(float) < 1.0).astype(int)
    out["imbalance"] = (col("imbalance", 1.0).astype(float) < 1.0).astype(int)
    out["label_noise"] = (col("label_noise", 0.0).astype(float) > 0).astype(int)
    out["undersized_model"] = col("capacity", "medium").astype(str).isin(["tiny", "small"]).astype(int)
    scale = col("lr_scale", 1.0).astype(float)
    out["bad_lr"] = (np.abs(np.log10(scale)) >= 1.0).astype(int)
    out["weight_decay"] = (col("weight_decay", 0.0).astype(float) > 0).astype(int)
    out["dropout"] = (col("dropout", 0.0).astype(float) > 0).astype(int)
    out["shift"] = (~col("shift", "none").astype(str).str.lower().isin(["none", ""])).astype(int)
    if "capacity" not in r.columns and "train_fraction" not in r.columns:  # an MNIST-corpus run table
        from traindx.curves.labels import cause_labels

        old = cause_labels(r.reset_index(drop=False))
        for name in ("small_train", "undersized_model", "bad_lr"):
            if name in old.columns:
                out[name] = old[name].reindex(out.index).fillna(0).astype(int)
    return out


def corpus_hash(root: str | Path | None = None) -> str:
    """SHA-256 over the names and bytes of the many-task corpus files the default model is fitted on.

    Example:
        >>> len(corpus_hash())
        64
    """
    h = hashlib.sha256()
    for path in sorted(many_task_dir(root).glob("part-*_*.parquet")):
        if path.name.endswith(("_runs.parquet", "_epochs.parquet")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    classes = Path(str(resources.files("traindx") / "data" / "models" / "corpus_tasks.csv"))
    h.update(classes.read_bytes())
    return h.hexdigest()
