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


def _rule_driver(label: str, X: pd.DataFrame) -> list[str]:
    """The metric behind a rule label, in words ("train_acc=0.55 < 0.7")."""
    from traindx.curves.labels import OVERFIT_GAP, SHIFT_DELTA, UNDERFIT_ACC

    if label == "underfitting":
        return [f"train_acc={v:.3g} < {UNDERFIT_ACC}" for v in X["train_acc"]]
    if label == "overfitting":
        return [f"train_acc - val_acc={v:.3g} > {OVERFIT_GAP}" for v in X["gap"]]
    return [
        f"val_acc - test_acc={v:.3g} > {SHIFT_DELTA}" + ("" if z != z else f" ({z:.1f} standard errors)")
        for v, z in zip(X["val_test_gap"], X["val_test_z"], strict=True)
    ]


def _occlusion_drivers(diag, X: pd.DataFrame, label: str, rows: np.ndarray, top: int = 3) -> list[str]:
    """Per row of ``rows``, the features whose replacement by the corpus median lowers P(label) the most."""
    est = diag.estimators_[label]
    Xv = X.reindex(columns=diag.feature_names_in_).to_numpy(dtype=float)[rows]
    base = est.predict_proba(Xv)[:, 1]
    used = np.bincount(est.feature[est.left != np.arange(len(est.left))], minlength=Xv.shape[1])
    cand = np.argsort(-used)[:N_CANDIDATES]
    deltas = np.empty((len(Xv), len(cand)))
    for j, f in enumerate(cand):
        Xo = Xv.copy()
        Xo[:, f] = diag.feature_medians_[f]
        deltas[:, j] = base - est.predict_proba(Xo)[:, 1]
    out = []
    for r in range(len(Xv)):
        order = np.argsort(-deltas[r])[:top]
        items = [
            f"{diag.feature_names_in_[cand[j]]}={Xv[r, cand[j]]:.3g} ({deltas[r, j]:+.2f})"
            for j in order
            if deltas[r, j] > 0.01
        ]
        out.append(", ".join(items) or "the curve as a whole (no single feature moves it)")
    return out


def _task_free_context(curves: pd.DataFrame, runs: pd.DataFrame | None) -> pd.DataFrame:
    """Curves with the run context the task-free features read: planned epochs, train and batch size (as
    :func:`traindx.curves.schema.add_context`), and the number of classes."""
    from traindx.diagnose.task_free import CLASS_SOURCES

    out = add_context(curves, runs)
    if runs is None or "run_id" not in getattr(runs, "columns", ()) or "n_classes" in out.columns:
        return out
    src = next((c for c in CLASS_SOURCES if c in runs.columns), None)
    if src is not None:
        r = runs.assign(run_id=runs["run_id"].astype(str)).drop_duplicates("run_id", keep="last")
        values = pd.to_numeric(r.set_index("run_id")[src], errors="coerce")
        out["n_classes"] = out["run_id"].astype(str).map(values.where(values > 0)).astype(float)
    return out


def _diagnose_task_free(diag, curves, at_epoch, runs) -> pd.DataFrame:
    X = diag.transform(_task_free_context(curves, runs), at_epoch=at_epoch)
    p = diag.predict_proba_frame(X=X)
    raised = diag.calls(X, p)
    reasons = diag.unjudged(X)
    for label, why in reasons.items():
        off = (why != "").to_numpy()
        p.loc[off, label] = np.nan
        raised.loc[off, label] = False
    labels = list(diag.labels_)
    out = pd.DataFrame(index=X.index)
    out["epoch"] = X["epoch"].astype(int)
    for label in labels:
        out[label] = raised[label].to_numpy(dtype=bool)
    for label in labels:
        out[f"p_{label}"] = p[label].round(4).to_numpy()
    calls = raised[labels].to_numpy()
    out["advice"] = [advice_for([lbl for lbl, on in zip(labels, row, strict=True) if on]) for row in calls]
    notes = []
    reason_rows = list(zip(*(reasons[label].tolist() for label in labels), strict=True))
    for row in reason_rows:
        why: dict[str, list[str]] = {}
        for label, r in zip(labels, row, strict=True):
            if r:
                why.setdefault(r, []).append(label)
        notes.append("; ".join(f"{', '.join(lbls)}: {r}" for r, lbls in why.items()))
    out["not_judged"] = notes
    out["advice"] = [
        a + (f"; not judged: {n}" if n else "") for a, n in zip(out["advice"], notes, strict=True)
    ]
    driver_text: dict[str, list[str]] = {}
    for label in labels:
        on = np.flatnonzero(calls[:, labels.index(label)])
        if not len(on):
            continue
        col = [""] * len(X)
        kind = diag.kinds_[label]
        if kind in ("rule", "persistence"):
            text = _rule_driver(label.removeprefix("final_"), X.iloc[on])
            if kind == "persistence":
                text = [f"persists: {t}" for t in text]
        else:
            text = _occlusion_drivers(diag, X, label, on)
        for i, t in zip(on, text, strict=True):
            col[i] = t
        driver_text[label] = col
    out["drivers"] = [
        "; ".join(f"{lbl}: {col[i]}" for lbl, col in driver_text.items() if col[i]) for i in range(len(X))
    ]
    # causes the model never names, on any run: the curves did not show them on tasks held out at fit time
    out.attrs["causes_not_judged"] = {lbl.removeprefix("cause_"): why for lbl, why in diag.left_out_.items()}
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
    (``underfitting``, ``overfitting``, ``dataset_shift``: the rule labels now; ``final_*``: where the run is
    heading; ``cause_*``: the likely applied condition), ``p_<label>`` probabilities, ``advice``, ``drivers``
    (what drove each raised call) and ``not_judged`` (per label left unjudged, why). A label is not judged
    (probability NaN, call False) when the run does not log a metric it needs or, for forecasts and causes,
    when the curve is unlike the corpus the model was fitted on. Causes the curves do not show (on tasks held
    out at fit time no threshold reached the target precision) are never named; with the task-free model,
    ``result.attrs["causes_not_judged"]`` maps each of them to the reason.

    ``model`` defaults to the task-free diagnoser shipped with traindx
    (:func:`traindx.diagnose.default.default_diagnoser`), which reads thresholds of its own; ``threshold``
    applies to a :class:`~traindx.diagnose.CurveDiagnoser` of your own. ``runs`` (the run table of
    ``tdx.load_runs``) adds context the curves lack: planned epochs (``epochs``/``max_epochs``), train size,
    batch size and ``n_classes``. Context missing is never read as a value: the same curves without a run table
    get the calls of a run whose context is unknown.

    Example:
        >>> import pandas as pd, traindx as tdx
        >>> c = pd.DataFrame({"run_id": ["a"] * 3, "epoch": [1, 2, 3], "train_acc": [0.8, 0.95, 0.99],
        ...                   "val_acc": [0.78, 0.8, 0.79], "test_acc": [0.78, 0.8, 0.79]})
        >>> bool(tdx.diagnose(c).loc["a", "overfitting"])
        True
    """
    if model is None:
        from traindx.diagnose.default import default_diagnoser

        model = default_diagnoser()
    if getattr(model, "feature_set", None) == "task_free":
        return _diagnose_task_free(model, curves, at_epoch, runs)
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
