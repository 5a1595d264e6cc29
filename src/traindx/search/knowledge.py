"""Where a sampler's prior knowledge comes from: the shipped corpus, run tables, traindx run stores and Optuna
studies (objects or storage URLs), each in its own search space, cut into one :class:`Source` per task.

A source keeps its configurations under canonical parameter names and, as the value to learn, the percentile
rank of each result within its own task: what transfers between tasks is which configurations are better,
not how accurate a task is (Feurer et al., AAAI 2015).

Example:
    >>> import pandas as pd
    >>> runs = pd.DataFrame({"dataset": ["a", "a", "b", "b"], "learning_rate": [0.1, 0.01, 0.1, 0.01],
    ...                      "final_val_acc": [0.7, 0.9, 0.6, 0.5]})
    >>> [(s.name, s.value.tolist()) for s in from_runs(runs)]
    [('a', [0.5, 1.0]), ('b', [1.0, 0.5])]
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traindx.errors import InputError
from traindx.search.features import canonical_columns, task_meta_features


@dataclass
class Source:
    """The finished configurations of one task and their within-task percentile ranks (1 = best).

    ``meta`` is the task's meta-features (``None``: look them up by ``name`` when first needed).
    """

    name: str
    configs: pd.DataFrame
    value: np.ndarray
    meta: dict[str, float] | None = field(default=None, repr=False)

    def meta_features(self) -> dict[str, float]:
        if self.meta is None:
            self.meta = task_meta_features(self.name)
        return self.meta


def _source(name: str, configs: pd.DataFrame, y: np.ndarray, meta=None) -> Source | None:
    keep = np.isfinite(y)
    if keep.sum() < 2:
        return None
    configs = canonical_columns(configs[keep].reset_index(drop=True))
    ranks = pd.Series(y[keep]).rank(pct=True).to_numpy()
    return Source(str(name), configs, ranks, meta)


def from_runs(
    runs: pd.DataFrame, curves: pd.DataFrame | None = None, group: str = "dataset", target: str = "final"
) -> list[Source]:
    """One source per task of a run table; results from ``curves`` (final or best validation accuracy) or the
    table's ``final_val_acc`` / ``best_val_acc`` column."""
    from traindx.search.predictor import targets

    if not isinstance(runs, pd.DataFrame) or runs.empty:
        raise InputError("runs must be a non-empty DataFrame of config columns (RunStore.runs())")
    runs = canonical_columns(runs)
    if "status" in runs:
        runs = runs[runs["status"].isin(["finished", "complete", "COMPLETE"])]
    if curves is not None:
        t = targets(curves)
        runs = runs[runs["run_id"].isin(t.index)]
        y = t.loc[runs["run_id"], target].to_numpy(dtype=float)
    else:
        col = f"{target}_val_acc"
        if col not in runs:
            raise InputError(f"runs has no {col!r} column; pass curves or add the result column")
        y = pd.to_numeric(runs[col], errors="coerce").to_numpy(dtype=float)
    runs = runs.drop(columns=[c for c in ("final_val_acc", "best_val_acc") if c in runs]).reset_index(
        drop=True
    )
    keys = runs[group].astype(str) if group in runs else pd.Series("runs", index=runs.index)
    out = []
    for name, idx in keys.groupby(keys, sort=True).groups.items():
        s = _source(name, runs.loc[idx], y[np.asarray(idx)])
        if s is not None:
            out.append(s)
    return out


def from_study(study) -> list[Source]:
    """The completed trials of an Optuna study as a source (its task: the study's ``task`` or ``dataset``
    user attribute, a fixed ``dataset`` parameter, or else the study's name)."""
    import optuna

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not done:
        return []
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MINIMIZE else 1.0
    configs = pd.DataFrame([t.params for t in done])
    y = sign * np.array([t.value for t in done], dtype=float)
    attrs = study.user_attrs
    name = attrs.get("task") or attrs.get("dataset") or study.study_name
    meta = attrs.get("meta_features")
    s = _source(name, configs, y, dict(meta) if isinstance(meta, dict) else None)
    return [s] if s is not None else []


