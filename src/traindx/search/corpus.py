"""The shipped run corpora (Parquet parts) and a trial table built from an Optuna study.

A corpus is either a pair ``<name>_runs.parquet`` / ``<name>_epochs.parquet`` in the corpus folder (the first,
single-dataset corpora) or a sub-folder ``<name>/`` of ``part-NNN_*.parquet`` files (the many-task corpus,
written part by part; :func:`traindx.experiments.corpus.load_parts`). Whatever is shipped there is read, so a
corpus that grows (more tasks, more parts) needs no code change. :data:`MANY_TASK` names the many-task corpus
that the search components learn from by default; :func:`corpus_meta_features` gives its tasks'
meta-features without needing their data.

Example:
    >>> {"fashion_mnist", "mnist", "tasks_causes"} <= set(corpus_parts())
    True
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from traindx.errors import InputError

CORPUS_DIR = Path(__file__).resolve().parent.parent / "data" / "corpus"
CORPORA = ("mnist", "fashion_mnist")
MANY_TASK = "tasks_causes"


def corpus_parts(folder: str | Path | None = None) -> list[str]:
    """Names of the corpora in ``folder`` (default: the shipped ones), sorted."""
    root = Path(folder) if folder is not None else CORPUS_DIR
    if not root.is_dir():
        return []
    runs = {p.name.removesuffix("_runs.parquet") for p in root.glob("*_runs.parquet")}
    flat = {n for n in runs if (root / f"{n}_epochs.parquet").is_file()}
    nested = {p.name for p in root.iterdir() if p.is_dir() and any(p.glob("part-*_runs.parquet"))}
    return sorted(flat | nested)


def load_corpus(
    name: str | None = None, folder: str | Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (runs, curves) tables of a corpus; when ``name`` is None, of every single-dataset corpus (flat
    ``<name>_runs.parquet`` pairs) in the folder, the many-task one being read by its name (:data:`MANY_TASK`):
    its tasks need their data to featurize in the run vocabulary, which a default should not require.

    Example:
        >>> runs, curves = load_corpus("mnist")
        >>> set(runs["dataset"])
        {'mnist'}
    """
    root = Path(folder) if folder is not None else CORPUS_DIR
    if name is None:
        parts = [p for p in corpus_parts(root) if not (root / p).is_dir()]
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
    if (root / name).is_dir():
        from traindx.experiments.corpus import load_parts

        runs, curves, _ = load_parts(root / name)
        return runs, curves
    paths = root / f"{name}_runs.parquet", root / f"{name}_epochs.parquet"
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise InputError(
            f"corpus {name!r} not found ({', '.join(missing)}); build it with `traindx sweep` and "
            "RunStore.export_corpus, or pass runs/curves tables yourself"
        )
    return pd.read_parquet(paths[0]), pd.read_parquet(paths[1])


@lru_cache(maxsize=8)
def corpus_meta_features(name: str = MANY_TASK, folder: str | None = None) -> dict[str, dict[str, float]]:
    """Task meta-features of a shipped corpus's tasks, stored beside it (``<name>_meta.json``) so that a user
    without the tasks' data still knows them; ``{}`` when none are stored.

    Regenerate with :func:`write_corpus_meta_features` after the corpus gains tasks.

    Example:
        >>> corpus_meta_features()["pima"]["n_classes"]
        2.0
    """
    path = (Path(folder) if folder else CORPUS_DIR) / f"{name}_meta.json"
    if not path.is_file():
        return {}
    return {k: dict(v) for k, v in json.loads(path.read_text())["tasks"].items()}


def write_corpus_meta_features(name: str = MANY_TASK, folder: str | Path | None = None) -> Path:
    """Compute (task layer, from the data) and store the meta-features of every task of a corpus."""
    from traindx.experiments.tasks import meta_features

    root = Path(folder) if folder is not None else CORPUS_DIR
    runs, _ = load_corpus(name, root)
    tasks = {t: {k: float(v) for k, v in meta_features(t).items()} for t in sorted(runs["dataset"].unique())}
    path = root / f"{name}_meta.json"
    doc = {"source": "traindx.experiments.tasks.meta_features of each task of the corpus", "tasks": tasks}
    path.write_text(json.dumps(doc, indent=1, sort_keys=True))
    corpus_meta_features.cache_clear()
    return path


def trial_table(trials: list[Any], base: dict[str, Any] | None = None) -> pd.DataFrame:
    """Finished Optuna trials as a run table: ``base`` config, the trial's params and ``final_val_acc``."""
    rows = [{**(base or {}), **t.params, "final_val_acc": t.value} for t in trials]
    return pd.DataFrame(rows)
