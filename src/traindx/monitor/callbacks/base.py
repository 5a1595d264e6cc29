"""What the framework callbacks share: reading epoch metrics from the names frameworks log them under, and
ending the monitor (close, then save the signal record). No framework is imported here.

Example:
    >>> pick_metrics({"val_loss": 0.5, "loss": 0.4, "lr": 0.1}, {"train_loss": ("loss",), "val_loss": ("val_loss",)})
    {'train_loss': 0.4, 'val_loss': 0.5}
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any


def pick_metrics(logged: Mapping[str, Any] | None, keys: Mapping[str, Iterable[str]]) -> dict[str, float]:
    """Epoch metrics for ``Monitor.epoch_end``: per metric the first of its candidate names that was logged
    with a number (accuracies must be finite; a non-finite loss is kept, the monitor reports it)."""
    picked: dict[str, float] = {}
    for name, candidates in keys.items():
        for key in candidates:
            if logged and key in logged:
                try:
                    value = float(logged[key])
                except (TypeError, ValueError):
                    continue
                if math.isfinite(value) or name.endswith("loss"):
                    picked[name] = value
                break
    return picked


def finish(monitor: Any, save_to: str | None) -> None:
    """Close the monitor (removing its hooks) and write its signal record when a path was given."""
    monitor.close()
    if save_to is not None:
        monitor.save(save_to)
