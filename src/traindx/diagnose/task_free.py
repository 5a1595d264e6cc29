"""Task-free curve features: the same number means the same thing on any task, model and training length.

A learning curve from a 20-epoch tabular run and one from a 300-epoch CIFAR run share no scale in epochs, train
sizes or raw losses. The features here put every curve on scales that do not depend on the task:

- **accuracy** as logged (the rule labels are thresholds on it), relative to the run's own best so far, and, when
  the number of classes is known, relative to chance (``(acc - 1/K) / (1 - 1/K)``);
- **time** as a fraction of planned training (``progress = epoch / max_epochs``, from the run table) and, with
  or without a plan, relative to the run's own observed length: a slope is the change per *observed duration*
  (slope per epoch times the epochs seen) and, when the plan is known, per *planned duration* (times
  ``max_epochs``), so a 300-epoch run at epoch 30 reads like a 20-epoch run at epoch 2;
- **loss** relative to the run's first logged loss, its own minimum, and slopes of the log-loss;
- **persistence**: the rule labels at the epoch diagnosed (what "nothing changes" would predict).

No feature reads an epoch count, a train size or a batch size directly: such values lie far outside any corpus
on other people's runs. The context that is read (``max_epochs``, ``n_classes``, ``train_size``,
``batch_size``) enters as a ratio or clipped to the corpus range (progress in [0, 1], K in 2-65, 4-1,000
training examples, 1-32 steps per epoch), so it cannot extrapolate. A value not logged is NaN,
never a number that could be read as small or large: the models behind the default diagnoser handle NaN
natively and are fitted with context hidden at random.

Example:
    >>> import pandas as pd
    >>> c = pd.DataFrame({"run_id": ["a"] * 4, "epoch": [1, 2, 3, 4], "train_acc": [0.5, 0.7, 0.8, 0.85],
    ...                   "val_acc": [0.5, 0.65, 0.7, 0.7], "max_epochs": 40})
    >>> X = task_free_features(c)
    >>> float(X.loc["a", "progress"]), round(float(X.loc["a", "gap"]), 2)
    (0.1, 0.15)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from traindx.curves.features import row_slope, two_proportion_z
from traindx.curves.labels import OVERFIT_GAP, SHIFT_DELTA, SHIFT_Z, UNDERFIT_ACC
from traindx.curves.schema import validate_curves
from traindx.errors import InputError

ACC = ("train_acc", "val_acc", "test_acc")
LOSS = ("train_loss", "val_loss", "test_loss")
#: run-table columns the number of classes is read from (first found wins)
CLASS_SOURCES = ("n_classes", "num_classes", "classes")
#: classes are clipped to the corpus range: chance of 1/1000 and 1/65 differ by 1.4 points of accuracy
CLASS_RANGE = (2, 65)
#: training examples and steps per epoch are clipped to the many-task corpus's range: a 1.28M-example run reads
#: as the corpus's largest, never as an extrapolation beyond it
TRAIN_SIZE_RANGE = (4, 1000)
STEPS_RANGE = (1, 32)

#: features that are 0/1 (rule labels at the epoch diagnosed); never checked against the corpus range
PERSISTENCE = ("now_underfitting", "now_overfitting", "now_dataset_shift")

FEATURES = (
    "train_acc", "val_acc", "test_acc", "gap", "val_test_gap", "val_test_gap_mean", "val_test_z",
    *PERSISTENCE,
    "progress",
    "train_rel_best", "val_rel_best", "val_drop_from_best", "val_since_best_obs",
    "train_gain", "val_gain", "train_headroom_closed", "val_headroom_closed",
    "train_rate_obs", "val_rate_obs", "gap_rate_obs", "train_curv_obs", "val_curv_obs", "val_jitter",
    "train_rate_plan", "val_rate_plan", "gap_rate_plan", "train_proj", "gap_proj",
    "train_above_chance", "val_above_chance",
    "train_loss_rel", "val_loss_rel", "val_loss_rise", "loss_gap_rel", "train_loss_rate_obs",
    "val_loss_rate_obs", "test_val_loss_ratio", "train_loss_vs_chance", "val_loss_vs_chance",
    "log_train_size", "log_steps_per_epoch",
)  # fmt: skip


def _wide(curves: pd.DataFrame, metric: str, codes: np.ndarray, n_runs: int, n_epochs: int) -> np.ndarray:
    """(runs x epochs) array of one metric, gaps inside a run filled from the previous logged epoch."""
    out = np.full((n_runs, n_epochs), np.nan)
    if metric not in curves.columns:
        return out
    out[codes, curves["epoch"].to_numpy() - 1] = curves[metric].to_numpy(dtype=float)
    return pd.DataFrame(out).ffill(axis=1).to_numpy() if np.isnan(out).any() else out


def _at(a: np.ndarray, col: np.ndarray) -> np.ndarray:
    return a[np.arange(a.shape[0]), np.clip(col, 0, a.shape[1] - 1)]


def _window(a: np.ndarray, end: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Right-aligned windows ending at column ``end``, ``width`` long per row (NaN outside), padded to the max."""
    w = int(width.max())
    cols = end[:, None] - np.arange(w - 1, -1, -1)[None, :]
    vals = a[np.arange(a.shape[0])[:, None], np.clip(cols, 0, a.shape[1] - 1)]
    keep = (cols >= 0) & (cols > (end - width)[:, None])
    return np.where(keep, vals, np.nan)


