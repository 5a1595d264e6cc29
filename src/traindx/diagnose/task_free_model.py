"""The task-free diagnoser: rule labels now, forecasts of the final labels, and the causes curves can show.

Three families of labels, each from :func:`traindx.diagnose.task_free.task_free_features`:

- **now** (``underfitting``, ``overfitting``, ``dataset_shift``): the rule labels themselves, computed exactly
  from the epoch diagnosed (they are thresholds on that epoch, so nothing is learned and nothing can drift);
- **heading to** (``final_*``): boosted trees fitted on many tasks, with the rule label now (persistence) among
  their features; a label whose trees do not beat persistence on held-out tasks at fit time keeps persistence;
- **likely cause** (``cause_*``): boosted trees per applied condition; a cause is *named* only when, on tasks
  held out at fit time, its calls reach the target precision, else it is left out (curves do not show it).

Probabilities are sigmoid-calibrated on scores of tasks held out at fit time (grouped by task), and each label
has its own decision threshold chosen on those scores. A run is **not judged** on a forecast or a cause when
it lacks a metric the label needs or when one of its features lies outside the range the corpus covers (the
reason says which); the rule labels are judged wherever their metrics are logged.

The fit needs scikit-learn; prediction needs numpy alone (:class:`~traindx.diagnose.boosted.BoostedProbability`).

Example:
    >>> TaskFreeDiagnoser().get_params()["feature_set"]
    'task_free'
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traindx.diagnose.boosted import ARRAYS, BoostedProbability, boosted_arrays
from traindx.diagnose.model_pair import read_pair_arrays, read_pair_facts, write_pair
from traindx.diagnose.task_free import FEATURES, PERSISTENCE, task_free_features
from traindx.errors import InputError

FORMAT = "traindx-task-free-diagnoser/1"
NOW = ("underfitting", "overfitting", "dataset_shift")
#: metrics each label family needs; a run without one is not judged on that label
NEEDS = {
    "underfitting": ("train_acc",),
    "overfitting": ("train_acc", "val_acc"),
    "dataset_shift": ("val_acc", "test_acc"),
    "cause_shift": ("train_acc", "val_acc", "test_acc"),
}
DEFAULT_NEEDS = ("train_acc", "val_acc")
# Features outside the corpus's central 99.8% (widened by a quarter of that span) mark a curve unlike the
# corpus; 0/1 features and those already bounded by construction are not checked.
RANGE_Q = (0.001, 0.999)
RANGE_PAD = 0.25
UNCHECKED = (*PERSISTENCE, "progress", "train_rel_best", "val_rel_best", "val_since_best_obs")


def needs(label: str) -> tuple[str, ...]:
    """Metrics a label needs (``final_x`` needs what ``x`` does, causes need train and val accuracy)."""
    key = label.removeprefix("final_")
    if key in NEEDS:
        return NEEDS[key]
    return NEEDS.get(label, DEFAULT_NEEDS)


class RuleProbability:
    """A 0/1 feature read as a probability: the rule label at the epoch diagnosed (persistence)."""

    def __init__(self, column: int) -> None:
        self.column = column
        self.feature_importances_ = None

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = np.nan_to_num(np.asarray(X, dtype=float)[:, self.column], nan=0.0)
        return np.column_stack([1.0 - p, p])


class TaskFreeDiagnoser:
    """A fitted task-free diagnoser (see the module docstring); :func:`fit_task_free` builds one.

    Attributes: ``labels_`` (in output order), ``estimators_`` (label -> model with ``predict_proba``),
    ``thresholds_`` (label -> decision threshold), ``bands_`` (forecast -> low end of its persistence band), ``kinds_`` (label -> "rule", "trees" or "persistence"),
    ``ranges_`` (feature -> (low, high) of the corpus), ``left_out_`` (cause -> why it is not named),
    ``feature_names_in_`` and ``feature_medians_``.
    """

    feature_set = "task_free"
    at_epoch = None
    model = "hgb"

    def __init__(self, **params: Any) -> None:
        self._params = {"feature_set": "task_free", **params}

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return dict(self._params)

    # -- prediction ---------------------------------------------------------------------------------------
    def transform(self, curves: pd.DataFrame, at_epoch: int | None = None) -> pd.DataFrame:
        """Task-free feature rows of the curves (index run_id), including the ``epoch`` diagnosed."""
        return task_free_features(curves, at_epoch=at_epoch)

    def predict_proba_frame(self, curves: pd.DataFrame | None = None, X: pd.DataFrame | None = None):
        """Probability of each label (columns ``labels_``), rows as the features."""
        if X is None:
            X = self.transform(curves)
        Xv = X.reindex(columns=self.feature_names_in_).to_numpy(dtype=float)
        return pd.DataFrame(
            {lbl: self.estimators_[lbl].predict_proba(Xv)[:, 1] for lbl in self.labels_}, index=X.index
        )

    def unjudged(self, X: pd.DataFrame) -> dict[str, pd.Series]:
        """Per label, a reason per run it is not judged on ("" where it is judged)."""
        out = {}
        first_out = [""] * len(X)
        for feat, (lo, hi) in self.ranges_.items():
            v = X[feat].to_numpy(dtype=float)
            for i in np.flatnonzero((v < lo) | (v > hi)):
                if not first_out[i]:
                    first_out[i] = f"{feat}={v[i]:.3g} lies outside the corpus range [{lo:.3g}, {hi:.3g}]"
        outside = pd.Series(first_out, index=X.index)
        for label in self.labels_:
            need = list(needs(label))
            missing = X[need].isna()
            reason = pd.Series(
                [f"{', '.join(m for m, miss in zip(need, row, strict=True) if miss)} not logged" if row.any() else ""
                 for row in missing.to_numpy()],
                index=X.index,
            )  # fmt: skip
            if self.kinds_[label] == "trees":
                reason = reason.where(reason != "", outside)
            out[label] = reason
        return out

    def calls(self, X: pd.DataFrame, p: pd.DataFrame) -> pd.DataFrame:
        """Bool calls from probabilities ``p`` of feature rows ``X``: a label is raised at its threshold; a
        forecast whose probability lies inside its band (between ``bands_[label]`` and the threshold) takes
        the call persistence makes (the rule label now)."""
        out = {}
        for lbl in self.labels_:
            call = p[lbl].to_numpy() >= self.thresholds_[lbl]
            if lbl in self.bands_:
                now = np.nan_to_num(X[f"now_{lbl.removeprefix('final_')}"].to_numpy(dtype=float)) >= 0.5
                call |= (p[lbl].to_numpy() > self.bands_[lbl]) & now
            out[lbl] = call
        return pd.DataFrame(out, index=X.index)

    def predict(self, curves: pd.DataFrame) -> pd.DataFrame:
        """0/1 calls (see :meth:`calls`); a label not judged reads 0."""
        X = self.transform(curves)
        calls = self.calls(X, self.predict_proba_frame(X=X))
        for label, reason in self.unjudged(X).items():
            calls.loc[reason != "", label] = False
        return calls.astype(int)

    def feature_importances(self) -> pd.DataFrame:
        """Not kept for boosted trees read from data: NaN per feature and label (drivers use occlusion)."""
        return pd.DataFrame(np.nan, index=self.feature_names_in_, columns=self.labels_)


# -- fitting --------------------------------------------------------------------------------------------------
def _platt(score: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(a, b) of P = 1 / (1 + exp(a * score + b)), by logistic regression on the score (Platt, 1999)."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e4).fit(score.reshape(-1, 1), y)
    return -float(lr.coef_[0, 0]), -float(lr.intercept_[0])


def _sigmoid(score: np.ndarray, ab: tuple[float, float]) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(ab[0] * score + ab[1]))


def _f1(y: np.ndarray, call: np.ndarray) -> float:
    tp = float((y & call).sum())
    return 2 * tp / max(1.0, float(y.sum() + call.sum()))


def make_trees(random_state: int = 0, max_iter: int = 150):
    """The boosted trees behind one learned label (NaN-aware splits, fixed seed, no early stopping)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=max_iter, learning_rate=0.08, max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0,
        early_stopping=False, random_state=random_state,
    )  # fmt: skip


