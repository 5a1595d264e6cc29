"""Import a Keras ``History`` (what ``model.fit`` returns), its ``history`` dict, or that dict saved as JSON.

``json.dump(history.history, f)`` is how Keras users keep a run (Keras' own ``CSVLogger`` files are read by the CSV
importer). ``history.history`` maps metric names (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ...) to one value
per epoch; names map with :func:`~traindx.store.importers.names.canonical_metric` and the others (``lr``,
``learning_rate``, custom metrics) are carried as extra columns. ``history.epoch`` lists Keras' 0-based epochs,
which become 1-based; ``history.params`` (epochs, steps) goes into the run table.

Example:
    >>> runs, curves = load_keras_history({"accuracy": [0.6, 0.8], "val_accuracy": [0.5, 0.7], "lr": [0.1, 0.1]})
    >>> curves.columns.tolist(), curves["epoch"].tolist()
    (['run_id', 'epoch', 'train_acc', 'val_acc', 'lr'], [1, 2])
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from traindx.errors import InputError
from traindx.store.importers.base import Importer, as_path, plain_suffix, read_text
from traindx.store.importers.names import canonical_metric, expected_names


def is_keras_history(obj: Any) -> bool:
    """True for a Keras ``History`` callback (anything with a ``history`` dict and an ``epoch`` list)."""
    return isinstance(getattr(obj, "history", None), dict) and isinstance(getattr(obj, "epoch", None), list)


def load_keras_history(history: Any, run_id: str = "keras") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a Keras ``History`` (or a ``{name: [value per epoch]}`` dict) into ``(runs, curves)``."""
    if is_keras_history(history):
        logs, epochs, params = (
            history.history,
            list(history.epoch),
            dict(getattr(history, "params", {}) or {}),
        )
    elif isinstance(history, dict):
        logs, epochs, params = history, None, {}
    else:
        raise InputError(
            f"expected a Keras History (the return value of model.fit) or its .history dict, "
            f"got {type(history).__name__}"
        )
    if not logs:
        raise InputError(
            "the Keras history is empty; pass the History of a model.fit that ran at least one epoch"
        )
    lengths = {name: len(values) for name, values in logs.items()}
    n = max(lengths.values())
    if len(set(lengths.values())) > 1:
        raise InputError(
            f"Keras history metrics have different lengths {lengths}; pass one value per epoch for each metric"
        )
    if epochs is None or len(epochs) != n:
        epochs = list(range(n))
    renamed: dict[str, str] = {}
    for name in logs:
        column = canonical_metric(name)
        renamed[name] = column if column is not None and column not in renamed.values() else name
    if not any(canonical_metric(name) for name in logs):
        raise InputError(
            f"no recognised metric in the Keras history (found: {sorted(logs)}); compile the model with "
            f"metrics=['accuracy'] or name metrics {expected_names()}"
        )
    curves = pd.DataFrame({renamed[name]: list(values) for name, values in logs.items()})
    curves.insert(0, "epoch", [int(e) + 1 for e in epochs])  # Keras counts epochs from 0
    curves.insert(0, "run_id", str(run_id))
    runs = pd.DataFrame([{"run_id": str(run_id), "source": "keras", **params}])
    return runs, curves


def _history_dict(obj: Any) -> dict | None:
    """The ``{name: [values]}`` of a History JSON (bare, or under a ``history`` key), or None."""
    if isinstance(obj, dict) and isinstance(obj.get("history"), dict):
        obj = obj["history"]
    if isinstance(obj, dict) and obj and all(isinstance(v, list) for v in obj.values()):
        return obj
    return None


def load_history_json(path: str | Path, run_id: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read ``history.history`` saved with ``json.dump`` into ``(runs, curves)``; the run is named by the file."""
    path = Path(path)
    try:
        obj = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); the file may be "
            "truncated: save the History again with json.dump(history.history, f)"
        ) from None
    logs = _history_dict(obj)
    if logs is None:
        raise InputError(
            f"{path} is JSON but not a Keras History: expected an object mapping metric names to one value per "
            'epoch, e.g. {"loss": [0.9, 0.5], "val_accuracy": [0.6, 0.7]} (json.dump(history.history, f))'
        )
    bad = [k for k, v in logs.items() if not all(isinstance(x, (int, float)) or x is None for x in v)]
    if bad:
        raise InputError(
            f"{path}: metric(s) {bad[:5]} hold non-numbers; a History holds one number per epoch"
        )
    return load_keras_history(logs, run_id=run_id or path.stem)


class KerasHistoryImporter(Importer):
    name = "keras"
    reads = "a Keras History, its .history dict, or that dict saved as JSON"

    def accepts(self, source: Any) -> bool:
        if is_keras_history(source) or isinstance(source, dict):
            return True
        path = as_path(source)
        # any other JSON file: a broken or foreign one gets this reader's error naming what a History is
        return path is not None and path.is_file() and plain_suffix(path) == ".json"

    def load(self, source: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        if is_keras_history(source) or isinstance(source, dict):
            return load_keras_history(source)
        return load_history_json(source)