def _curvature(win: np.ndarray) -> np.ndarray:
    """Mean second difference over the window (< 0: bending over), NaN with fewer than three points."""
    d2 = np.diff(win, n=2, axis=1)
    ok = ~np.isnan(d2)
    n = ok.sum(1)
    return np.where(n > 0, np.where(ok, d2, 0).sum(1) / np.maximum(n, 1), np.nan)


def _nanreduce(fn, a: np.ndarray) -> np.ndarray:
    out = np.full(a.shape[0], np.nan)
    ok = ~np.isnan(a).all(1)
    if ok.any():
        out[ok] = fn(a[ok], axis=1)
    return out


def _context(curves: pd.DataFrame, runs: pd.Index, names: tuple[str, ...]) -> np.ndarray:
    col = next((c for c in names if c in curves.columns), None)
    if col is None:
        return np.full(len(runs), np.nan)
    v = pd.to_numeric(curves[col], errors="coerce").groupby(curves["run_id"]).last().reindex(runs)
    v = v.to_numpy(dtype=float)
    return np.where(v > 0, v, np.nan)


def rule_state(
    train: np.ndarray, val: np.ndarray, test: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rule labels (:func:`traindx.curves.rule_labels`) as floats: 1/0, NaN where a needed metric is missing.

    Example:
        >>> u, o, s = rule_state(np.array([0.6]), np.array([0.4]), np.array([np.nan]), np.array([np.nan]))
        >>> u.tolist(), o.tolist(), s.tolist()
        ([1.0], [1.0], [nan])
    """
    under = np.where(np.isnan(train), np.nan, (train < UNDERFIT_ACC).astype(float))
    gap = train - val
    over = np.where(np.isnan(gap), np.nan, (gap > OVERFIT_GAP).astype(float))
    diff = val - test
    shift = (diff > SHIFT_DELTA) & ~(z <= SHIFT_Z)  # unknown sizes (NaN z): the fixed margin
    shift = np.where(np.isnan(diff), np.nan, shift.astype(float))
    return under, over, shift


def task_free_features(curves: pd.DataFrame, at_epoch: int | None = None) -> pd.DataFrame:
    """Feature rows (index ``run_id``, columns :data:`FEATURES` plus ``epoch``) from epochs <= ``at_epoch``.

    ``at_epoch=None`` uses each run's last epoch. The optional columns ``max_epochs`` (planned epochs) and
    ``n_classes`` give progress and chance, ``train_size`` and ``batch_size`` the (clipped) size of an epoch;
    without them those features are NaN. ``n_val``/``n_test`` give
    the val-test gap in standard errors.

    Example:
        >>> import pandas as pd
        >>> c = pd.DataFrame({"run_id": ["a"] * 3, "epoch": [1, 2, 3], "train_acc": [0.2, 0.3, 0.4],
        ...                   "val_acc": [0.2, 0.3, 0.35]})
        >>> X = task_free_features(c)
        >>> round(float(X.loc["a", "train_rate_obs"]), 2), bool(np.isnan(X.loc["a", "progress"]))
        (0.3, True)
    """
    curves = validate_curves(curves, allow_gaps=True)
    if at_epoch is not None:
        if not isinstance(at_epoch, (int, np.integer)) or at_epoch < 1:
            raise InputError(f"at_epoch must be a positive int (1-based epoch) or None, got {at_epoch!r}")
        curves = curves[curves["epoch"] <= at_epoch]
        if curves.empty:
            raise InputError(f"no run has an epoch <= {at_epoch}; epochs are 1-based")
    codes, uniques = pd.factorize(curves["run_id"])
    runs = pd.Index(uniques, name="run_id")
    epoch = curves["epoch"].to_numpy()
    last = np.zeros(len(runs), dtype=int)
    np.maximum.at(last, codes, epoch)
    first = np.full(len(runs), np.iinfo(np.int64).max)
    np.minimum.at(first, codes, epoch)
    n_epochs = int(last.max())
    end = last - 1
    # validated curves hold one row per (run, epoch), so each metric is a plain scatter into a (runs x epochs) grid
    A = {m: _wide(curves, m, codes, len(runs), n_epochs) for m in ACC + LOSS}
    cols = np.arange(n_epochs)[None, :]
    P = {
        m: np.where((cols <= end[:, None]) & (cols >= (first - 1)[:, None]), a, np.nan) for m, a in A.items()
    }
    k = (last - first + 1).astype(float)  # epochs observed
    f: dict[str, np.ndarray] = {}

    train, val, test = (_at(A[m], end) for m in ACC)
    f["train_acc"], f["val_acc"], f["test_acc"] = train, val, test
    f["gap"] = train - val
    f["val_test_gap"] = val - test
    f["val_test_gap_mean"] = _nanreduce(np.nanmean, P["val_acc"] - P["test_acc"])
    z = np.full(len(runs), np.nan)
    if {"n_val", "n_test"} <= set(curves.columns):
        sizes = curves.groupby("run_id")[["n_val", "n_test"]].last().reindex(runs).to_numpy(dtype=float)
        z = two_proportion_z(val, test, sizes[:, 0], sizes[:, 1])
    f["val_test_z"] = z
    f["now_underfitting"], f["now_overfitting"], f["now_dataset_shift"] = rule_state(train, val, test, z)

    planned = _context(curves, runs, ("max_epochs",))
    planned = np.where(planned >= last, planned, np.nan)  # a plan the run already overran is not a plan
    progress = np.clip(last / planned, 0.0, 1.0)
    f["progress"] = progress

    with np.errstate(invalid="ignore", divide="ignore"):
        best_t = _nanreduce(np.nanmax, P["train_acc"])
        best_v = _nanreduce(np.nanmax, P["val_acc"])
        f["train_rel_best"] = train / best_t
        f["val_rel_best"] = val / best_v
        f["val_drop_from_best"] = best_v - val
        filled = np.where(np.isnan(P["val_acc"]), -np.inf, P["val_acc"])
        arg = filled.argmax(1)
        f["val_since_best_obs"] = np.where(np.isnan(best_v), np.nan, (end - arg) / k)
        t0, v0 = _at(A["train_acc"], first - 1), _at(A["val_acc"], first - 1)
        f["train_gain"], f["val_gain"] = train - t0, val - v0
        f["train_headroom_closed"] = np.clip((train - t0) / np.maximum(1 - t0, 1e-3), -2, 2)
        f["val_headroom_closed"] = np.clip((val - v0) / np.maximum(1 - v0, 1e-3), -2, 2)

        # slopes over the last third of the observed curve (at least 2 epochs), per observed and planned duration
        width = np.maximum(2, np.ceil(k / 3)).astype(int)
        gap_w = A["train_acc"] - A["val_acc"]
        per_epoch = {
            "train": row_slope(_window(A["train_acc"], end, width)),
            "val": row_slope(_window(A["val_acc"], end, width)),
            "gap": row_slope(_window(gap_w, end, width)),
        }
        for name, s in per_epoch.items():
            f[f"{name}_rate_obs"] = s * k
        width5 = np.maximum(3, np.ceil(k / 2)).astype(int)
        f["train_curv_obs"] = _curvature(_window(A["train_acc"], end, width5)) * k * k
        f["val_curv_obs"] = _curvature(_window(A["val_acc"], end, width5)) * k * k
        f["val_jitter"] = _nanreduce(np.nanstd, np.diff(P["val_acc"], axis=1))
        for name, s in per_epoch.items():
            f[f"{name}_rate_plan"] = s * planned
        remaining = 1.0 - progress
        f["train_proj"] = np.clip(train + f["train_rate_plan"] * remaining, -0.5, 1.5)
        f["gap_proj"] = np.clip(f["gap"] + f["gap_rate_plan"] * remaining, -1.0, 1.0)

        classes = np.clip(_context(curves, runs, CLASS_SOURCES), *CLASS_RANGE)
        chance = 1.0 / classes
        f["train_above_chance"] = (train - chance) / (1 - chance)
        f["val_above_chance"] = (val - chance) / (1 - chance)

        tl, vl, sl = (_at(A[m], end) for m in LOSS)
        tl0, vl0 = _at(A["train_loss"], first - 1), _at(A["val_loss"], first - 1)
        pos = lambda v: np.where(v > 0, v, np.nan)  # noqa: E731 - a log scale needs positive losses
        f["train_loss_rel"] = np.clip(tl / pos(tl0), 0, 10)
        f["val_loss_rel"] = np.clip(vl / pos(vl0), 0, 10)
        f["val_loss_rise"] = np.clip(vl / pos(_nanreduce(np.nanmin, P["val_loss"])) - 1, 0, 10)
        f["loss_gap_rel"] = np.clip((vl - tl) / pos(vl0), -10, 10)
        log_t = np.log(pos(A["train_loss"]))
        log_v = np.log(pos(A["val_loss"]))
        f["train_loss_rate_obs"] = np.clip(row_slope(_window(log_t, end, width)) * k, -20, 20)
        f["val_loss_rate_obs"] = np.clip(row_slope(_window(log_v, end, width)) * k, -20, 20)
        f["test_val_loss_ratio"] = np.clip(sl / pos(vl), 0, 10)
        # cross-entropy of a uniform guess is ln K: a loss above it has learned nothing (or diverged)
        f["train_loss_vs_chance"] = np.clip(tl / np.log(classes), 0, 10)
        f["val_loss_vs_chance"] = np.clip(vl / np.log(classes), 0, 10)

        size = _context(curves, runs, ("train_size",))
        batch = _context(curves, runs, ("batch_size",))
        f["log_train_size"] = np.log10(np.clip(size, *TRAIN_SIZE_RANGE))
        f["log_steps_per_epoch"] = np.log10(np.clip(np.ceil(size / batch), *STEPS_RANGE))
    out = pd.DataFrame({name: f[name] for name in FEATURES}, index=runs)
    out.insert(0, "epoch", last.astype(int))
    return out


def fraction_epoch(planned: np.ndarray | pd.Series, fraction: float) -> np.ndarray:
    """The epoch that ends ``fraction`` of planned training: ``max(1, round(fraction * planned))``, halves up
    (10% of 25 epochs is epoch 3).

    Example:
        >>> fraction_epoch(np.array([20, 25, 30]), 0.1).tolist()
        [2, 3, 3]
    """
    return np.maximum(1, np.floor(np.asarray(planned, dtype=float) * fraction + 0.5)).astype(int)


def features_at_fraction(curves: pd.DataFrame, planned: pd.Series, fraction: float) -> pd.DataFrame:
    """:func:`task_free_features` of each run at ``fraction`` of its planned epochs (``planned``: run_id -> E).

    Example:
        >>> c = pd.DataFrame({"run_id": ["a"] * 4, "epoch": [1, 2, 3, 4], "val_acc": [0.5, 0.6, 0.7, 0.8]})
        >>> features_at_fraction(c, pd.Series({"a": 4}), 0.5)["epoch"].tolist()
        [2]
    """
    ids = curves["run_id"].astype(str)
    k = pd.Series(fraction_epoch(planned.to_numpy(), fraction), index=planned.index.astype(str))
    sub = curves[curves["epoch"].to_numpy() <= ids.map(k).to_numpy()]
    X = task_free_features(sub)
    return X.reindex(k.index[k.index.isin(X.index)])
