"""A many-task corpus shipped in parts, and its data card.

A long sweep is exported as it goes: :func:`export_part` writes the finished runs not yet in any part as
``part-NNN_runs.parquet`` / ``_epochs.parquet`` / ``_signals.parquet`` (zstd), so every part is final once
written; :func:`load_parts` reads them back as one corpus. :func:`data_card` describes it: tasks with sources
and licences, the applied conditions with their correlation table and per-modality rates, counts, final-epoch
label rates per task and modality, and the command that regenerates it.

Example:
    >>> import pandas as pd
    >>> runs = pd.DataFrame({"imbalance": [1.0, 0.1], "label_noise": [0.0, 0.2], "shift": ["none", "noise"]})
    >>> applied_conditions(runs)[["imbalance", "label_noise", "shift"]].to_numpy().tolist()
    [[0, 0, 0], [1, 1, 1]]
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from traindx.errors import InputError

# condition -> (config column, healthy value): a run has the condition applied when its value differs
CONDITIONS: dict[str, tuple[str, object]] = {
    "train_fraction": ("train_fraction", 1.0),
    "imbalance": ("imbalance", 1.0),
    "label_noise": ("label_noise", 0.0),
    "capacity": ("capacity", "medium"),
    "lr_scale": ("lr_scale", 1.0),
    "weight_decay": ("weight_decay", 0.0),
    "dropout": ("dropout", 0.0),
    "shift": ("shift", "none"),
}


def applied_conditions(runs: pd.DataFrame) -> pd.DataFrame:
    """0/1 per run and condition (:data:`CONDITIONS`); a missing column means the healthy value."""
    out = {}
    for name, (col, healthy) in CONDITIONS.items():
        if col not in runs:
            out[name] = np.zeros(len(runs), dtype=int)
            continue
        vals = runs[col]
        vals = vals.fillna(healthy) if not isinstance(healthy, str) else vals.fillna(healthy).astype(str)
        out[name] = (vals != healthy).astype(int).to_numpy()
    return pd.DataFrame(out, index=runs.index)


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*_runs.parquet"))


def export_part(store, folder: str | os.PathLike, keep: set[str] | None = None) -> tuple[Path, int] | None:
    """Write the store's finished runs that are in no part yet (and, given ``keep``, whose id is in it: the
    runs of the current spec) as the next part; returns (path, runs) or None."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    done: set[str] = set()
    for p in _parts(folder):
        done |= set(pd.read_parquet(p, columns=["run_id"])["run_id"])
    runs, curves = store.read()
    runs = runs[(runs["status"] == "finished") & ~runs["run_id"].isin(done)].drop(columns=["error"])
    if keep is not None:
        runs = runs[runs["run_id"].isin(keep)]
    if runs.empty:
        return None
    ids = set(runs["run_id"])
    curves = curves[curves["run_id"].isin(ids)].reset_index(drop=True)
    signals = store.signals()
    signals = signals[signals["run_id"].isin(ids)].reset_index(drop=True)
    for df in (curves, signals):
        for col in df.columns:
            if df[col].dtype == "float64" and col != "epoch_seconds":
                df[col] = df[col].astype("float32")
    stem = folder / f"part-{len(_parts(folder)):03d}"
    for kind, df in (("runs", runs.reset_index(drop=True)), ("epochs", curves), ("signals", signals)):
        tmp = Path(f"{stem}_{kind}.parquet.tmp")
        df.to_parquet(tmp, index=False, compression="zstd")
        tmp.replace(f"{stem}_{kind}.parquet")
    return Path(f"{stem}_runs.parquet"), len(runs)


