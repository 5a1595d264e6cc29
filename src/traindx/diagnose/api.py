"""``tdx.diagnose``: labels, probabilities, advice and the features behind each call, from the default model.

Example:
    >>> import traindx as tdx
    >>> callable(tdx.diagnose)
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from traindx.curves.features import featurize
from traindx.curves.schema import add_context
from traindx.diagnose.advice import advice_for

if TYPE_CHECKING:  # pragma: no cover
    from traindx.diagnose.fitted import DiagnoserPrediction

# Occlusion over the most important features only: each costs one extra predict_proba per label.
N_CANDIDATES = 8

# The metrics a label's rule reads. A run that lacks one is not judged on that label (probability NaN, call
# False): a model fed a missing train accuracy would otherwise read it as "low" and call underfitting.
NEEDS = {
    "underfitting": ("train_acc",),
    "overfitting": ("train_acc", "val_acc"),
    "dataset_shift": ("val_acc", "test_acc"),
    "cause_shift": ("val_acc", "test_acc"),
}


def _needs(label: str) -> tuple[str, ...]:
    key = label.removeprefix("final_")
    if key.startswith("cause_shift"):
        key = "cause_shift"
    return NEEDS.get(key, ("val_acc",))


def drivers(diag: DiagnoserPrediction, X: pd.DataFrame, label: str, top: int = 3) -> list[str]:
    """Per run, the ``top`` features whose replacement by the training median lowers P(label) the most.

    Returned as "feature=value (+delta)" strings, joined by ", ".

    Example:
        >>> drivers.__name__
        'drivers'
    """
    if label in diag.constant_:
        return [""] * len(X)
    est = diag.estimators_[label]
    Xv = X.reindex(columns=diag.feature_names_in_).to_numpy(dtype=float)
    base = est.predict_proba(Xv)[:, 1]
    imp = diag.feature_importances()[label].fillna(0).to_numpy()
    cand = np.argsort(-imp)[:N_CANDIDATES]
    deltas = np.empty((len(X), len(cand)))
    for j, f in enumerate(cand):
        Xo = Xv.copy()
        Xo[:, f] = diag.feature_medians_[f]
        deltas[:, j] = base - est.predict_proba(Xo)[:, 1]
    out = []
    for r in range(len(X)):
        order = np.argsort(-deltas[r])[:top]
        items = [
            f"{diag.feature_names_in_[cand[j]]}={Xv[r, cand[j]]:.3g} ({deltas[r, j]:+.2f})"
            for j in order
            if deltas[r, j] > 0.01
        ]
        if not items:  # redundant features: no single one moves the forest; name the most important instead
            items = [f"{diag.feature_names_in_[f]}={Xv[r, f]:.3g}" for f in cand[:top]]
        out.append(", ".join(items))
    return out


def diagnose(
    curves: pd.DataFrame,
    at_epoch: int | None = None,
    model: DiagnoserPrediction | None = None,
    threshold: float = 0.5,
    runs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Diagnose every run in a tidy curve table.

    Returns a DataFrame indexed by ``run_id`` with ``epoch`` (the epoch diagnosed), a bool column per label
    (``underfitting``, ``overfitting``, ``dataset_shift``, ``final_*`` where the run is heading, ``cause_*``
    the likely applied condition), ``p_<label>`` probabilities, ``advice`` and ``drivers`` (the features that
    drove the raised calls, with their effect on the probability). A label whose metrics a run does not log
    (e.g. ``dataset_shift`` without ``test_acc``) gets probability NaN and call False. ``model`` defaults to the diagnoser fitted
    from the shipped corpus (:func:`traindx.diagnose.default.default_diagnoser`). ``runs`` (the run table of
    ``tdx.load_runs``) adds the run context the curves lack: training-set size, batch size and planned epochs
    sharpen the calls on where a run is heading.

    Example:
        >>> import pandas as pd, traindx as tdx
        >>> c = pd.DataFrame({"run_id": ["a"] * 3, "epoch": [1, 2, 3], "train_acc": [0.8, 0.95, 0.99],
        ...                   "val_acc": [0.78, 0.8, 0.79], "test_acc": [0.78, 0.8, 0.79]})
        >>> tdx.diagnose(c).loc["a", "overfitting"]  # doctest: +SKIP
        np.True_
    """
    if model is None:
        from traindx.diagnose.default import default_diagnoser

        model = default_diagnoser()
    X = featurize(add_context(curves, runs), at_epoch=at_epoch, feature_set=model.get_params()["feature_set"])
    p = model.predict_proba_frame(X=X)
    unjudged = {}
    for label in model.labels_:
        missing = X[list(_needs(label))].isna().any(axis=1)
        p.loc[missing, label] = np.nan
        for r in X.index[missing]:
            unjudged.setdefault(r, set()).update(m for m in _needs(label) if np.isnan(X.loc[r, m]))
    raised = p >= threshold
    out = pd.DataFrame(index=X.index)
    out["epoch"] = X["epoch"].astype(int)
    for label in model.labels_:
        out[label] = raised[label].to_numpy()
    for label in model.labels_:
        out[f"p_{label}"] = p[label].round(4).to_numpy()
    labels = list(model.labels_)
    calls = raised[labels].to_numpy()  # row-wise numpy: per-cell pandas lookups cost seconds on 1,000 runs
    out["advice"] = [advice_for([lbl for lbl, on in zip(labels, row, strict=True) if on]) for row in calls]
    note = {
        r: f"; not judged where {', '.join(sorted(m))} is missing: log it to get those calls"
        for r, m in unjudged.items()
    }
    out["advice"] = [a + note.get(r, "") for r, a in zip(X.index, out["advice"], strict=True)]
    driver_cols = {lbl: drivers(model, X, lbl) for lbl in model.labels_ if raised[lbl].any()}
    out["drivers"] = [
        "; ".join(
            f"{lbl}: {driver_cols[lbl][i]}"
            for lbl in driver_cols
            if calls[i, labels.index(lbl)] and driver_cols[lbl][i]
        )
        for i in range(len(X))
    ]
    return out
