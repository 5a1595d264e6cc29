"""Causal featurization of learning curves: one feature row per run, built from epochs <= k only.

The study's compact features (train/val/test accuracy, train-val gap, epoch, and the validation curve's start,
midpoint, end, growth and standard deviation) are kept under their own names so the original setup can be
reproduced (``feature_set="study"``). The full set adds shape features that read the *direction* of a run:
least-squares slopes over the last 3 and 5 epochs, curvature (mean second difference), best-so-far and epochs
since the best, loss features when losses exist, the trend of the train-val divergence, the val-test gap
in standard errors when set sizes are known, and the run context when the table carries it (training-set size,
steps per epoch, planned epochs: :data:`traindx.curves.schema.CONTEXT_COLUMNS`).

Everything is vectorised: the tidy table is pivoted once per metric to a (runs x epochs) array.

Example:
    >>> import pandas as pd
    >>> curves = pd.DataFrame({"run_id": ["a"] * 3, "epoch": [1, 2, 3],
    ...                        "train_acc": [0.5, 0.7, 0.9], "val_acc": [0.5, 0.6, 0.6]})
    >>> X = featurize(curves, at_epoch=2)
    >>> round(float(X.loc["a", "gap"]), 3)
    0.1
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from traindx.curves.schema import CONTEXT_COLUMNS, validate_curves
from traindx.errors import InputError

ACC_METRICS = ("train_acc", "val_acc", "test_acc")
LOSS_METRICS = ("train_loss", "val_loss", "test_loss")

STUDY_FEATURES = (
    "train_acc",
    "val_acc",
    "test_acc",
    "gap",
    "epoch",
    "val_start",
    "val_mid",
    "val_end",
    "val_growth",
    "val_std",
)


def _check(curves: pd.DataFrame) -> None:
    if not isinstance(curves, pd.DataFrame):
        raise InputError(
            f"curves must be a pandas DataFrame (the tidy curve table), got {type(curves).__name__}; "
            "load one with tdx.load_runs(path)"
        )
    missing = [c for c in ("run_id", "epoch") if c not in curves.columns]
    if missing:
        raise InputError(f"curve table lacks column(s) {missing}; add run_id and a 1-based epoch per row")
    if not any(m in curves.columns for m in ACC_METRICS + LOSS_METRICS):
        raise InputError(
            f"curve table has no metric column; add at least one of {', '.join(ACC_METRICS + LOSS_METRICS)}"
        )
    if curves.empty:
        raise InputError("curve table is empty; pass at least one run with one epoch")


def _wide(curves: pd.DataFrame, metric: str, runs: pd.Index, epochs: np.ndarray) -> np.ndarray:
    """(runs x epochs) array of one metric, gaps inside a run filled from the previous logged epoch."""
    if metric not in curves.columns:
        return np.full((len(runs), len(epochs)), np.nan)
    wide = curves.pivot_table(index="run_id", columns="epoch", values=metric, aggfunc="last")
    wide = wide.reindex(index=runs, columns=epochs)
    return wide.ffill(axis=1).to_numpy(dtype=float)


def _take(a: np.ndarray, col: np.ndarray) -> np.ndarray:
    """a[r, col[r]] with NaN where col < 0."""
    out = a[np.arange(a.shape[0]), np.clip(col, 0, a.shape[1] - 1)]
    return np.where(col >= 0, out, np.nan)


def _window(a: np.ndarray, end: np.ndarray, w: int) -> np.ndarray:
    """Right-aligned window of the last ``w`` epochs ending at column ``end`` (NaN before epoch 1)."""
    cols = end[:, None] - np.arange(w - 1, -1, -1)[None, :]
    vals = a[np.arange(a.shape[0])[:, None], np.clip(cols, 0, a.shape[1] - 1)]
    return np.where(cols >= 0, vals, np.nan)


def row_slope(win: np.ndarray) -> np.ndarray:
    """Least-squares slope per row (units per epoch), ignoring NaN; NaN with fewer than two points.

    Example:
        >>> row_slope(np.array([[0.1, 0.2, 0.3], [1.0, np.nan, np.nan]])).round(3).tolist()
        [0.1, nan]
    """
    x = np.broadcast_to(np.arange(win.shape[1], dtype=float), win.shape)
    ok = ~np.isnan(win)
    n = ok.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = np.where(ok, x, 0).sum(1) / n
        ym = np.where(ok, win, 0).sum(1) / n
        dx = np.where(ok, x - xm[:, None], 0)
        dy = np.where(ok, win - ym[:, None], 0)
        s = (dx * dy).sum(1) / (dx * dx).sum(1)
    return np.where(n >= 2, s, np.nan)


def _curvature(win: np.ndarray) -> np.ndarray:
    """Mean second difference over the window: < 0 when the curve is bending over (saturating or turning)."""
    d2 = np.diff(win, n=2, axis=1)
    with np.errstate(invalid="ignore"):
        ok = ~np.isnan(d2)
        n = ok.sum(1)
        return np.where(n > 0, np.where(ok, d2, 0).sum(1) / np.maximum(n, 1), np.nan)


def _masked(a: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Copy of ``a`` with every column after ``end`` (per row) set to NaN: the causal prefix."""
    cols = np.arange(a.shape[1])[None, :]
    return np.where(cols <= end[:, None], a, np.nan)


