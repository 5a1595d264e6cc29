"""traindx.store.importers: one module per logging tool, each returning ``(runs, curves)`` tables.

Example:
    >>> from traindx.store.importers import canonical_metric
    >>> canonical_metric("val_accuracy")
    'val_acc'
"""

from traindx.store.importers.csv import load_csv
from traindx.store.importers.keras import load_keras_history
from traindx.store.importers.mlflow import load_mlflow
from traindx.store.importers.names import canonical_metric
from traindx.store.importers.tensorboard import load_tensorboard

__all__ = ["canonical_metric", "load_csv", "load_keras_history", "load_mlflow", "load_tensorboard"]
