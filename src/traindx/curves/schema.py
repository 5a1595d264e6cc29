"""The tidy curve table and the run table: their columns and validation.

A curve table has one row per (run, epoch): ``run_id`` (str), ``epoch`` (int, 1-based), any of
:data:`METRIC_COLUMNS` (float; accuracies in [0, 1]), optional set sizes :data:`SIZE_COLUMNS` (int), optional run
context :data:`CONTEXT_COLUMNS` (int) and any extra columns, which are carried unchanged. Run-level facts (configuration, dataset, known conditions) live in a
separate run table keyed by ``run_id``. Every importer produces these two tables and every meta-model reads them.

Example:
    >>> import pandas as pd
    >>> c = pd.DataFrame({"run_id": [1, 1], "epoch": [2.0, 1.0], "val_acc": [0.7, 0.5]})
    >>> validate_curves(c)
      run_id  epoch  val_acc
    0      1      1      0.5
    1      1      2      0.7
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from traindx.errors import InputError

ACC_COLUMNS = ("train_acc", "val_acc", "test_acc")
LOSS_COLUMNS = ("train_loss", "val_loss", "test_loss")
METRIC_COLUMNS = ("train_acc", "val_acc", "test_acc", "train_loss", "val_loss", "test_loss")
SIZE_COLUMNS = ("n_train", "n_val", "n_test")
# Run context a curve cannot show: examples per epoch, batch size and the planned number of epochs. Where a run is
# heading after two epochs depends on how many steps it has taken and will take (benchmarks/RESULTS.md,
# diagnoser (c)). Optional like the set sizes; :func:`add_context` fills them from a run table.
CONTEXT_COLUMNS = ("train_size", "batch_size", "max_epochs")
# run-table columns each context column is read from, first found wins
CONTEXT_SOURCES = {
    "train_size": ("train_size", "n_train"),
    "batch_size": ("batch_size",),
    "max_epochs": ("max_epochs", "epochs", "num_epochs"),
}
KEY_COLUMNS = ("run_id", "epoch")

_EXAMPLES = 3  # how many offending rows an error message quotes
_ACC_SLACK = 1e-6  # float32 rounding of a 0/1 accuracy stays well inside this


def _where(df: pd.DataFrame, mask: pd.Series | np.ndarray) -> str:
    rows = df.loc[mask, ["run_id", "epoch"]].head(_EXAMPLES)
    return ", ".join(f"(run {r.run_id!s}, epoch {r.epoch})" for r in rows.itertuples())


def _numeric(df: pd.DataFrame, col: str, what: str) -> pd.Series:
    values = pd.to_numeric(df[col], errors="coerce")
    bad = values.isna() & df[col].notna()
    if bad.any():
        sample = df.loc[bad, col].head(_EXAMPLES).tolist()
        raise InputError(
            f"{what} column {col!r} holds non-numeric values such as {sample}; "
            "store numbers only (convert or drop those rows)"
        )
    return values.astype(float)


def validate_curves(curves: pd.DataFrame, *, allow_gaps: bool = False, percent: bool = False) -> pd.DataFrame:
    """Check a tidy curve table and return a clean copy, sorted by (run_id, epoch).

    ``run_id`` becomes str and ``epoch`` int; metric and set-size columns that are entirely empty (never logged)
    are dropped. Raises :class:`~traindx.errors.InputError` naming the problem and its fix for: a missing
    ``run_id``/``epoch`` column, no metric column, an empty table, non-integer or non-positive epochs, duplicated
    (run_id, epoch) rows, non-numeric values, NaN or infinite values (unless ``allow_gaps``: a metric logged only
    at some epochs, e.g. validation every 5 epochs; infinities then read as missing, with a warning), and
    accuracies outside [0, 1]. Accuracies in percent (0-100)
    are recognised; ``percent=True`` divides them by 100.

    Example:
        >>> c = pd.DataFrame({"run_id": ["a"], "epoch": [1], "train_acc": [91.0]})
        >>> validate_curves(c, percent=True)["train_acc"].tolist()
        [0.91]
    """
    if not isinstance(curves, pd.DataFrame):
        raise InputError(
            f"curves must be a pandas DataFrame (the tidy curve table), got {type(curves).__name__}; "
            "load one with tdx.load_runs(path)"
        )
    missing = [c for c in KEY_COLUMNS if c not in curves.columns]
    if missing:
        raise InputError(
            f"curve table lacks column(s) {missing} (columns seen: {list(curves.columns)}); "
            "give one row per (run, epoch) with a run_id and a 1-based epoch"
        )
    present = [c for c in METRIC_COLUMNS if c in curves.columns]
    if not present:
        extra = [c for c in curves.columns if c not in KEY_COLUMNS]
        raise InputError(
            f"curve table has no metric column (columns seen: {extra}); "
            f"name at least one of {', '.join(METRIC_COLUMNS)}"
        )
    if curves.empty:
        raise InputError("curve table is empty; pass at least one run with one epoch")

    df = curves.reset_index(drop=True).copy()
    if df["run_id"].isna().any():
        raise InputError(
            f"{int(df['run_id'].isna().sum())} row(s) have no run_id; give every row its run's id"
        )
    df["run_id"] = df["run_id"].astype(str)

    epoch = pd.to_numeric(df["epoch"], errors="coerce")
    if epoch.isna().any():
        sample = df.loc[epoch.isna(), "epoch"].head(_EXAMPLES).tolist()
        raise InputError(
            f"epoch column holds missing or non-numeric values such as {sample}; give each row its epoch"
        )
    if not np.all(np.isfinite(epoch)) or (epoch != np.round(epoch)).any():
        sample = epoch[(epoch != np.round(epoch)) | ~np.isfinite(epoch)].head(_EXAMPLES).tolist()
        raise InputError(
            f"epochs must be whole numbers, found {sample}; if you logged per step or fractional epochs, "
            "convert to one row per completed epoch (e.g. keep the last value of each epoch)"
        )
    df["epoch"] = epoch.astype("int64")
    if (df["epoch"] < 1).any():
        raise InputError(
            f"epochs are 1-based, found epoch {int(df['epoch'].min())}; if your epochs count from 0, add 1"
        )

    dup = df.duplicated(["run_id", "epoch"], keep=False)
    if dup.any():
        raise InputError(
            f"{int(dup.sum())} rows share a (run_id, epoch), e.g. {_where(df, dup)}; keep one row per run and "
            "epoch, e.g. curves.drop_duplicates(['run_id', 'epoch'], keep='last'), or give repeated runs "
            "distinct run_ids"
        )

    for col in present:
        df[col] = _numeric(df, col, "metric")
    empty = [c for c in present if df[c].isna().all()]
    df = df.drop(columns=empty)
    present = [c for c in present if c not in empty]
    if not present:
        raise InputError(f"metric column(s) {empty} hold no values; log at least one metric per epoch")

    values = df[present].to_numpy(dtype=float)
    inf = np.isinf(values).any(axis=1)
    if inf.any() and allow_gaps:
        # a diverged run's infinite loss carries no magnitude; as a gap the rest of its curve stays usable
        warnings.warn(f"infinite metric values at {_where(df, inf)} read as missing", stacklevel=2)
        df[present] = df[present].replace([np.inf, -np.inf], np.nan)
    elif inf.any():
        raise InputError(
            f"infinite metric values at {_where(df, inf)}; the run diverged: drop those rows, or set them to NaN "
            "and pass allow_gaps=True"
        )
    nan = np.isnan(values).any(axis=1)
    if nan.any() and not allow_gaps:
        raise InputError(
            f"NaN metric values in {int(nan.sum())} row(s), e.g. {_where(df, nan)}; drop or fill those rows, "
            "or pass allow_gaps=True if a metric is simply not logged every epoch"
        )

    for col in (c for c in ACC_COLUMNS if c in present):
        lo, hi = df[col].min(), df[col].max()
        if lo >= -_ACC_SLACK and hi <= 1 + _ACC_SLACK:
            df[col] = df[col].clip(0.0, 1.0)  # float rounding in the logger, not a wrong unit
            continue
        if lo >= 0 and hi <= 100:
            if percent:
                df[col] = df[col] / 100.0
                continue
            raise InputError(
                f"accuracy column {col!r} ranges {lo:g}..{hi:g}: it looks like percent; accuracies are fractions "
                "in [0, 1]: divide by 100, or pass percent=True (tdx.load_runs(path, percent=True); traindx diagnose --percent)"
            )
        raise InputError(
            f"accuracy column {col!r} ranges {lo:g}..{hi:g}, outside [0, 1]; accuracies are fractions of correct "
            "predictions; check that this column really holds an accuracy"
        )

    counts = SIZE_COLUMNS + CONTEXT_COLUMNS
    df = df.drop(columns=[c for c in counts if c in df.columns and df[c].isna().all()])
    for col in (c for c in counts if c in df.columns):
        what = "set-size" if col in SIZE_COLUMNS else "run-context"
        size = _numeric(df, col, what)
        known = size.dropna()
        if (known < 0).any() or (known != np.round(known)).any():
            raise InputError(f"{what} column {col!r} must hold non-negative whole numbers (counts)")
        df[col] = size.astype("int64") if size.notna().all() else size.astype("Int64")

    order = ["run_id", "epoch", *present, *(c for c in counts if c in df.columns)]
    df = df[order + [c for c in df.columns if c not in order]]
    return df.sort_values(["run_id", "epoch"], kind="stable").reset_index(drop=True)


def from_percent(curves: pd.DataFrame, percent: bool | None = None) -> tuple[pd.DataFrame, str | None]:
    """Accuracies logged in percent as fractions, and a one-line notice when they were recognised as such.

    ``percent=None`` divides an accuracy column by 100 when its largest value lies in (1, 100] and none is
    negative (a fraction never exceeds 1, and a run that reached only 1% is not told apart: pass ``True``);
    ``True`` divides every accuracy column; ``False`` leaves them. Nothing is printed: the caller shows the notice.

    Example:
        >>> c = pd.DataFrame({"run_id": ["a", "a"], "epoch": [1, 2], "val_acc": [55.0, 70.5], "train_acc": [0.5, 0.7]})
        >>> fixed, note = from_percent(c)
        >>> fixed["val_acc"].tolist(), fixed["train_acc"].tolist(), note
        ([0.55, 0.705], [0.5, 0.7], 'accuracies read as percent and divided by 100: val_acc (largest 70.5)')
    """
    if percent is False:
        return curves, None
    present = [c for c in ACC_COLUMNS if c in curves.columns]
    values = {c: pd.to_numeric(curves[c], errors="coerce") for c in present}
    if percent:
        scaled = [c for c in present if values[c].notna().any()]
    else:
        finite = {c: v[np.isfinite(v)] for c, v in values.items()}
        scaled = [c for c, v in finite.items() if len(v) and 1 + _ACC_SLACK < v.max() <= 100 and v.min() >= 0]
    if not scaled:
        return curves, None
    out = curves.copy()
    out.attrs = dict(curves.attrs)
    for col in scaled:
        out[col] = values[col] / 100.0
    if percent:
        return out, None
    largest = max(float(values[c].max()) for c in scaled)
    return out, (f"accuracies read as percent and divided by 100: {', '.join(scaled)} (largest {largest:g})")


def add_context(curves: pd.DataFrame, runs: pd.DataFrame | None) -> pd.DataFrame:
    """Copy of ``curves`` with the run context columns (:data:`CONTEXT_COLUMNS`) filled from the run table.

    Each column is read from the first of :data:`CONTEXT_SOURCES` the run table has (e.g. ``max_epochs`` from
    ``epochs``); a column the curves already carry, or a value that is not a positive number, is left as is.

    Example:
        >>> import pandas as pd
        >>> c = pd.DataFrame({"run_id": ["a", "a"], "epoch": [1, 2], "val_acc": [0.5, 0.6]})
        >>> r = pd.DataFrame({"run_id": ["a"], "n_train": [1000], "batch_size": [64], "epochs": [20]})
        >>> add_context(c, r)[["train_size", "batch_size", "max_epochs"]].iloc[0].tolist()
        [1000.0, 64.0, 20.0]
    """
    out = curves.copy()
    if runs is None or "run_id" not in getattr(runs, "columns", ()):
        return out
    r = (
        runs.assign(run_id=runs["run_id"].astype(str))
        .drop_duplicates("run_id", keep="last")
        .set_index("run_id")
    )
    key = out["run_id"].astype(str)
    for col, sources in CONTEXT_SOURCES.items():
        if col in out.columns:
            continue
        src = next((s for s in sources if s in r.columns), None)
        if src is None:
            continue
        values = pd.to_numeric(r[src], errors="coerce")
        values = values.where(values > 0)
        if values.notna().any():
            out[col] = key.map(values).astype(float)
    return out


def validate_runs(runs: pd.DataFrame, curves: pd.DataFrame | None = None) -> pd.DataFrame:
    """Check a run table (one row per run, keyed by ``run_id``) and return a copy with str run ids.

    With ``curves``, every run in the curve table must have a row here. Raises
    :class:`~traindx.errors.InputError` for a missing or duplicated ``run_id``.

    Example:
        >>> validate_runs(pd.DataFrame({"run_id": [1, 2], "lr": [0.1, 0.01]}))["run_id"].tolist()
        ['1', '2']
    """
    if not isinstance(runs, pd.DataFrame):
        raise InputError(f"runs must be a pandas DataFrame (the run table), got {type(runs).__name__}")
    if "run_id" not in runs.columns:
        raise InputError(
            f"run table has no 'run_id' column (columns seen: {list(runs.columns)}); add one row per run with its id"
        )
    df = runs.reset_index(drop=True).copy()
    if df["run_id"].isna().any():
        raise InputError("run table has rows without a run_id; give every run its id")
    df["run_id"] = df["run_id"].astype(str)
    dup = df["run_id"].duplicated(keep=False)
    if dup.any():
        sample = df.loc[dup, "run_id"].unique()[:_EXAMPLES].tolist()
        raise InputError(f"run ids {sample} appear more than once in the run table; keep one row per run")
    if curves is not None and "run_id" in curves.columns:
        unknown = sorted(set(curves["run_id"].astype(str)) - set(df["run_id"]))
        if unknown:
            raise InputError(
                f"curve table has runs missing from the run table, e.g. {unknown[:_EXAMPLES]}; "
                "add a row per run (run_id alone is enough)"
            )
    return df
