"""Where the monitor's loss-trend thresholds come from: the shipped corpus's recorded training curves.

For every corpus run (MNIST and Fashion-MNIST; logistic regression, MLPs and CNNs; Adam and SGD over
lr 1e-5..1.5; see ``traindx.search.corpus``) it takes the per-epoch running training loss and measures, after
the first epoch, the largest rise over the best so far (``rise``: loss / best before it) and the largest share
of the progress made that was lost again (``lost``: (loss - best) / (start - best)). The monitor's divergence
rule (``signals.loss.RISE_OVER_BEST`` and ``DIVERGE_LOST_GAINS``: both at once) is then scored by how many
runs at ordinary learning rates (Adam <= 3e-3, SGD <= 0.3) it would flag, against the runs at learning rates
known to be too high (Adam >= 0.03, SGD > 0.3). The fault benchmarks' runs are not used.

``--many-task`` does the same on the many-task corpus (``tasks_causes``: 45 tasks, 4 modalities, read with
``traindx.experiments.corpus.load_parts``), grouped by its ``lr_scale`` condition (none = the design's own
learning rate), for the "rising" rule: learned (10%), 1.25x above the best so far, and the share of the
progress given back (``signals.loss.RISE_LOST_SHARE``).

    .venv/bin/python benchmarks/thresholds.py
    .venv/bin/python benchmarks/thresholds.py --many-task
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from traindx.signals import loss as lsig

CORPUS = "src/traindx/data/corpus/{}_{}.parquet"


def curves(dataset: str) -> pd.DataFrame:
    runs = pd.read_parquet(CORPUS.format(dataset, "runs"))
    epochs = pd.read_parquet(CORPUS.format(dataset, "epochs")).sort_values("epoch")
    rows = []
    for rid, g in epochs.groupby("run_id"):
        tl = g["running_train_loss"].fillna(g["train_loss"]).to_numpy(dtype=float)
        if len(tl) < 3 or not np.isfinite(tl).all():
            continue
        best = np.minimum.accumulate(tl)[:-1]
        rise = tl[1:] / best
        lost = (tl[1:] - best) / np.maximum(tl[0] - best, 1e-12)
        fires = (rise >= lsig.RISE_OVER_BEST) & (lost >= lsig.DIVERGE_LOST_GAINS) & (1 - best / tl[0] >= 0.1)
        rows.append((rid, rise.max(), lost.max(), bool(fires.any())))
    out = pd.DataFrame(rows, columns=["run_id", "rise", "lost", "fires"]).merge(runs, on="run_id")
    high = ((out.optimizer == "adam") & (out.lr >= 0.03)) | ((out.optimizer == "sgd") & (out.lr > 0.3))
    ordinary = ((out.optimizer == "adam") & (out.lr <= 3e-3)) | ((out.optimizer == "sgd") & (out.lr <= 0.3))
    out["group"] = np.where(high, "lr too high", np.where(ordinary, "ordinary lr", "other"))
    return out


def many_task() -> None:
    from traindx.experiments.corpus import load_parts

    runs, epochs, _ = load_parts("src/traindx/data/corpus/tasks_causes")
    scale = runs.set_index("run_id")["lr_scale"].fillna(1.0)
    rows = []
    for rid, g in epochs.sort_values("epoch").groupby("run_id"):
        tl = g["train_loss"].to_numpy(dtype=float)
        if len(tl) < 3 or not np.isfinite(tl).all():
            continue
        best = np.minimum.accumulate(tl)[:-1]
        learned = 1 - best / tl[0] >= lsig.STALLED_PROGRESS
        risen = learned & (tl[1:] >= lsig.RISE_OVER_BEST * best)
        lost = (tl[1:] - best) / np.maximum(tl[0] - best, 1e-12)
        rows.append((scale[rid], bool(risen.any()), float(lost[risen].max()) if risen.any() else 0.0))
    d = pd.DataFrame(rows, columns=["lr_scale", "risen", "lost"])
    print(f"many-task corpus: {len(d)} runs with finite curves")
    for ls, g in d.groupby("lr_scale"):
        shares = g.loc[g.risen, "lost"].round(3).tolist()
        counts = {t: int((g.lost >= t).sum()) for t in (0.02, lsig.RISE_LOST_SHARE, 0.1, 0.3)}
        print(
            f"  lr x{ls:<6g} n={len(g):>4}  1.25x over best after learning: {int(g.risen.sum()):>3}"
            f"  rising at share >= {counts}"
            + (f"  (shares given back: {sorted(shares)[-5:]})" if ls == 1.0 else "")
        )


def main() -> None:
    import sys

    if "--many-task" in sys.argv:
        many_task()
        return
    for ds in ("mnist", "fashion_mnist"):
        d = curves(ds)
        print(f"\n{ds}: {len(d)} runs")
        for grp, g in d.groupby("group"):
            q = g["rise"].quantile([0.5, 0.95, 0.99]).round(3).tolist()
            print(
                f"  {grp:<12} n={len(g):>3}  rise over best median/95%/99% {q}  "
                f"divergence rule fires on {int(g['fires'].sum())} ({100 * g['fires'].mean():.1f}%)"
            )


if __name__ == "__main__":
    main()
