"""Import a Keras ``History`` (what ``model.fit`` returns) or its ``history`` dict.

``history.history`` maps metric names (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ...) to one value
per epoch; names map with :func:`~traindx.store.importers.names.canonical_metric` and the others (``lr``,
``learning_rate``, custom metrics) are carried as extra columns. ``history.epoch`` lists Keras' 0-based epochs,
which become 1-based; ``history.params`` (epochs, steps) goes into the run table.

Example:
    >>> runs, curves = load_keras_history({"accuracy": [0.6, 0.8], "val_accuracy": [0.5, 0.7], "lr": [0.1, 0.1]})
    >>> curves.columns.tolist(), curves["epoch"].tolist()
    (['run_id', 'epoch', 'train_acc', 'val_acc', 'lr'], [1, 2])
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from traindx.errors import InputError
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
