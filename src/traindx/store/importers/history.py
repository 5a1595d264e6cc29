"""Turn logged metric rows into the tidy curve table: long rows (run, name, step, value) or wide row logs.

TensorBoard scalars, MLflow metric histories and long CSV exports all log one value per (run, name, step)
(:func:`history_to_curves`). Names are mapped with :func:`~traindx.store.importers.names.canonical_metric`; names
that do not map are left out and reported when nothing maps. Steps become 1-based epochs per run: a run that also
logs a metric named ``epoch`` against its global step (as PyTorch Lightning does) takes each value's epoch from
it; otherwise the step is the epoch. When a run's smallest epoch is 0 its epochs are 0-based and shifted by one.
A (run, metric, step) logged more than once keeps its last value (a resumed run overwrites the earlier attempt);
several steps in one epoch are averaged, so a metric logged every batch reads as its epoch mean, as Lightning's
``on_epoch=True`` reduces it.

Row logs (Lightning's ``metrics.csv``, W&B history, the Trainer's ``log_history``) hold one row per logging call
with an epoch and whichever metrics that call logged (:func:`epoch_means`); each metric's rows within an epoch
are averaged the same way.

Example:
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"run_id": ["a"] * 3, "name": ["acc", "acc", "val_acc"], "step": [0, 1, 1],
    ...                      "value": [0.5, 0.8, 0.7]})
    >>> history_to_curves(rows).to_dict("list")
    {'run_id': ['a', 'a'], 'epoch': [1, 2], 'train_acc': [0.5, 0.8], 'val_acc': [nan, 0.7]}
"""

from __future__ import annotations

import pandas as pd

from traindx.curves.schema import METRIC_COLUMNS
from traindx.errors import InputError
from traindx.store.importers.names import canonical_metric, expected_names


def _steps_to_epochs(mapped: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Add an ``epoch`` column: the run's logged ``epoch`` metric at that step where there is one, else the step."""
    marks = rows[rows["name"].astype(str).str.lower() == "epoch"]
    if marks.empty:
        return mapped.assign(epoch=mapped["step"])
    marks = pd.DataFrame(
        {
            "run_id": marks["run_id"],
            "step": pd.to_numeric(marks["step"]),
            "epoch_mark": pd.to_numeric(marks["value"]),
        }
    )
    marks = marks.drop_duplicates(["run_id", "step"], keep="last").sort_values("step")
    order = mapped.assign(_row=range(len(mapped))).sort_values("step")
    joined = pd.merge_asof(order, marks, on="step", by="run_id", direction="nearest")
    joined = joined.sort_values("_row").drop(columns="_row")
    return joined.assign(epoch=joined["epoch_mark"].fillna(joined["step"])).drop(columns="epoch_mark")


def history_to_curves(rows: pd.DataFrame, source: str = "the logs") -> pd.DataFrame:
    """Pivot long rows with columns run_id, name, step, value (and optional split) into a tidy curve table."""
    if rows.empty:
        raise InputError(f"no scalar metrics found in {source}; log at least one metric per epoch")
    splits = rows["split"].tolist() if "split" in rows.columns else [None] * len(rows)
    names = [canonical_metric(str(n), s) for n, s in zip(rows["name"], splits, strict=True)]
    mapped = rows.assign(metric=names).dropna(subset=["metric"])
    if mapped.empty:
        seen = sorted(rows["name"].astype(str).unique())
        raise InputError(
            f"none of the metrics in {source} is a recognised curve metric (found: {seen[:20]}); "
            f"name them {expected_names()}"
        )
    mapped = mapped.assign(step=pd.to_numeric(mapped["step"]), value=pd.to_numeric(mapped["value"]))
    mapped = _steps_to_epochs(mapped, rows)
    first = mapped.groupby("run_id")["epoch"].transform("min")
    mapped = mapped.assign(epoch=mapped["epoch"] + (first == 0).astype(int))
    mapped = mapped.drop_duplicates(["run_id", "metric", "step"], keep="last")
    wide = mapped.pivot_table(index=["run_id", "epoch"], columns="metric", values="value", aggfunc="mean")
    wide = wide.reset_index()
    wide.columns.name = None
    return wide[["run_id", "epoch", *(c for c in METRIC_COLUMNS if c in wide.columns)]]


def _pick_columns(columns: list[str]) -> dict[str, str]:
    """Logged column -> tidy column; where several map to one (``train_loss`` and ``train_loss_epoch``), the one
    that names the epoch wins (Lightning's epoch reduction), else the first."""
    chosen: dict[str, str] = {}
    for col in columns:
        target = canonical_metric(str(col))
        if target is None:
            continue
        held = chosen.get(target)
        if held is None or ("epoch" in str(col).lower() and "epoch" not in str(held).lower()):
            chosen[target] = col
    return {col: target for target, col in chosen.items()}


def epoch_means(rows: pd.DataFrame, source: str = "the logs") -> pd.DataFrame:
    """Average a row log (columns ``run_id``, 1-based ``epoch`` and logged metrics) into one row per epoch.

    Metric columns are mapped with :func:`~traindx.store.importers.names.canonical_metric`; columns that do not
    map (``step``, ``lr``, ``grad_norm``) are dropped. Empty cells (a row that did not log that metric) are
    skipped in the mean.

    Example:
        >>> rows = pd.DataFrame({"run_id": "v0", "epoch": [1, 1, 1, 2], "step": [0, 1, 1, 2],
        ...                      "train_loss": [0.9, 0.7, None, 0.5], "val_loss": [None, None, 0.8, None]})
        >>> epoch_means(rows).to_dict("list")
        {'run_id': ['v0', 'v0'], 'epoch': [1, 2], 'train_loss': [0.8, 0.5], 'val_loss': [0.8, nan]}
    """
    metric_cols = _pick_columns([c for c in rows.columns if c not in ("run_id", "epoch")])
    if not metric_cols:
        seen = [str(c) for c in rows.columns if c not in ("run_id", "epoch")]
        raise InputError(
            f"none of the columns in {source} is a recognised curve metric (found: {seen[:20]}); "
            f"name them {expected_names()}"
        )
    values = rows[list(metric_cols)].apply(pd.to_numeric, errors="coerce").rename(columns=metric_cols)
    frame = pd.concat(
        [rows[["run_id", "epoch"]].reset_index(drop=True), values.reset_index(drop=True)], axis=1
    )
    frame = frame.dropna(subset=["epoch"])
    curves = frame.groupby(["run_id", "epoch"], sort=True).mean().reset_index()
    curves = curves.dropna(how="all", subset=list(metric_cols.values()))
    return curves[["run_id", "epoch", *(c for c in METRIC_COLUMNS if c in curves.columns)]].reset_index(
        drop=True
    )
