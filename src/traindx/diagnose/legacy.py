"""The diagnoser of earlier releases: a random forest on epoch-scale features, fitted on MNIST / Fashion-MNIST.

Kept so the earlier tables in ``benchmarks/RESULTS.md`` stay reproducible (``benchmarks/diagnoser.py --only
abcdef``) and for comparison with the task-free default (:mod:`traindx.diagnose.default`). The corpora are
``traindx/data/corpus/<name>_runs.parquet`` and ``<name>_epochs.parquet`` (real MNIST and Fashion-MNIST
trainings); ``python -m traindx.diagnose.build_default --legacy --out PATH`` writes the fitted forests as data.

Training rows are (run, checkpoint) prefixes, so the model diagnoses a run at any epoch. Three label families
are fitted together: the rule labels at the checkpoint (state now), the rule labels at the run's final epoch
(``final_*``: where the run is heading) and, from the run table, the applied conditions (``cause_*``).
Some runs are shown without set sizes or test metrics (:func:`hide_optional`), so curves from sources that log
neither (TensorBoard, MLflow) are read correctly too.

Example:
    >>> from traindx.diagnose.legacy import CHECKPOINTS
    >>> CHECKPOINTS[0]
    1
"""

from __future__ import annotations

import hashlib
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from traindx.curves.labels import cause_labels, checkpoint_rule_labels, future_labels
from traindx.curves.schema import CONTEXT_COLUMNS, add_context
from traindx.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from traindx.diagnose.curve_diagnoser import CurveDiagnoser

# Early checkpoints are dense (the calls that matter most are made in the first epochs), later ones sparse; the
# study used 1, 5, 6, 11, 16, 21, 26.
CHECKPOINTS = (1, 2, 3, 5, 8, 13, 26)
# 40 trees and 2 calibration folds keep the first-use fit near 30 s on 2 cores (benchmarks/RESULTS.md, diagnoser (f)).
N_ESTIMATORS = 40
CALIBRATION_FOLDS = 2


def corpus_dir() -> Path:
    """Folder of the corpus Parquet files: ``$TRAINDX_CORPUS_DIR`` when set (a corpus of your own runs, written by
    ``traindx sweep ... --corpus``), else the one shipped in the package.

    Example:
        >>> corpus_dir().name  # doctest: +SKIP
        'corpus'
    """
    own = os.environ.get("TRAINDX_CORPUS_DIR")
    return Path(own) if own else Path(str(resources.files("traindx") / "data" / "corpus"))


def corpus_names(folder: str | Path | None = None) -> tuple[str, ...]:
    """Names of the corpora in ``folder`` (default :func:`corpus_dir`): each ``<name>_runs.parquet`` that has
    its ``<name>_epochs.parquet``, sorted.

    Example:
        >>> corpus_names()
        ('fashion_mnist', 'mnist')
    """
    root = Path(folder) if folder is not None else corpus_dir()
    names = [p.name.removesuffix("_runs.parquet") for p in root.glob("*_runs.parquet")]
    return tuple(sorted(n for n in names if (root / f"{n}_epochs.parquet").exists()))


def corpus_hash(names: tuple[str, ...] | None = None, folder: str | Path | None = None) -> str:
    """SHA-256 over the names and bytes of the corpus files a default model is fitted on.

    Example:
        >>> len(corpus_hash())
        64
    """
    root = Path(folder) if folder is not None else corpus_dir()
    h = hashlib.sha256()
    for name in names if names is not None else corpus_names(root):
        for part in ("runs", "epochs"):
            path = root / f"{name}_{part}.parquet"
            h.update(path.name.encode())
            h.update(path.read_bytes() if path.exists() else b"")
    return h.hexdigest()