THRESHOLDS = np.round(np.arange(0.1, 0.951, 0.025), 3)
#: a precision is read only from at least this many calls (at 20 calls one wrong call moves it by 0.05)
MIN_CALLS = 20


def _band(y: np.ndarray, p: np.ndarray, now: np.ndarray) -> tuple[float, float, float]:
    """(low, high, F1) of the best forecast rule "yes when p >= high; persistence's call when low < p < high;
    no when p <= low" on out-of-fold rows. low=0, high=1 is persistence itself, so the rule chosen is never
    below persistence on those rows."""
    grid = np.concatenate([[0.0], THRESHOLDS, [1.0]])
    best = (0.0, 1.0, _f1(y, now))
    for i, lo in enumerate(grid):
        for hi in grid[i:]:
            call = (p >= hi) | ((p > lo) & now)
            score = _f1(y, call)
            if score > best[2] + 1e-9:
                best = (float(lo), float(hi), score)
    return best


def fit_task_free(
    X: pd.DataFrame,
    y: pd.DataFrame,
    groups: np.ndarray,
    choose_rows: dict[str, np.ndarray] | None = None,
    cause_precision: float = 0.85,
    cause_recall: float = 0.25,
    fold_precision: float = 0.80,
    inner_folds: int = 3,
    max_iter: int = 150,
    random_state: int = 0,
) -> TaskFreeDiagnoser:
    """Fit the learned labels of ``y`` (``final_*`` and ``cause_*`` columns, 0/1, NaN = unknown) on ``X``.

    ``groups`` (one per row: the task) groups the inner folds whose out-of-fold scores calibrate each label and
    choose its threshold; ``choose_rows`` (label family "final"/"cause" -> row mask) restricts which rows the
    threshold is chosen on. A forecast keeps persistence when its trees' out-of-fold F1 is below persistence's;
    a cause is named when some threshold reaches ``cause_precision`` out of fold at recall >= ``cause_recall``
    and ``fold_precision`` (the precision a named cause must hold on other people's tasks) on every inner fold.
    """
    from threadpoolctl import threadpool_limits

    # one thread: histogram sums in another order could move a split, and the shipped file must be reproducible
    with threadpool_limits(1):
        return _fit(
            X, y, groups, choose_rows, cause_precision, cause_recall, fold_precision, inner_folds, max_iter,
            random_state,
        )  # fmt: skip