def drop_runs(folder: str | os.PathLike, ids: set[str]) -> int:
    """Remove the runs ``ids`` from every part in ``folder`` (their curves and signals too), so the next
    export ships them again once re-run; the parts keep their names and order. Returns the runs removed."""
    removed = 0
    for part in _parts(Path(folder)):
        runs = pd.read_parquet(part)
        hit = runs["run_id"].isin(ids)
        if not hit.any():
            continue
        removed += int(hit.sum())
        for kind in ("runs", "epochs", "signals"):
            path = Path(str(part).replace("_runs.parquet", f"_{kind}.parquet"))
            if not path.is_file():
                continue
            df = pd.read_parquet(path)
            tmp = Path(f"{path}.tmp")
            df[~df["run_id"].isin(ids)].reset_index(drop=True).to_parquet(
                tmp, index=False, compression="zstd"
            )
            tmp.replace(path)
    return removed


def load_parts(folder: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(runs, curves, signals)`` of every part in ``folder``."""
    folder = Path(folder)
    parts = _parts(folder)
    if not parts:
        raise InputError(f"no corpus parts (part-*_runs.parquet) in {folder}; export some with export_part")

    def read(kind: str) -> pd.DataFrame:
        files = [Path(str(p).replace("_runs.parquet", f"_{kind}.parquet")) for p in parts]
        return pd.concat([pd.read_parquet(f) for f in files if f.is_file()], ignore_index=True)

    return read("runs"), read("epochs"), read("signals")


def _md(df: pd.DataFrame, floatfmt: str = ".2f") -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join([df.index.name or ""] + cols) + " |", "|" + "---|" * (len(cols) + 1)]
    for idx, *row in df.itertuples(name=None):  # per column, so an int column stays int
        cells = [format(v, floatfmt) if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join([str(idx)] + cells) + " |")
    return "\n".join(lines)


def data_card(runs: pd.DataFrame, curves: pd.DataFrame, name: str, command: str, target_runs: int) -> str:
    """The corpus' data card as Markdown."""
    from traindx.curves.labels import rule_labels
    from traindx.experiments import tasks

    runs = runs.set_index("run_id")
    cond = applied_conditions(runs)
    labels = rule_labels(curves).reindex(runs.index)
    final = curves.sort_values("epoch").groupby("run_id").last().reindex(runs.index)
    corr = cond.corr().round(3)
    off = corr.where(~np.eye(len(corr), dtype=bool)).abs()
    by_mod = cond.groupby(runs["modality"]).mean().T.round(3)
    spread = (by_mod.max(axis=1) - by_mod.min(axis=1)).round(3)
    by_mod["max difference"] = spread
    healthy = int((cond.sum(axis=1) == 0).sum())
    info = []
    for task, grp in runs.groupby("dataset"):
        try:
            entry = tasks.info(str(task))
            src, lic = entry.source, entry.licence
        except InputError:
            src, lic = "table", ""
        info.append({"task": task, "modality": grp["modality"].iloc[0], "source": src, "licence": lic,
                     "runs": len(grp), "median final test acc": float(final.loc[grp.index, "test_acc"].median())})  # fmt: skip
    info_df = pd.DataFrame(info).set_index("task").sort_values(["modality", "runs"], ascending=[True, False])
    lab = labels.groupby(runs["modality"]).mean().round(3)
    lab.insert(0, "runs", runs.groupby("modality").size())
    lab_task = labels.groupby(runs["dataset"]).mean().round(3)
    lab_task.insert(0, "runs", runs.groupby("dataset").size())
    lab_task.index.name = "task"
    secs = runs["wall_seconds"].astype(float)
    epochs_ok = curves.groupby("run_id")[["train_acc", "val_acc", "test_acc", "train_loss", "val_loss",
                                          "test_loss", "n_train", "n_val", "n_test"]].count().min(axis=1)  # fmt: skip
    complete = int((epochs_ok.reindex(runs.index) == runs["epochs"]).sum())
    status_note = (
        " (complete)"
        if len(runs) >= target_runs
        else " (a partial corpus: the sweep resumes\n  where it stopped and new parts are added as they finish)"
    )
    return f"""# Data card: {name}

A corpus of small, real PyTorch trainings over many public tasks, for learning how training failures show in
learning curves across tasks and modalities. Every run records train / validation / test accuracy and loss
after every epoch with the set sizes (`n_train`, `n_val`, `n_test`), and the live monitor's per-epoch signals
(gradient, weight and update norms, update/weight ratio, minibatch loss).

## Status
- finished runs: **{len(runs)}** of the {target_runs} the design holds{status_note}
- tasks: **{runs["dataset"].nunique()}**, modalities: **{runs["modality"].nunique()}**
  ({", ".join(f"{k}: {v}" for k, v in runs["modality"].value_counts().items())} runs)
- runs with every curve column at every epoch: {complete} of {len(runs)}
- runs with no condition applied (healthy baselines): {healthy}
- seconds per run: median {secs.median():.1f}, mean {secs.mean():.1f}, max {secs.max():.1f}
  ({secs.sum() / 3600:.2f} CPU-hours in all, one thread per run)

## Regenerate
```
{command}
```
The command skips the runs already shipped in the parts and those finished in its store, so it resumes
where it stopped, on any machine; it writes a part after every chunk of runs. The spec's
`order = "interleave"` alternates between the modalities, so a corpus stopped early is balanced.

## Conditions
The eight applied conditions follow orthogonal two-level blocks (`[parts.factorial]` in
`examples/tasks_causes.toml`): in every block of 16 rows each condition is applied in 8, every pair is
uncorrelated, and row 0 applies none (a healthy baseline). The four modalities share the condition rows and
the sweep alternates between them, so any complete round of blocks is exactly balanced; the task is a random
draw within its modality. Applied means: train_fraction 0.25 or 0.05; imbalance 0.3 or 0.1 (half of the
classes kept at that rate; validation drawn with the test split's class priors: balanced on a balanced task,
the task's own on a naturally imbalanced one); label_noise 0.2 or 0.5;
capacity tiny, small or large (1/16, 1/4, 4 x the family's default width; healthy: medium); lr_scale 0.003,
0.03, 10 or 100 x Adam's 1e-3; weight_decay 1e-3 or 1e-2; dropout 0.3 or 0.5; and a test-time shift suited to
the modality (tables: noise, scale, missing, subpopulation; images: noise, blur, rotate, invert; text:
word_dropout, typos; time series: noise, warp, offset, blur). Optimizer (Adam / AdamW), schedule (constant /
cosine / step), batch size (32, 64, 128) and epochs (20, 25, 30) are drawn at random per row; every row
trains with 3 seeds.

Correlation of applied conditions over the runs (largest off-diagonal |r| = {off.max().max():.3f}):

{_md(corr, ".3f")}

Rate of each applied condition per modality (largest difference between modalities =
{spread.max() * 100:.1f} points):

{_md(by_mod, ".3f")}

## Final-epoch rule labels
The study's rule labels (`traindx.curves.rule_labels`: underfitting = train accuracy < 0.7, overfitting =
train - val > 0.15, dataset_shift = val - test > 0.05 and 3 standard errors) at each run's last epoch.

Per modality:

{_md(lab, ".3f")}

Per task:

{_md(lab_task, ".3f")}

## Tasks, sources and licences
Raw files as published (listed in the task suite's index in its data folder): PMLB (EpistasisLab/pmlb, MIT; each table per its
original source), NASA PROMISE kc1, UCI blood transfusion (CC BY 4.0), MNIST (LeCun et al.), Fashion-MNIST
(Zalando, MIT), notMNIST (MIT), CIFAR-10 (Krizhevsky 2009, JPEG re-encoding), NLTK corpora (per corpus),
tiny shakespeare (public domain), UCR/UEA archive through aeon (BSD-3), scikit-learn generators and digits
(BSD-3), MNIST-1D (Apache-2.0).

{_md(info_df, ".3f")}
"""