def from_storage(storage: str, study_name: str | None = None) -> list[Source]:
    """Every study (or the one named) of an Optuna storage URL, e.g. ``sqlite:///studies.db``."""
    import optuna

    names = [study_name] if study_name else [s.study_name for s in optuna.get_all_study_summaries(storage)]
    out: list[Source] = []
    for n in names:
        out += from_study(optuna.load_study(study_name=n, storage=storage))
    return out


def from_store(path: str | os.PathLike) -> list[Source]:
    """One source per task of a traindx DuckDB run store (opened read-only)."""
    from traindx.store import RunStore

    if not Path(path).is_file():
        raise InputError(f"run store {path} not found; give the path of a traindx DuckDB run store")
    runs, curves = RunStore(path, read_only=True).read()
    return from_runs(runs, curves) if len(runs) else []


# the many-task corpus's data conditions: set by the corpus design, not chosen by a search, with the value that
# means "not applied" (traindx.experiments.corpus.CONDITIONS); shift acts on the test split only
DATA_CONDITIONS: dict[str, float] = {"train_fraction": 1.0, "imbalance": 1.0, "label_noise": 0.0}
# the corpus columns that are settings a search chooses (the corpus's own search space)
CORPUS_SETTINGS = ("lr", "weight_decay", "dropout", "width", "batch_size", "epochs", "optimizer", "schedule")


def corpus_settings(runs: pd.DataFrame) -> pd.DataFrame:
    """The many-task corpus's runs as the settings a search chooses: the effective learning rate
    (``lr * lr_scale``), dropout 0 and the constant schedule where the design left them unset.

    Example:
        >>> runs = pd.DataFrame({"lr": [1e-3, 1e-3], "lr_scale": [None, 10.0], "dropout": [None, 0.3]})
        >>> corpus_settings(runs)[["lr", "dropout"]].to_numpy().tolist()
        [[0.001, 0.0], [0.01, 0.3]]
    """
    out = runs.copy()
    if "lr_scale" in out:
        out["lr"] = pd.to_numeric(out["lr"]) * pd.to_numeric(out["lr_scale"]).fillna(1.0)
    if "dropout" in out:
        out["dropout"] = pd.to_numeric(out["dropout"]).fillna(0.0)
    if "schedule" in out:
        out["schedule"] = out["schedule"].fillna("constant")
    return out[[c for c in CORPUS_SETTINGS if c in out]]


def remove_condition_effects(runs: pd.DataFrame, y: np.ndarray, group: str = "dataset") -> np.ndarray:
    """``y`` with the main effect of each data condition (:data:`DATA_CONDITIONS`) removed within each task.

    The corpus applies its conditions in orthogonal factorial blocks, so within a task the mean result at a
    condition's level minus the task's mean estimates that level's effect free of the settings (Box, Hunter &
    Hunter, Statistics for Experimenters, ch. 5); what is left compares settings as on the task's clean data.

    Example:
        >>> runs = pd.DataFrame({"dataset": "a", "label_noise": [0.0, 0.0, 0.5, 0.5], "lr": [1, 2, 1, 2]})
        >>> remove_condition_effects(runs, np.array([0.9, 0.8, 0.5, 0.4])).round(2).tolist()
        [0.7, 0.6, 0.7, 0.6]
    """
    y = np.asarray(y, dtype=float).copy()
    keys = runs[group].astype(str).to_numpy() if group in runs else np.zeros(len(runs), dtype=str)
    out = y.copy()
    for col, healthy in DATA_CONDITIONS.items():
        if col not in runs:
            continue
        level = pd.to_numeric(runs[col], errors="coerce").fillna(healthy).to_numpy()
        frame = pd.DataFrame({"task": keys, "level": level, "y": y})
        ok = np.isfinite(y)
        task_mean = frame[ok].groupby("task")["y"].mean()
        cell_mean = frame[ok].groupby(["task", "level"])["y"].mean()
        effect = cell_mean.to_numpy() - task_mean.loc[cell_mean.index.get_level_values(0)].to_numpy()
        lut = pd.Series(effect, index=cell_mean.index)
        out -= lut.reindex(pd.MultiIndex.from_arrays([keys, level])).fillna(0.0).to_numpy()
    return out


