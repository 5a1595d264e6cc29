"""Import JSON lines (``.jsonl``, ``.ndjson``, also gzipped): one JSON object per line, read like a CSV's rows.

Each line is one row: a tidy row (``{"run_id": "a", "epoch": 1, "val_acc": 0.5}``), a logging call of a row log
(``{"epoch": 0, "step": 10, "train/loss": 0.7}``, averaged per epoch) or a metric-history row
(``{"key": "val_loss", "step": 3, "value": 0.4}``); the layouts are those of
:mod:`traindx.store.importers.csv`. Nested objects are flattened with ``/`` (``{"val": {"acc": 0.5}}`` ->
``val/acc``). Blank lines are skipped.

Example:
    >>> read_json_lines('{"epoch": 1, "val": {"acc": 0.5}}\\n\\n{"epoch": 2, "val": {"acc": 0.6}}\\n').to_dict("list")
    {'epoch': [1, 2], 'val/acc': [0.5, 0.6]}
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from traindx.errors import InputError
from traindx.store.importers.base import Importer, as_path, plain_suffix

JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")


def read_json_lines(text: str, source: str = "the JSON lines") -> pd.DataFrame:
    """Parse JSON-lines text into a DataFrame (one row per non-blank line), with the line of any error."""
    records = []
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            last = number == len(lines) and not text.endswith("\n")
            cut = (
                "; the file ends mid-line (still being written, or cut short): drop that line" if last else ""
            )
            raise InputError(
                f"{source} line {number} is not JSON ({exc.msg}, column {exc.colno}){cut}; write one JSON "
                "object per line"
            ) from None
        if not isinstance(record, dict):
            raise InputError(
                f"{source} line {number} holds a {type(record).__name__}, not an object; write one object per "
                'line, e.g. {"run_id": "a", "epoch": 1, "val_acc": 0.5}'
            )
        records.append(record)
    if not records:
        raise InputError(f"{source} is empty; write one JSON object per line")
    return pd.json_normalize(records, sep="/")


class JsonLinesImporter(Importer):
    name = "jsonl"
    reads = "JSON lines (.jsonl, .ndjson, also .gz): one row object per line, or a folder of them"

    def accepts(self, source: Any) -> bool:
        path = as_path(source)
        if path is None:
            return False
        if path.is_dir():
            return any(p.is_file() and plain_suffix(p) in JSON_LINES_SUFFIXES for p in path.iterdir())
        return plain_suffix(path) in JSON_LINES_SUFFIXES

    def load(self, source: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        from traindx.store.importers.csv import load_csv

        return load_csv(as_path(source))
