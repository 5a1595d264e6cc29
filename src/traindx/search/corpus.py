"""The shipped run corpora (Parquet parts) and a trial table built from an Optuna study.

A corpus part is a pair ``<part>_runs.parquet`` / ``<part>_epochs.parquet`` in the corpus folder; whatever
parts are shipped there are read, so a corpus that grows (more tasks, more parts) needs no code change.

Example:
    >>> {"fashion_mnist", "mnist"} <= set(corpus_parts())
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from traindx.errors import InputError

CORPUS_DIR = Path(__file__).resolve().parent.parent / "data" / "corpus"
CORPORA = ("mnist", "fashion_mnist")


def corpus_parts(folder: str | Path | None = None) -> list[str]:
    """Names of the corpus parts in ``folder`` (default: the shipped corpus), sorted."""
    root = Path(folder) if folder is not None else CORPUS_DIR
    runs = {p.name.removesuffix("_runs.parquet") for p in root.glob("*_runs.parquet")}
    return sorted(n for n in runs if (root / f"{n}_epochs.parquet").is_file())


def load_corpus(
    name: str | None = None, folder: str | Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (runs, curves) tables of a corpus part, or of every part in the folder when ``name`` is None.

    Example:
        >>> runs, curves = load_corpus()
        >>> {"mnist", "fashion_mnist"} <= set(runs["dataset"])
        True
    """
    root = Path(folder) if folder is not None else CORPUS_DIR
    if name is None:
        parts = corpus_parts(root)
        if not parts:
            raise InputError(
                f"no corpus parts (*_runs.parquet with *_epochs.parquet) in {root}; build one with "
                "`traindx sweep` and RunStore.export_corpus, or pass runs/curves tables yourself"
            )
        tables = [load_corpus(p, root) for p in parts]
        return (
            pd.concat([t[0] for t in tables], ignore_index=True),
            pd.concat([t[1] for t in tables], ignore_index=True),
        )
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
