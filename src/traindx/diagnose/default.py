"""The default diagnoser behind :func:`traindx.diagnose`, fitted from the corpus shipped with the package.

The shipped corpus (``traindx/data/corpus/*_runs.parquet`` and ``*_epochs.parquet``: real MNIST and
Fashion-MNIST trainings) is plain data. At first use in a process the model is *refitted* from it and kept in
memory (the cache lives in the process, not on disk); nothing is ever unpickled, so no file on disk can swap
the model. The fit takes about 30 s on 2 cores, once per process; :func:`default_diagnoser` returns the cached instance
afterwards. Set ``TRAINDX_CORPUS_DIR`` to fit the default from another corpus of the same format.

Training rows are (run, checkpoint) prefixes, so the model diagnoses a run at any epoch. Three label families
are fitted together: the rule labels at the checkpoint (state now), the rule labels at the run's final epoch
(``final_*``: where the run is heading) and, from the run table, the applied conditions (``cause_*``).
Some runs are shown without set sizes or test metrics (:func:`hide_optional`), so curves from sources that log
neither (TensorBoard, MLflow) are read correctly too.

Example:
    >>> from traindx.diagnose.default import CHECKPOINTS
    >>> CHECKPOINTS[0]
    1
"""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path

import pandas as pd

from traindx.curves.labels import cause_labels, checkpoint_rule_labels, future_labels
from traindx.curves.schema import CONTEXT_COLUMNS, add_context
from traindx.diagnose.curve_diagnoser import CurveDiagnoser
from traindx.errors import InputError

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


def load_corpus(names: tuple[str, ...] = ("mnist", "fashion_mnist")) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, curves) of the shipped corpora, finished runs only, run ids prefixed by the corpus name; the curves
    carry the run context (train-set size, batch size, planned epochs) from the run table."""
    runs_parts, curve_parts = [], []
    for name in names:
        rp, ep = corpus_dir() / f"{name}_runs.parquet", corpus_dir() / f"{name}_epochs.parquet"
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
            f"the shipped curve corpus is missing from {corpus_dir()}; reinstall traindx, or fit your own "
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
    y = training_table(runs, curves, causes=causes)
    diag = CurveDiagnoser(model="rf", n_estimators=n_estimators, cv=CALIBRATION_FOLDS, random_state=0)
    return diag.fit(hide_optional(curves), y)


@functools.lru_cache(maxsize=1)
def default_diagnoser() -> CurveDiagnoser:
    """The default model: random forest, full features, sigmoid-calibrated, fitted from the shipped corpus.

    Example:
        >>> default_diagnoser().labels_[:3]  # doctest: +SKIP
        ['underfitting', 'overfitting', 'dataset_shift']
    """
    runs, curves = load_corpus()
    return fit_default(runs, curves)
