"""traindx.store: the DuckDB run store, ``load_runs`` and the importers of logged runs.

Example:
    >>> from traindx.store import load_runs
    >>> runs, curves = load_runs({"loss": [0.9, 0.5]})
    >>> curves.columns.tolist()
    ['run_id', 'epoch', 'train_loss']
"""

from traindx.store.importers.csv import load_csv
from traindx.store.importers.keras import load_keras_history
from traindx.store.importers.mlflow import load_mlflow
from traindx.store.importers.tensorboard import load_tensorboard
from traindx.store.load import load_runs
from traindx.store.runstore import RunStore

__all__ = ["RunStore", "load_csv", "load_keras_history", "load_mlflow", "load_runs", "load_tensorboard"]
