"""The writers traindx ships, by name: ``Monitor(..., writers=["tensorboard"])`` builds one with defaults.

Example:
    >>> sorted(WRITERS)
    ['mlflow', 'tensorboard', 'wandb']
"""

from __future__ import annotations

import importlib
from typing import Any

from traindx.errors import InputError

#: name -> (module, class); modules are imported only when a writer is built (each needs its own library)
WRITERS: dict[str, tuple[str, str]] = {
    "tensorboard": ("traindx.monitor.writers.tensorboard", "TensorBoardWriter"),
    "mlflow": ("traindx.monitor.writers.mlflow", "MLflowWriter"),
    "wandb": ("traindx.monitor.writers.wandb", "WandbWriter"),
}


def make_writer(name: str, **kwargs: Any):
    """Build the writer registered under ``name`` with ``kwargs``.

    Example:
        >>> make_writer("csv")
        Traceback (most recent call last):
        ...
        traindx.errors.InputError: unknown writer 'csv'; choose from mlflow, tensorboard, wandb
    """
    if name not in WRITERS:
        raise InputError(f"unknown writer {name!r}; choose from {', '.join(sorted(WRITERS))}")
    module, cls = WRITERS[name]
    return getattr(importlib.import_module(module), cls)(**kwargs)
