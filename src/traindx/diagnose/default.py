"""The default diagnoser behind :func:`traindx.diagnose`: task-free, fitted on the shipped many-task corpus.

The model is plain data: ``traindx/data/models/default_diagnoser.npz`` (boosted trees as node arrays, read with
``allow_pickle=False``) and ``.json`` (labels, thresholds, calibration, the corpus ranges that decide what is
"not judged", and the traindx version, fit settings and corpus hash it was built from).
:func:`default_diagnoser` reads it in milliseconds and never refits: a file that does not match this
installation is an error naming the command that rebuilds it, ``python -m traindx.diagnose.build_default``.

Training rows are each run's prefix at fractions of its planned training (:data:`FRACTIONS`), so the model
diagnoses a run at any point. Context is hidden at random (:func:`hide_context`): planned epochs and the train
and batch sizes each on a third of the runs, the number of classes and the set sizes on half, the losses on a
fifth, so curves logged without a
run table or without losses get calls of their own rather than calls read from a missing value.

Example:
    >>> FRACTIONS[:3]
    (0.05, 0.1, 0.15)
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from traindx.curves.labels import future_labels
from traindx.diagnose.corpus import cause_table, corpus_hash, corpus_root, load_many_task
from traindx.diagnose.task_free import features_at_fraction
from traindx.errors import InputError

#: prefixes the model is fitted on, as fractions of planned training
FRACTIONS = (0.05, 0.1, 0.15, 0.25, 0.4, 0.6, 0.8, 1.0)
#: thresholds of forecasts are chosen on these prefixes, those of causes on the later ones
FORECAST_FRACTIONS = (0.05, 0.1, 0.15, 0.25, 0.4)
CAUSE_FRACTIONS = (0.25, 0.4, 0.6, 0.8, 1.0)
MAX_ITER = 100
INNER_FOLDS = 3
HIDE_SEED = 0

corpus_dir = corpus_root  # the name earlier releases used


def hide_context(curves: pd.DataFrame, seed: int = HIDE_SEED) -> pd.DataFrame:
    """Copy of the curves with context blanked per run at random: ``max_epochs`` and ``train_size`` /
    ``batch_size`` each on 1/3 of the runs, ``n_classes`` on 1/2, ``n_val``/``n_test`` on 1/2 and the losses on 1/5 (independent draws, seeded).

    Example:
        >>> c = pd.DataFrame({"run_id": [str(i) for i in range(300)], "epoch": 1, "max_epochs": 9.0})
        >>> bool(0.25 < hide_context(c)["max_epochs"].isna().mean() < 0.42)
        True
    """
    out = curves.copy()
    ids = pd.Index(pd.unique(out["run_id"].astype(str)))
    rng = np.random.default_rng(seed)
    key = out["run_id"].astype(str)
    plan = (
        (("max_epochs",), 1 / 3),
        (("train_size", "batch_size"), 1 / 3),
        (("n_classes",), 1 / 2),
        (("n_val", "n_test"), 1 / 2),
        (("train_loss", "val_loss", "test_loss"), 1 / 5),
    )
    for cols, rate in plan:
        hidden = set(ids[rng.random(len(ids)) < rate])
        cols = [c for c in cols if c in out.columns]
        if cols:
            out[cols] = out[cols].astype(float)
            out.loc[key.isin(hidden), cols] = np.nan
    return out


def training_set(
    runs: pd.DataFrame, curves: pd.DataFrame, fractions=FRACTIONS, hide: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(X, y, info) with one row per run and fraction: task-free features of the prefix, the labels
    (``final_*`` from the full curve, ``cause_*`` from the run table) and info (run_id, fraction, task, modality).

    Labels are computed before any context is hidden, so they stay those of the full curves.
    """
    planned = runs.set_index("run_id")["epochs"].astype(float)
    final = future_labels(curves)
    causes = cause_table(runs).add_prefix("cause_")
    shown = hide_context(curves) if hide else curves
    parts, infos = [], []
    by_run = runs.set_index("run_id")
    for f in fractions:
        X = features_at_fraction(shown, planned, f)
        parts.append(X)
        infos.append(
            pd.DataFrame(
                {
                    "run_id": X.index,
                    "fraction": f,
                    "task": by_run.loc[X.index, "task"].to_numpy(),
                    "modality": by_run.loc[X.index, "modality"].to_numpy(),
                }
            )  # fmt: skip
        )
    X = pd.concat(parts, ignore_index=True)
    info = pd.concat(infos, ignore_index=True)
    y = pd.concat(
        [
            final.reindex(info["run_id"]).reset_index(drop=True),
            causes.reindex(info["run_id"]).reset_index(drop=True),
        ],
        axis=1,
    )
    return X, y.astype(float), info