def shipped(exclude: tuple[str, ...] = ()) -> list[Source]:
    """One source per task of the many-task corpus shipped with traindx (its settings, the data conditions'
    effects removed, the tasks' stored meta-features); the first single-dataset corpora when it is absent;
    empty if nothing is shipped. ``exclude``: task names to leave out (a leave-task-out evaluation).

    Example:
        >>> sources = shipped()
        >>> len(sources) >= 40 and "lr" in sources[0].configs
        True
    """
    from traindx.search.corpus import MANY_TASK, corpus_parts, load_corpus

    parts = corpus_parts()
    if not parts:
        return []
    if MANY_TASK not in parts:
        runs, curves = load_corpus()
        if "shift" in runs:  # a run evaluated under a test-time shift is about robustness, not its setting
            runs = runs[runs["shift"].fillna("none") == "none"]
        return [s for s in from_runs(runs, curves) if s.name not in exclude]
    return [s for s in _many_task(MANY_TASK) if s.name not in exclude]


_MANY_TASK_CACHE: dict[str, list[Source]] = {}


def _many_task(name: str) -> list[Source]:
    if name in _MANY_TASK_CACHE:
        return _MANY_TASK_CACHE[name]
    from traindx.search.corpus import corpus_meta_features, load_corpus
    from traindx.search.predictor import targets

    runs, curves = load_corpus(name)
    runs = runs[runs["status"] == "finished"].reset_index(drop=True)
    t = targets(curves)
    runs = runs[runs["run_id"].isin(t.index)].reset_index(drop=True)
    y = remove_condition_effects(runs, t.loc[runs["run_id"], "final"].to_numpy(dtype=float))
    settings = corpus_settings(runs)
    meta = corpus_meta_features(name)
    out = []
    for task, idx in runs.groupby("dataset", sort=True).groups.items():
        idx = np.asarray(idx)
        s = _source(task, settings.iloc[idx], y[idx], meta.get(str(task)))
        if s is not None:
            out.append(s)
    _MANY_TASK_CACHE[name] = out
    return out


def gather(knowledge: Any) -> list[Source]:
    """Sources from anything that holds finished configurations: ``"shipped"``, a :class:`Source`, an Optuna
    study, an Optuna storage URL, a run-store path, a ``(runs, curves)`` pair, a run table with
    ``final_val_acc``, or a list of these.

    Example:
        >>> len(gather("shipped")) >= 2
        True
    """
    if knowledge is None:
        return []
    if isinstance(knowledge, Source):
        return [knowledge]
    if isinstance(knowledge, str) and knowledge == "shipped":
        return shipped()
    if isinstance(knowledge, (str, os.PathLike)):
        text = str(knowledge)
        if "://" in text:
            return from_storage(text)
        return from_store(text)
    if isinstance(knowledge, pd.DataFrame):
        return from_runs(knowledge)
    if isinstance(knowledge, tuple) and len(knowledge) == 2 and isinstance(knowledge[0], pd.DataFrame):
        return from_runs(*knowledge)
    if hasattr(knowledge, "get_trials") and hasattr(knowledge, "direction"):
        return from_study(knowledge)
    if isinstance(knowledge, (list, tuple)):
        return [s for k in knowledge for s in gather(k)]
    raise InputError(
        f"cannot read knowledge from {type(knowledge).__name__}; give 'shipped', an Optuna study or storage "
        "URL, a run-store path, a (runs, curves) pair or a run table with final_val_acc"
    )