def _persist(diag: TaskFreeDiagnoser, label: str, report: dict) -> None:
    diag.labels_.append(label)
    diag.estimators_[label] = RuleProbability(FEATURES.index(f"now_{label.removeprefix('final_')}"))
    diag.thresholds_[label], diag.kinds_[label] = 0.5, "persistence"
    diag.fit_report_[label] = report


def _fit(
    X,
    y,
    groups,
    choose_rows,
    cause_precision,
    cause_recall,
    fold_precision,
    inner_folds,
    max_iter,
    random_state,
):
    from sklearn.model_selection import GroupKFold

    X = X.reindex(columns=list(FEATURES))
    Xv = X.to_numpy(dtype=float, copy=True)
    never = np.isnan(Xv).all(axis=0)
    Xv[:, never] = 0.0  # a feature no training row has cannot be split on; the binner needs one value
    diag = TaskFreeDiagnoser(max_iter=max_iter, random_state=random_state, cause_precision=cause_precision,
                             cause_recall=cause_recall, fold_precision=fold_precision,
                             inner_folds=inner_folds)  # fmt: skip
    diag.feature_names_in_ = np.asarray(FEATURES, dtype=object)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a feature never logged has no median: 0 stands in
        diag.feature_medians_ = np.nan_to_num(np.nanmedian(Xv, axis=0), nan=0.0)
    diag.labels_, diag.estimators_, diag.thresholds_, diag.kinds_ = [], {}, {}, {}
    diag.calibration_, diag.fit_report_, diag.left_out_, diag.bands_ = {}, {}, {}, {}
    for label in NOW:
        diag.labels_.append(label)
        diag.estimators_[label] = RuleProbability(FEATURES.index(f"now_{label}"))
        diag.thresholds_[label], diag.kinds_[label] = 0.5, "rule"
    diag.ranges_ = {}
    for j, feat in enumerate(FEATURES):
        col = Xv[:, j][np.isfinite(Xv[:, j])]
        if feat in UNCHECKED or len(col) == 0:
            continue
        lo, hi = np.quantile(col, RANGE_Q)
        pad = RANGE_PAD * max(hi - lo, 1e-6)
        diag.ranges_[feat] = (float(lo - pad), float(hi + pad))
    n_groups = len(np.unique(groups))
    folds = list(GroupKFold(n_splits=min(inner_folds, n_groups)).split(Xv, groups=groups))
    for label in y.columns:
        family = "final" if label.startswith("final_") else "cause"
        t_all = y[label].to_numpy(dtype=float)
        known = ~np.isnan(t_all)
        if len(np.unique(t_all[known])) < 2:  # nothing to learn: persistence, or a cause left out
            if family == "final":
                _persist(diag, label, {"positives": int(np.nansum(t_all))})
            else:
                diag.left_out_[label] = "the corpus holds no run with and without it"
            continue
        score = np.full(len(Xv), np.nan)
        for tr, te in folds:
            tr = tr[known[tr]]
            if len(np.unique(t_all[tr])) < 2:
                score[te] = 0.0
                continue
            est = make_trees(random_state, max_iter).fit(Xv[tr], t_all[tr].astype(int))
            score[te] = est.decision_function(Xv[te])
        ok = known & np.isfinite(score)
        t = t_all.astype(float)
        ab = _platt(score[ok], t[ok].astype(int))
        p = _sigmoid(score, ab)
        rows = ok & (choose_rows[family] if choose_rows and family in choose_rows else True)
        yt = t[rows].astype(bool)
        f1s = np.array([_f1(yt, p[rows] >= th) for th in THRESHOLDS])
        report: dict[str, Any] = {"oof_rows": int(rows.sum()), "positives": int(yt.sum())}
        if family == "final":
            now = np.nan_to_num(X[f"now_{label.removeprefix('final_')}"].to_numpy(dtype=float)[rows]) >= 0.5
            lo, hi, best = _band(yt, p[rows], now)
            persist = _f1(yt, now)
            # the band must beat persistence on every inner fold of held-out tasks, not only on their pool: a
            # gain that one group of tasks carries does not transfer to other people's tasks
            per_fold = []
            for _, te in folds:
                m = np.zeros(len(Xv), dtype=bool)
                m[te] = True
                m = m[rows]
                call = (p[rows][m] >= hi) | ((p[rows][m] > lo) & now[m])
                per_fold.append(_f1(yt[m], call) - _f1(yt[m], now[m]))
            report.update(oof_f1=best, persistence_f1=persist, threshold=hi, band_low=lo,
                          fold_gains=[float(g) for g in per_fold])  # fmt: skip
            if (hi >= 1.0 and lo <= 0.0) or min(
                per_fold
            ) < 0:  # the trees do not beat repeating the label now
                _persist(diag, label, report)
                continue
            th = hi
            diag.bands_[label] = lo
        else:
            chosen = None
            fold_rows = [np.isin(np.flatnonzero(rows), te) for _, te in folds]
            for th, f1 in zip(THRESHOLDS, f1s, strict=True):
                call = p[rows] >= th
                tp = float((call & yt).sum())
                prec = tp / max(1.0, float(call.sum()))
                rec = tp / max(1.0, float(yt.sum()))
                # as for forecasts, the precision must hold on every inner fold of held-out tasks (that makes
                # MIN_CALLS calls), not only on their pool: one group of easy tasks must not carry a cause
                worst = min(
                    (float((call[m] & yt[m]).sum()) / float(call[m].sum()) for m in fold_rows
                     if call[m].sum() >= MIN_CALLS),
                    default=prec,
                )  # fmt: skip
                if (
                    call.sum() >= MIN_CALLS
                    and prec >= cause_precision
                    and rec >= cause_recall
                    and worst >= fold_precision
                ):
                    chosen = (float(th), prec, rec, float(f1))
                    break
            if chosen is None:
                best = int(np.argmax(f1s))
                diag.left_out_[label] = (
                    f"on tasks held out at fit time no threshold reaches precision {cause_precision:.2f} (and "
                    f"{fold_precision:.2f} on every group of them) at recall {cause_recall:.2f} (best F1 "
                    f"{f1s[best]:.2f}): the curves do not show it reliably"
                )
                diag.fit_report_[label] = {**report, "best_oof_f1": float(f1s[best])}
                continue
            th = chosen[0]
            report.update(threshold=th, oof_precision=chosen[1], oof_recall=chosen[2], oof_f1=chosen[3])
        est = make_trees(random_state, max_iter).fit(Xv[known], t[known].astype(int))
        diag.labels_.append(label)
        diag.estimators_[label] = BoostedProbability(boosted_arrays(est), ab)
        diag.thresholds_[label], diag.kinds_[label] = th, "trees"
        diag.calibration_[label] = ab
        diag.fit_report_[label] = report
    return diag