def fit_default(runs: pd.DataFrame, curves: pd.DataFrame, max_iter: int = MAX_ITER):
    """Fit the default design on a corpus ``(runs, curves)`` as :func:`load_corpus` returns it."""
    from traindx.diagnose.task_free_model import fit_task_free

    X, y, info = training_set(runs, curves)
    choose = {
        "final": info["fraction"].isin(FORECAST_FRACTIONS).to_numpy(),
        "cause": info["fraction"].isin(CAUSE_FRACTIONS).to_numpy(),
    }
    return fit_task_free(X, y, info["task"].to_numpy(), choose_rows=choose, inner_folds=INNER_FOLDS,
                         max_iter=max_iter)  # fmt: skip


def load_corpus(folder: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, curves) of the many-task corpus the default is fitted on (see :mod:`traindx.diagnose.corpus`)."""
    return load_many_task(folder)


def model_path() -> Path:
    """Path (without suffix) of the shipped default model: ``traindx/data/models/default_diagnoser``.

    Example:
        >>> model_path().name
        'default_diagnoser'
    """
    return Path(str(resources.files("traindx") / "data" / "models" / "default_diagnoser"))


def expected_meta(folder: str | Path | None = None) -> dict:
    """What the model file must record to be this installation's default: version, fit settings, corpus hash.

    Example:
        >>> sorted(expected_meta())[:2]
        ['corpus_sha256', 'features']
    """
    from traindx import __version__
    from traindx.diagnose.task_free import FEATURES

    return {
        "traindx_version": __version__,
        "fractions": list(FRACTIONS),
        "max_iter": MAX_ITER,
        "inner_folds": INNER_FOLDS,
        "features": list(FEATURES),
        "corpus_sha256": corpus_hash(folder),
    }


def stale_reason(path: str | Path | None = None, check_corpus: bool = False) -> str | None:
    """Why the model file at ``path`` (default :func:`model_path`) is not this installation's default, or None.

    The version, fit settings and features are always checked; the corpus hash (which reads the corpus, about
    9 MB) only with ``check_corpus``, as the tests do.

    Example:
        >>> stale_reason() is None
        True
    """
    from traindx import __version__
    from traindx.diagnose.task_free_model import read_facts

    try:
        meta = read_facts(path if path is not None else model_path()).get("meta", {})
    except InputError as exc:
        return str(exc)
    if check_corpus:
        expected = expected_meta()
    else:
        from traindx.diagnose.task_free import FEATURES

        expected = {"traindx_version": __version__, "fractions": list(FRACTIONS), "max_iter": MAX_ITER,
                    "inner_folds": INNER_FOLDS, "features": list(FEATURES)}  # fmt: skip
    differ = [k for k in expected if meta.get(k) != expected[k]]
    if not differ:
        return None
    words = {"traindx_version": "traindx version", "corpus_sha256": "corpus files", "features": "feature set"}
    return "the shipped default model was built for another " + ", ".join(words.get(k, k) for k in differ)


class StaleModelError(InputError):
    """The shipped default model does not match this installation; rebuild it with build_default."""


class StaleModelWarning(UserWarning):
    """Kept for callers of earlier releases, which refitted a stale model with this warning; none is raised now."""


@functools.lru_cache(maxsize=1)
def default_diagnoser():
    """The default model, read from the shipped model file (checked against this installation; never refitted).

    Example:
        >>> default_diagnoser().labels_[:3]
        ['underfitting', 'overfitting', 'dataset_shift']
    """
    from traindx.diagnose.task_free_model import load_task_free

    reason = stale_reason()
    if reason is not None:
        raise StaleModelError(
            f"{reason}; rebuild it with `python -m traindx.diagnose.build_default` (a few minutes), or reinstall "
            "traindx"
        )
    return load_task_free(model_path())[0]
