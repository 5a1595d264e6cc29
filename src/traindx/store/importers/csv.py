"""Import learning curves from CSV files.

Accepted layouts (recognised from the header; ``.tsv`` files are tab-separated):

* **Tidy** - one row per (run, epoch) with an epoch column (``epoch``, ``epochs``, ``Epoch``). Metric columns are
  renamed from common names with :func:`~traindx.store.importers.names.canonical_metric` (``acc``/``accuracy``
  -> ``train_acc``, ``val_accuracy``/``valid_acc`` -> ``val_acc``, ``loss`` -> ``train_loss``,
  ``metrics.val_loss`` -> ``val_loss``, ...); other columns are carried. A file with several rows per epoch and a
  ``step`` column (PyTorch Lightning's ``CSVLogger`` ``metrics.csv``, one row per logging call) is reduced to each
  column's last logged value per epoch. The run column is ``run_id`` or one of
  ``run``, ``run_name``, ``run_uuid``, ``Run ID``, ``trial``, ``trial_id``; without one the file is one run named
  after the file. A step column is used as the epoch only when asked (``epoch_column="step"``). Keras'
  ``CSVLogger`` files (epoch, accuracy, loss, val_accuracy, val_loss) load as they are.
* **Wide** - one row per run, one column per (metric, epoch): ``val_acc_5``, ``val_acc@5``, ``val_acc[5]``,
  ``val_acc_epoch5``, ``val_acc_e5``, ``val_acc.5`` (any metric name above before the marker). Columns that do not
  match go into the run table.
* **TensorBoard scalar download** - ``Wall time, Step, Value`` (one tag per file). TensorBoard names these files
  ``run-<run>-tag-<tag>.csv``; the run and tag are read from that name (a run ending in ``_train`` or
  ``_validation`` gives the split, as Keras' log folders do), otherwise the file name is the tag. Load a folder of
  them to merge the tags of each run.
* **Long metric history** - one row per logged value with a value column (``value``), a name column (``key``,
  ``metric``, ``tag``, ``name``), a ``step`` (or ``epoch``) column and optionally a run column: the layout of
  MLflow's metric history (``MlflowClient.get_metric_history`` rows: key, value, timestamp, step) and of
  TensorBoard's ``get_scalars`` frames (run, tag, step, value).

Epochs and steps are 1-based; a run whose smallest epoch/step is 0 counts from 0 and is shifted by one.

Example:
    >>> import io
    >>> runs, curves = load_csv(io.StringIO("run,epoch,acc,val_accuracy\\nr1,0,0.5,0.4\\nr1,1,0.7,0.6\\n"))
    >>> curves.to_dict("list")
    {'run_id': ['r1', 'r1'], 'epoch': [1, 2], 'train_acc': [0.5, 0.7], 'val_acc': [0.4, 0.6]}
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import IO, Any

import pandas as pd

from traindx.curves.schema import METRIC_COLUMNS
from traindx.errors import InputError
from traindx.store.importers.base import Importer, as_path, plain_stem, plain_suffix, read_text
from traindx.store.importers.history import history_to_curves
from traindx.store.importers.jsonl import JSON_LINES_SUFFIXES, read_json_lines
from traindx.store.importers.names import canonical_metric, expected_names, split_of

DELIMITED_SUFFIXES = (".csv", ".tsv", ".txt")
TABLE_SUFFIXES = DELIMITED_SUFFIXES + JSON_LINES_SUFFIXES
STEP_ALIASES = ("step", "_step", "global_step")
RUN_ALIASES = ("run_id", "run", "run_name", "runid", "run_uuid", "run id", "trial", "trial_id")
EPOCH_ALIASES = ("epoch", "epochs")
NAME_ALIASES = ("key", "metric", "tag", "name", "metric_name")
WIDE_PATTERN = re.compile(r"^(?P<metric>.+?)(?:@|\[|[_./-](?:epoch|ep|e)?_?)(?P<k>\d+)\]?$", re.IGNORECASE)
_TB_FILE = re.compile(r"^run[-_](?P<run>.*)-tag-(?P<tag>.+)$")


def _find(columns: list[str], aliases: tuple[str, ...]) -> str | None:
    lower = {c.strip().lower(): c for c in columns}
    return next((lower[a] for a in aliases if a in lower), None)


def _one_based(df: pd.DataFrame, column: str) -> pd.Series:
    values = pd.to_numeric(df[column], errors="coerce")
    if (values.isna() & df[column].notna()).any():
        return df[column]  # left as logged, so validation quotes the offending values
    first = values.groupby(df["run_id"]).transform("min")
    return values + (first == 0).astype(int)


def _name_of(source: str | os.PathLike | IO[str]) -> str:
    return plain_stem(Path(source)) if isinstance(source, (str, os.PathLike)) else "run"


def _tb_key(column: str) -> str:
    return str(column).strip().lower().replace("_", " ")


def _tensorboard_rows(df: pd.DataFrame, stem: str, run_id: str | None) -> pd.DataFrame:
    match = _TB_FILE.match(stem)
    run, tag = (match["run"], match["tag"]) if match else (run_id or "run", stem)
    split = None
    head, _, last = run.rpartition("_")
    if split_of(last):
        run, split = head or run, split_of(last)
    elif split_of(run):
        split = split_of(run)
    if run in ("", ".") or split_of(run):
        run = run_id or "run"
    cols = {_tb_key(c): c for c in df.columns}
    return pd.DataFrame(
        {
            "run_id": run_id or run,
            "split": split,
            "name": tag,
            "step": df[cols["step"]],
            "wall_time": df[cols["wall time"]],
            "value": df[cols["value"]],
        }
    )


def _long_rows(df: pd.DataFrame, name_col: str, run_id: str) -> pd.DataFrame:
    cols = list(df.columns)
    run_col = _find(cols, RUN_ALIASES)
    step_col = _find(cols, ("step", *EPOCH_ALIASES))
    out = pd.DataFrame(
        {
            "run_id": df[run_col].astype(str) if run_col else run_id,
            "name": df[name_col].astype(str),
            "step": df[step_col],
            "value": df[_find(cols, ("value",))],
        }
    )
    time_col = _find(cols, ("timestamp", "wall time", "wall_time"))
    return (
        out.assign(_t=df[time_col]).sort_values("_t", kind="stable").drop(columns="_t") if time_col else out
    )


def _tidy(df: pd.DataFrame, epoch_col: str, run_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    run_col = _find(list(df.columns), RUN_ALIASES)
    df = df.copy()
    if run_col is None:
        df.insert(0, "run_id", run_id)
    elif run_col != "run_id":
        df = df.drop(columns=[c for c in ("run_id",) if c in df.columns]).rename(columns={run_col: "run_id"})
    renamed: dict[str, str] = {}
    for col in df.columns:
        target = canonical_metric(str(col)) if col not in ("run_id", epoch_col) else None
        if target and target not in df.columns and target not in renamed.values():
            renamed[col] = target
    df = df.rename(columns=renamed)
    if not any(c in df.columns for c in METRIC_COLUMNS):
        seen = [c for c in df.columns if c not in ("run_id", epoch_col)]
        raise InputError(
            f"no recognised metric column in the CSV (columns seen: {seen}); name them {expected_names()}"
        )
    df["run_id"] = df["run_id"].astype(str)
    df = df.assign(epoch=_one_based(df, epoch_col)).drop(columns=[] if epoch_col == "epoch" else [epoch_col])
    if _find(list(df.columns), STEP_ALIASES) and df.duplicated(["run_id", "epoch"]).any():
        # one row per logging call (Lightning's CSVLogger, a W&B history export): the epoch mean of each metric
        numeric = [
            c for c in df.columns if c not in ("run_id", "epoch") and pd.api.types.is_numeric_dtype(df[c])
        ]
        grouped = df.groupby(["run_id", "epoch"], sort=False)
        other = [c for c in df.columns if c not in ("run_id", "epoch", *numeric)]
        df = pd.concat([grouped[numeric].mean(), grouped[other].last()], axis=1).reset_index()
    front = ["run_id", "epoch"]
    curves = df[front + [c for c in df.columns if c not in front]]
    runs = pd.DataFrame({"run_id": pd.unique(curves["run_id"]), "source": "csv"})
    return runs, curves


def _wide(
    df: pd.DataFrame, matches: dict[str, tuple[str, int]], run_id: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    run_col = _find([c for c in df.columns if c not in matches], RUN_ALIASES)
    ids = df[run_col].astype(str) if run_col else pd.Series([f"{run_id}_{i}" for i in range(len(df))])
    if len(df) == 1 and run_col is None:
        ids = pd.Series([run_id])
    long = pd.DataFrame(
        [
            (rid, metric, k, value)
            for col, (metric, k) in matches.items()
            for rid, value in zip(ids, df[col], strict=True)
        ],
        columns=["run_id", "metric", "epoch", "value"],
    )
    long = long.dropna(subset=["value"])  # a run with fewer epochs leaves its later cells empty
    long["epoch"] = _one_based(long, "epoch")
    curves = long.pivot_table(index=["run_id", "epoch"], columns="metric", values="value", aggfunc="last")
    curves = curves.reset_index()
    curves.columns.name = None
    curves = curves[["run_id", "epoch", *(c for c in METRIC_COLUMNS if c in curves.columns)]]
    runs = df.drop(columns=list(matches)).drop(columns=[run_col] if run_col else [])
    runs.insert(0, "run_id", ids.to_numpy())
    return runs, curves


def _wide_matches(columns: list[str]) -> dict[str, tuple[str, int]]:
    out = {}
    for col in columns:
        m = WIDE_PATTERN.match(str(col).strip())
        metric = canonical_metric(m["metric"]) if m else None
        if metric:
            out[col] = (metric, int(m["k"]))
    return out


def _separator(first_line: str, suffix: str) -> str:
    if suffix == ".tsv":
        return "\t"
    counts = {sep: first_line.count(sep) for sep in (",", "\t", ";")}
    return max(counts, key=counts.get) if max(counts.values()) > 0 else ","


def read_frame(source: str | os.PathLike | IO[str]) -> pd.DataFrame:
    """One delimited (or JSON-lines) file as a DataFrame, decompressed and decoded, with clear errors."""
    if hasattr(source, "read"):
        text, suffix = source.read(), plain_suffix(Path(str(getattr(source, "name", "x.csv"))))
    else:
        path = Path(source)
        text, suffix = read_text(path), plain_suffix(path)
    if suffix in JSON_LINES_SUFFIXES:
        return read_json_lines(text, str(source))
    if not text.strip():
        raise InputError(f"{source} is empty; export at least a header and one row")
    sep = _separator(text.split("\n", 1)[0], suffix)
    try:
        return pd.read_csv(io.StringIO(text), sep=sep)
    except pd.errors.EmptyDataError:
        raise InputError(f"{source} is empty; export at least a header and one row") from None
    except pd.errors.ParserError as exc:
        raise InputError(
            f"{source} is not a readable CSV ({exc}); write one header row and comma-separated rows"
        ) from exc


def read_csv_rows(
    source: str | os.PathLike | IO[str], *, run_id: str | None = None, epoch_column: str | None = None
) -> tuple[str, pd.DataFrame, pd.DataFrame | None]:
    """Read one CSV as ``("long", rows, None)`` (metric-history rows) or ``("curves", runs, curves)``."""
    return frame_rows(read_frame(source), source, run_id=run_id, epoch_column=epoch_column)


def frame_rows(
    df: pd.DataFrame,
    source: str | os.PathLike | IO[str],
    *,
    run_id: str | None = None,
    epoch_column: str | None = None,
) -> tuple[str, pd.DataFrame, pd.DataFrame | None]:
    """Tell the layout of a table read from ``source`` and read it (see :func:`read_csv_rows`)."""
    stem = _name_of(source)
    name = run_id or stem
    cols = list(df.columns)
    lower = {c.strip().lower() for c in cols}
    if {"wall time", "step", "value"} <= {_tb_key(c) for c in cols}:
        return "long", _tensorboard_rows(df, stem, run_id), None
    name_col = _find(cols, NAME_ALIASES)
    if name_col and "value" in lower and (lower & {"step", *EPOCH_ALIASES}):
        return "long", _long_rows(df, name_col, name), None
    epoch_col = epoch_column or _find(cols, EPOCH_ALIASES)
    if epoch_col is not None:
        if epoch_col not in df.columns:
            raise InputError(f"no column {epoch_col!r} in {source} (columns seen: {cols})")
        return "curves", *_tidy(df, epoch_col, name)
    matches = _wide_matches(cols)
    if matches:
        return "curves", *_wide(df, matches, name)
    hint = ""
    if "step" in lower:
        hint = " (it has a 'step' column: pass epoch_column='step' if steps count epochs)"
    elif any(canonical_metric(str(c)) for c in cols):
        hint = (
            " (it has metric columns but no epochs: one final value per run, like MLflow's or W&B's runs-table download; "
            "export each metric's history instead)"
        )
    raise InputError(
        f"cannot tell the layout of {source} (columns seen: {cols}){hint}; give a tidy table with run_id, epoch "
        f"and metric columns ({expected_names()}), a wide table with columns like val_acc_5 or val_acc@5, or a "
        "TensorBoard/MLflow scalar export (see traindx.store.importers.csv)"
    )


def load_csv(
    source: str | os.PathLike | IO[str], *, run_id: str | None = None, epoch_column: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a CSV file (or a folder of them, merged) in any layout above into ``(runs, curves)``.

    ``run_id`` names the run of a file that has no run column (default: the file name); ``epoch_column`` picks
    the column that counts epochs when it is not called epoch.
    """
    if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
        files = sorted(p for p in Path(source).iterdir() if p.is_file() and plain_suffix(p) in TABLE_SUFFIXES)
        if not files:
            raise InputError(f"no .csv files in {source}; point to a CSV file or a folder of CSV exports")
    else:
        files = [source]
    longs, runs, curves = [], [], []
    for f in files:
        kind, a, b = read_csv_rows(f, run_id=run_id, epoch_column=epoch_column)
        if kind == "long":
            longs.append(a)
        else:
            runs.append(a)
            curves.append(b)
    if longs:
        merged = history_to_curves(pd.concat(longs, ignore_index=True), source=str(source))
        curves.append(merged)
        runs.append(pd.DataFrame({"run_id": pd.unique(merged["run_id"]), "source": "csv"}))
    run_table = pd.concat(runs, ignore_index=True).drop_duplicates("run_id", keep="first")
    return run_table.reset_index(drop=True), pd.concat(curves, ignore_index=True)


class CsvImporter(Importer):
    name = "csv"
    reads = "a CSV/TSV file (also .csv.gz), tidy, wide or a TensorBoard/MLflow export, or a folder of them"

    def accepts(self, source: Any) -> bool:
        path = as_path(source)
        if path is None:
            return False
        if path.is_dir():
            return any(p.is_file() and plain_suffix(p) in DELIMITED_SUFFIXES for p in path.iterdir())
        return plain_suffix(path) in DELIMITED_SUFFIXES

    def load(self, source: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        return load_csv(as_path(source))
