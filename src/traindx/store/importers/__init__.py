"""traindx.store.importers: one module per logging tool, each returning ``(runs, curves)`` tables.

:data:`IMPORTERS` lists them in the order ``tdx.load_runs`` asks them: the first whose ``accepts`` says yes reads
the source. Specific layouts come before the general ones that would also take them (a Lightning
``metrics.csv`` is a CSV too; a folder of Trainer output may hold TensorBoard files). A new importer is one module
with an :class:`~traindx.store.importers.base.Importer` subclass, listed here.

Example:
    >>> from traindx.store.importers import IMPORTERS, canonical_metric
    >>> canonical_metric("val_accuracy")
    'val_acc'
    >>> [imp.name for imp in IMPORTERS]  # doctest: +NORMALIZE_WHITESPACE
    ['transformers', 'keras', 'mlflow', 'store', 'parquet', 'wandb', 'lightning', 'tensorboard', 'wandb-csv',
     'jsonl', 'csv']
"""

from traindx.store.importers.base import Importer
from traindx.store.importers.csv import CsvImporter, load_csv
from traindx.store.importers.hf_trainer import TrainerStateImporter, load_trainer_state
from traindx.store.importers.jsonl import JsonLinesImporter
from traindx.store.importers.keras import KerasHistoryImporter, load_history_json, load_keras_history
from traindx.store.importers.lightning import LightningImporter, load_lightning
from traindx.store.importers.mlflow import MlflowImporter, load_mlflow
from traindx.store.importers.names import canonical_metric
from traindx.store.importers.parquet import ParquetImporter
from traindx.store.importers.store import StoreImporter
from traindx.store.importers.tensorboard import TensorBoardImporter, load_tensorboard
from traindx.store.importers.wandb_csv import WandbCsvImporter, load_wandb_csv
from traindx.store.importers.wandb_offline import WandbOfflineImporter, load_wandb_offline

IMPORTERS: tuple[Importer, ...] = (
    TrainerStateImporter(),
    KerasHistoryImporter(),
    MlflowImporter(),
    StoreImporter(),
    ParquetImporter(),
    WandbOfflineImporter(),
    LightningImporter(),
    TensorBoardImporter(),
    WandbCsvImporter(),
    JsonLinesImporter(),
    CsvImporter(),
)


def supported() -> str:
    """One line per importer: what can be passed to ``tdx.load_runs`` / ``traindx diagnose``."""
    return "\n".join(f"- {imp.describe()}" for imp in IMPORTERS)


__all__ = [
    "IMPORTERS",
    "Importer",
    "canonical_metric",
    "load_csv",
    "load_history_json",
    "load_keras_history",
    "load_lightning",
    "load_mlflow",
    "load_tensorboard",
    "load_trainer_state",
    "load_wandb_csv",
    "load_wandb_offline",
    "supported",
]
