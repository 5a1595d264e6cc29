"""traindx.curves: the tidy curve table, its validation, causal featurization and labels.

Example:
    >>> import pandas as pd
    >>> import traindx as tdx
    >>> c = pd.DataFrame({"run_id": ["a"] * 2, "epoch": [1, 2], "train_acc": [0.5, 0.9], "val_acc": [0.5, 0.7]})
    >>> tdx.curves.featurize(c, at_epoch=2).loc["a", "train_acc"]
    np.float64(0.9)
"""

from __future__ import annotations

from typing import Any

from traindx.curves.features import STUDY_FEATURES, featurize, featurize_checkpoints
from traindx.curves.labels import (
    RULE_LABELS,
    cause_labels,
    checkpoint_rule_labels,
    future_labels,
    rule_labels,
)

__all__ = [
    "RULE_LABELS",
    "add_context",
    "STUDY_FEATURES",
    "cause_labels",
    "checkpoint_rule_labels",
    "featurize",
    "featurize_checkpoints",
    "future_labels",
    "rule_labels",
    "validate_curves",
]


def __getattr__(name: str) -> Any:
    # the schema module loads on first use so featurization works without its optional imports
    if name in ("validate_curves", "add_context", "METRIC_COLUMNS", "SIZE_COLUMNS", "CONTEXT_COLUMNS"):
        from traindx.curves import schema

        return getattr(schema, name)
    raise AttributeError(f"module 'traindx.curves' has no attribute {name!r}")
