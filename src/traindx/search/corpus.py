"""The shipped run corpora (Parquet) and a trial table built from an Optuna study.

Example:
    >>> sorted(CORPORA)
    ['fashion_mnist', 'mnist']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from traindx.errors import InputError

CORPUS_DIR = Path(__file__).resolve().parent.parent / "data" / "corpus"
CORPORA = ("mnist", "fashion_mnist")


def load_corpus(name: str, folder: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (runs, curves) tables of a shipped corpus, read from ``<name>_runs.parquet`` / ``_epochs.parquet``.

    Example:
        >>> runs, curves = load_corpus("mnist")  # doctest: +SKIP
    """
    root = Path(folder) if folder is not None else CORPUS_DIR
    paths = root / f"{name}_runs.parquet", root / f"{name}_epochs.parquet"
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise InputError(
            f"corpus {name!r} not found ({', '.join(missing)}); build it with `traindx sweep` and "
            "RunStore.export_corpus, or pass runs/curves tables yourself"
        )
    return pd.read_parquet(paths[0]), pd.read_parquet(paths[1])


def trial_table(trials: list[Any], base: dict[str, Any] | None = None) -> pd.DataFrame:
    """Finished Optuna trials as a run table: ``base`` config, the trial's params and ``final_val_acc``."""
    rows = [{**(base or {}), **t.params, "final_val_acc": t.value} for t in trials]
    return pd.DataFrame(rows)