def _since_best(prefix: np.ndarray, end: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Best value in the prefix and epochs elapsed since it (first occurrence of the best)."""
    allnan = np.isnan(prefix).all(1)
    filled = np.where(np.isnan(prefix), -np.inf if mode == "max" else np.inf, prefix)
    arg = filled.argmax(1) if mode == "max" else filled.argmin(1)
    best = np.where(allnan, np.nan, filled[np.arange(len(arg)), arg])
    return best, np.where(allnan, np.nan, end - arg)


def featurize(
    curves: pd.DataFrame,
    at_epoch: int | None = None,
    feature_set: str = "full",
) -> pd.DataFrame:
    """Feature rows (index ``run_id``) from each run's curve up to ``at_epoch`` (causal: later epochs unseen).

    ``at_epoch=None`` uses each run's last epoch; a run shorter than ``at_epoch`` is featurized at its own last
    epoch (the ``epoch`` feature says which). ``feature_set`` is ``"full"`` or ``"study"`` (the study's 10).
    Features of a metric the table lacks are NaN.

    Example:
        >>> import pandas as pd
        >>> c = pd.DataFrame({"run_id": ["r"] * 4, "epoch": [1, 2, 3, 4],
        ...                   "val_acc": [0.5, 0.7, 0.8, 0.75], "train_acc": [0.5, 0.7, 0.85, 0.9]})
        >>> featurize(c)[["val_best", "val_epochs_since_best"]].values.tolist()
        [[0.8, 1.0]]
    """
    curves = validate_curves(curves, allow_gaps=True)
    if feature_set not in ("full", "study"):
        raise InputError(f"feature_set must be 'full' or 'study', got {feature_set!r}")
    if at_epoch is not None and (not isinstance(at_epoch, (int, np.integer)) or at_epoch < 1):
        raise InputError(f"at_epoch must be a positive int (1-based epoch) or None, got {at_epoch!r}")
    epoch = pd.to_numeric(curves["epoch"], errors="coerce")
    if epoch.isna().any():
        raise InputError("column 'epoch' has non-numeric or missing values; use 1-based integer epochs")
    curves = curves.assign(epoch=epoch.astype(int), run_id=curves["run_id"].astype(str))
    if at_epoch is not None:
        curves = curves[curves["epoch"] <= at_epoch]
        if curves.empty:
            raise InputError(f"no run has an epoch <= {at_epoch}; epochs are 1-based")
    runs = pd.Index(pd.unique(curves["run_id"]), name="run_id")
    last = curves.groupby("run_id")["epoch"].max().reindex(runs).to_numpy()
    first = curves.groupby("run_id")["epoch"].min().reindex(runs).to_numpy()
    epochs = np.arange(1, int(last.max()) + 1)
    end = last - 1  # column of the prefix end
    A = {m: _wide(curves, m, runs, epochs) for m in ACC_METRICS + LOSS_METRICS}
    P = {m: _masked(a, end) for m, a in A.items()}
    f: dict[str, np.ndarray] = {}

    # the study's features
    for m in ACC_METRICS:
        f[m] = _take(A[m], end)
    f["gap"] = f["train_acc"] - f["val_acc"]
    f["epoch"] = last.astype(float)
    val = P["val_acc"]
    f["val_start"] = _take(A["val_acc"], first - 1)
    f["val_mid"] = _take(A["val_acc"], (first - 1 + end) // 2)
    f["val_end"] = f["val_acc"]
    f["val_growth"] = f["val_end"] - f["val_start"]
    with np.errstate(invalid="ignore"), _quiet():
        f["val_std"] = np.nanstd(val, axis=1)
    if feature_set == "study":
        return pd.DataFrame(f, index=runs)[list(STUDY_FEATURES)]

    # shape of each accuracy curve
    for m, short in (("train_acc", "train"), ("val_acc", "val")):
        for w in (3, 5):
            f[f"{short}_slope{w}"] = row_slope(_window(A[m], end, w))
        f[f"{short}_curv5"] = _curvature(_window(A[m], end, 5))
    f["train_growth"] = f["train_acc"] - _take(A["train_acc"], first - 1)
    f["val_best"], f["val_epochs_since_best"] = _since_best(val, end, "max")
    f["val_drop_from_best"] = f["val_best"] - f["val_acc"]
    gap = A["train_acc"] - A["val_acc"]
    f["gap_slope5"] = row_slope(_window(gap, end, 5))
    with np.errstate(invalid="ignore"), _quiet():
        f["gap_max"] = np.nanmax(_masked(gap, end), axis=1)

    # losses
    for m in LOSS_METRICS:
        f[m] = _take(A[m], end)
    f["loss_gap"] = f["val_loss"] - f["train_loss"]
    f["loss_gap_slope5"] = row_slope(_window(A["val_loss"] - A["train_loss"], end, 5))
    f["train_loss_slope5"] = row_slope(_window(A["train_loss"], end, 5))
    f["val_loss_slope3"] = row_slope(_window(A["val_loss"], end, 3))
    f["val_loss_slope5"] = row_slope(_window(A["val_loss"], end, 5))
    f["val_loss_min"], f["val_loss_epochs_since_min"] = _since_best(P["val_loss"], end, "min")
    f["val_loss_rise"] = f["val_loss"] - f["val_loss_min"]
    with np.errstate(invalid="ignore", divide="ignore"):
        f["val_loss_rise_rel"] = f["val_loss_rise"] / np.abs(f["val_loss_min"])

    # validation vs test: a gap that persists and exceeds sampling noise points to a shifted test set
    vt = A["val_acc"] - A["test_acc"]
    f["val_test_gap"] = f["val_acc"] - f["test_acc"]
    with np.errstate(invalid="ignore"), _quiet():
        f["val_test_gap_mean"] = np.nanmean(_masked(vt, end), axis=1)
    f["test_val_loss_gap"] = f["test_loss"] - f["val_loss"]
    f["val_test_z"] = _z(curves, runs, f["val_acc"], f["test_acc"])

    # run context: the same two-epoch curve means little progress for a 100-step epoch and much for a 2-step one
    ctx = curves.reindex(columns=["run_id", *CONTEXT_COLUMNS]).groupby("run_id").last().reindex(runs)
    ctx = ctx.astype(float).where(lambda v: v > 0)  # validated counts; 0 reads as unknown
    f["log_train_size"] = np.log10(ctx["train_size"].to_numpy())
    f["log_steps_per_epoch"] = np.log10(np.ceil(ctx["train_size"] / ctx["batch_size"]).to_numpy())
    f["max_epochs"] = ctx["max_epochs"].to_numpy()
    return pd.DataFrame(f, index=runs)


def featurize_checkpoints(
    curves: pd.DataFrame, epochs: Iterable[int], feature_set: str = "full"
) -> pd.DataFrame:
    """Stack :func:`featurize` at several epochs: index (run_id, checkpoint), runs shorter than a checkpoint
    dropped there.

    Example:
        >>> import pandas as pd
        >>> c = pd.DataFrame({"run_id": ["a"] * 3, "epoch": [1, 2, 3], "val_acc": [0.5, 0.6, 0.7]})
        >>> featurize_checkpoints(c, [1, 3]).index.tolist()
        [('a', 1), ('a', 3)]
    """
    _check(curves)
    last = curves.groupby(curves["run_id"].astype(str))["epoch"].max()
    parts = []
    for k in epochs:
        long_enough = last.index[last >= k]
        if len(long_enough) == 0:
            continue
        sub = curves[curves["run_id"].astype(str).isin(long_enough)]
        X = featurize(sub, at_epoch=int(k), feature_set=feature_set)
        X.index = pd.MultiIndex.from_arrays(
            [X.index, np.full(len(X), int(k))], names=["run_id", "checkpoint"]
        )
        parts.append(X)
    if not parts:
        raise InputError(f"no run reaches any of the checkpoints {list(epochs)}; pick epochs within the runs")
    return pd.concat(parts).sort_index()


def _z(curves: pd.DataFrame, runs: pd.Index, p_val: np.ndarray, p_test: np.ndarray) -> np.ndarray:
    """(val - test) in standard errors of a two-proportion difference; NaN when set sizes are unknown."""
    if "n_val" not in curves.columns or "n_test" not in curves.columns:
        return np.full(len(runs), np.nan)
    sizes = curves.groupby("run_id")[["n_val", "n_test"]].last().reindex(runs)
    return two_proportion_z(p_val, p_test, sizes["n_val"].to_numpy(float), sizes["n_test"].to_numpy(float))


def two_proportion_z(p1: np.ndarray, p2: np.ndarray, n1: np.ndarray, n2: np.ndarray) -> np.ndarray:
    """(p1 - p2) / SE with SE = sqrt(p1(1-p1)/n1 + p2(1-p2)/n2), floored at half a count so p=0/1 stays finite.

    Example:
        >>> round(float(two_proportion_z(np.array([0.9]), np.array([0.8]), np.array([1000]), np.array([1000]))[0]), 2)
        6.32
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        var = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
        floor = 0.25 / np.square(n1) + 0.25 / np.square(n2)
        return (p1 - p2) / np.sqrt(np.maximum(var, floor))


class _quiet:
    """Silence numpy's 'mean of empty slice' warnings for all-NaN rows (their result, NaN, is intended)."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)