def load_corpus(
    names: tuple[str, ...] | None = None, folder: str | Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, curves) of the corpora ``names`` in ``folder`` (default: every corpus in :func:`corpus_dir`),
    finished runs only, run ids prefixed by the corpus name; the curves carry the run context (train-set size,
    batch size, planned epochs) from the run table."""
    root = Path(folder) if folder is not None else corpus_dir()
    runs_parts, curve_parts = [], []
    for name in names if names is not None else corpus_names(root):
        rp, ep = root / f"{name}_runs.parquet", root / f"{name}_epochs.parquet"
        if not rp.exists() or not ep.exists():
            continue
        runs, curves = pd.read_parquet(rp), pd.read_parquet(ep)
        if "status" in runs.columns:
            runs = runs[runs["status"].astype(str).isin(["ok", "done", "finished", "completed", "success"])]
        runs = runs.assign(run_id=name + ":" + runs["run_id"].astype(str))
        curves = curves.assign(run_id=name + ":" + curves["run_id"].astype(str))
        curves = add_context(curves[curves["run_id"].isin(runs["run_id"])], runs)
        runs_parts.append(runs)
        curve_parts.append(curves)
    if not runs_parts:
        raise InputError(
            f"the shipped curve corpus is missing from {root}; reinstall traindx, or fit your own "
            "tdx.CurveDiagnoser on labelled curves"
        )
    return pd.concat(runs_parts, ignore_index=True), pd.concat(curve_parts, ignore_index=True)


def training_table(
    runs: pd.DataFrame, curves: pd.DataFrame, checkpoints=CHECKPOINTS, causes: bool = True
) -> pd.DataFrame:
    """Label frame indexed by (run_id, checkpoint): rule labels now, final rule labels, and cause labels."""
    now = checkpoint_rule_labels(curves, checkpoints)
    run_ids = now.index.get_level_values(0)
    final = future_labels(curves, runs=runs).reindex(run_ids)
    parts = [now, final.set_axis(now.index)]
    if causes:
        cause = cause_labels(runs)
        parts.append(cause.add_prefix("cause_").reindex(run_ids).fillna(0).astype(int).set_axis(now.index))
    return pd.concat(parts, axis=1)


def hide_optional(curves: pd.DataFrame) -> pd.DataFrame:
    """Copy of the curves with the set sizes blanked on every 2nd run, the test metrics on every 3rd and the run
    context on every 3rd from the second, so a model fitted on them also reads curves from sources that log
    none of these (TensorBoard, MLflow, Keras).

    Labels are computed before hiding, so they stay those of the full curves.

    Example:
        >>> c = pd.DataFrame({"run_id": list("abc"), "epoch": 1, "test_acc": 0.9, "n_val": 100, "max_epochs": 9})
        >>> h = hide_optional(c)
        >>> h["n_val"].isna().tolist(), h["test_acc"].isna().tolist(), h["max_epochs"].isna().tolist()
        ([True, False, True], [True, False, False], [False, True, False])
    """
    ids = pd.Index(pd.unique(curves["run_id"]))
    out = curves.copy()
    hidden = (
        (("n_val", "n_test"), ids[::2]),
        (("test_acc", "test_loss"), ids[::3]),
        (CONTEXT_COLUMNS, ids[1::3]),
    )
    for cols, which in hidden:
        cols = [c for c in cols if c in out.columns]
        out[cols] = out[cols].astype(float)
        out.loc[out["run_id"].isin(set(which)), cols] = float("nan")
    return out


def fit_default(
    runs: pd.DataFrame, curves: pd.DataFrame, n_estimators: int = N_ESTIMATORS, causes: bool = True
) -> CurveDiagnoser:
    """Fit the default design (RF, full features, sigmoid calibration) on a corpus."""
    from traindx.diagnose.curve_diagnoser import CurveDiagnoser

    y = training_table(runs, curves, causes=causes)
    diag = CurveDiagnoser(model="rf", n_estimators=n_estimators, cv=CALIBRATION_FOLDS, random_state=0)
    return diag.fit(hide_optional(curves), y)


def expected_meta(folder: str | Path | None = None) -> dict:
    """What a legacy model file records: version, fit settings, corpus hash.

    Example:
        >>> sorted(expected_meta())[:2]
        ['calibration_folds', 'checkpoints']
    """
    from traindx import __version__

    return {
        "traindx_version": __version__,
        "checkpoints": list(CHECKPOINTS),
        "n_estimators": N_ESTIMATORS,
        "calibration_folds": CALIBRATION_FOLDS,
        "corpus": list(corpus_names(folder)),
        "corpus_sha256": corpus_hash(folder=folder),
    }
