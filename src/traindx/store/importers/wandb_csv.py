"""Import a W&B chart's CSV download (a line plot's menu, "Export panel data", CSV).

The download has the chart's x-axis first (``Step``, or the metric chosen as x-axis, e.g. ``epoch``), then per
drawn run ``"<run> - <metric>"`` with ``"<run> - <metric>__MIN"`` and ``"<run> - <metric>__MAX"`` beside it (the
range of a grouped or downsampled line; left out here). One file holds one metric for every run drawn; pass a
folder of them to merge a run's metrics. With an epoch x-axis each row is that epoch (counting from 0 is shifted
to 1-based); with ``Step`` (W&B's count of ``wandb.log`` calls) the k-th value of a run's metric is epoch k, so
export charts of metrics logged once per epoch, or set the x-axis to your logged epoch first. W&B's runs-table
download (one row of final values per run) holds no curves and is refused with that reason by the CSV reader.

Example:
    >>> import io
    >>> text = ('"Step","a - val_acc","a - val_acc__MIN","a - val_acc__MAX"\\n'
    ...         '0,0.5,0.5,0.5\\n2,0.6,0.6,0.6\\n')
    >>> load_wandb_csv(io.StringIO(text))[1].to_dict("list")
    {'run_id': ['a', 'a'], 'epoch': [1, 2], 'val_acc': [0.5, 0.6]}
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import IO, Any

import pandas as pd

from traindx.errors import InputError
from traindx.store.importers.base import Importer, as_path, read_text
from traindx.store.importers.history import epoch_means

SEPARATOR = " - "
_RANGE = ("__MIN", "__MAX")
_EPOCH_AXES = ("epoch", "epochs", "epoch/epoch", "train/epoch", "trainer/epoch")


def _header(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        return list(pd.read_csv(io.StringIO(fh.readline()), nrows=0).columns)


def is_chart_export(columns: list[str]) -> bool:
    """True for a header shaped like W&B's chart download: an x-axis, then ``<run> - <metric>`` columns."""
    rest = [str(c) for c in columns[1:]]
    return bool(rest) and all(SEPARATOR in c for c in rest) and any(c.endswith(_RANGE) for c in rest)


def _one(source: str | os.PathLike | IO[str]) -> pd.DataFrame:
    text = source.read() if hasattr(source, "read") else read_text(Path(source))
    try:
        df = pd.read_csv(io.StringIO(text))
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise InputError(
            f"{source} is not a readable W&B chart export ({exc}); download the CSV again"
        ) from None
    if not is_chart_export(list(df.columns)):
        raise InputError(
            f"{source} is not a W&B chart export (columns seen: {list(df.columns)[:6]}); expected Step (or an "
            "x-axis), then '<run> - <metric>' columns with __MIN/__MAX"
        )
    axis = df.columns[0]
    by_epoch = str(axis).strip().lower() in _EPOCH_AXES
    parts = []
    for col in df.columns[1:]:
        if str(col).endswith(_RANGE):
            continue
        run, _, metric = str(col).rpartition(SEPARATOR)
        values = df[[axis, col]].dropna(subset=[col])
        x = pd.to_numeric(values[axis], errors="coerce")
        if by_epoch:
            epoch = x + (1 if not x.dropna().empty and x.min() == 0 else 0)
        else:
            epoch = pd.Series(range(1, len(values) + 1), index=values.index)
        parts.append(pd.DataFrame({"run_id": run, "epoch": epoch.to_numpy(), metric: values[col].to_numpy()}))
    if not parts:
        raise InputError(f"{source} holds no '<run> - <metric>' columns; export a line plot that draws runs")
    return pd.concat(parts, ignore_index=True)


def load_wandb_csv(source: str | os.PathLike | IO[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a W&B chart download, or a folder of them, into ``(runs, curves)``."""
    path = Path(source) if isinstance(source, (str, os.PathLike)) else None
    files = sorted(path.glob("*.csv")) if path is not None and path.is_dir() else [source]
    rows = pd.concat([_one(f) for f in files], ignore_index=True)
    curves = epoch_means(rows, source=str(source))
    curves["epoch"] = curves["epoch"].astype("int64")
    runs = pd.DataFrame({"run_id": pd.unique(curves["run_id"]), "source": "wandb-csv"})
    return runs, curves


class WandbCsvImporter(Importer):
    name = "wandb-csv"
    reads = "a W&B chart's CSV download (Step, '<run> - <metric>' columns), or a folder of them"

    def accepts(self, source: Any) -> bool:
        path = as_path(source)
        if path is None:
            return False
        files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
        if not files or any(f.suffix.lower() != ".csv" for f in files):
            return False
        try:
            return all(is_chart_export(_header(f)) for f in files)
        except (ValueError, OSError):
            return False

    def load(self, source: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        return load_wandb_csv(source)