# -- model file ------------------------------------------------------------------------------------------------
def save_task_free(diag: TaskFreeDiagnoser, path: str | Path, meta: dict | None = None) -> tuple[Path, Path]:
    """Write ``path.npz`` (tree arrays) and ``path.json`` (labels, thresholds, ranges, calibration, meta)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for i, label in enumerate(diag.labels_):
        est = diag.estimators_[label]
        if isinstance(est, BoostedProbability):
            for key in ARRAYS:
                arrays[f"{i}_{key}"] = getattr(est, key)
    facts = {
        "format": FORMAT,
        "params": diag.get_params(),
        "labels": list(diag.labels_),
        "kinds": diag.kinds_,
        "thresholds": diag.thresholds_,
        "bands": diag.bands_,
        "rule_columns": {
            lbl: int(est.column) for lbl, est in diag.estimators_.items() if isinstance(est, RuleProbability)
        },
        "calibration": {k: list(v) for k, v in diag.calibration_.items()},
        "ranges": {k: list(v) for k, v in diag.ranges_.items()},
        "left_out": diag.left_out_,
        "fit_report": diag.fit_report_,
        "feature_names": [str(f) for f in diag.feature_names_in_],
        "feature_medians": [float(v) for v in diag.feature_medians_],
        "meta": meta or {},
    }
    return write_pair(path, arrays, facts)


def read_facts(path: str | Path) -> dict:
    """The JSON half of a saved task-free diagnoser."""
    return read_pair_facts(path, FORMAT)


def load_task_free(path: str | Path) -> tuple[TaskFreeDiagnoser, dict]:
    """Read a diagnoser written by :func:`save_task_free` (numpy only, ``allow_pickle=False``)."""
    facts = read_facts(path)
    arrays = read_pair_arrays(path)
    npz = Path(path).with_suffix(".npz")
    if list(facts["feature_names"]) != list(FEATURES):
        raise InputError(f"{npz} was built for other features than this traindx computes; rebuild it")
    diag = TaskFreeDiagnoser(**{k: v for k, v in facts["params"].items() if k != "feature_set"})
    diag.labels_ = list(facts["labels"])
    diag.kinds_ = dict(facts["kinds"])
    diag.thresholds_ = {k: float(v) for k, v in facts["thresholds"].items()}
    diag.bands_ = {k: float(v) for k, v in facts["bands"].items()}
    diag.calibration_ = {k: tuple(v) for k, v in facts["calibration"].items()}
    diag.ranges_ = {k: tuple(v) for k, v in facts["ranges"].items()}
    diag.left_out_ = dict(facts["left_out"])
    diag.fit_report_ = dict(facts["fit_report"])
    diag.feature_names_in_ = np.asarray(facts["feature_names"], dtype=object)
    diag.feature_medians_ = np.asarray(facts["feature_medians"], dtype=float)
    diag.estimators_ = {}
    for i, label in enumerate(diag.labels_):
        if label in facts["rule_columns"]:
            diag.estimators_[label] = RuleProbability(int(facts["rule_columns"][label]))
            continue
        try:
            parts = {key: arrays[f"{i}_{key}"] for key in ARRAYS}
        except KeyError as exc:
            raise InputError(f"{npz} lacks the arrays of label {label!r}; rebuild it") from exc
        diag.estimators_[label] = BoostedProbability(parts, diag.calibration_.get(label))
    return diag, facts["meta"]
