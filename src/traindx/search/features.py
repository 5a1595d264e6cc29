"""Featurize run configurations, datasets and validation-curve prefixes as numeric matrices.

Everything is vectorised with numpy so that a million candidate configurations featurize in about a second.
A configuration row has the run table's config columns (dataset, model, width, depth, activation, optimizer,
lr, batch_size, weight_decay, epochs, n_train, imbalance, label_noise, shift, shift_strength, ...); missing
columns take the experiment runner's defaults; columns spelled as other tools do (learning_rate, num_layers)
are read under their canonical names, and a task the task layer cannot load is described by missing values
(the forests treat them as missing), not refused. Dataset features are its size, shape and three landmarkers
(cross-validated accuracy of cheap learners on a subsample; Pfahringer et al., ICML 2000).

Example:
    >>> import pandas as pd
    >>> X = featurize_configs(pd.DataFrame({"dataset": ["digits"], "model": ["mlp_small"], "lr": [1e-3]}))
    >>> X.shape[0], X.shape[1] == len(feature_names())
    (1, True)
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd

from traindx.errors import InputError
from traindx.experiments import vocabulary as V

MODELS = V.MODELS
OPTIMIZERS = V.OPTIMIZERS
ACTIVATIONS = V.ACTIVATIONS
SCHEDULES = V.SCHEDULES
SHIFTS = V.SHIFTS
ARCH_DEFAULTS = V.ARCH_DEFAULTS
# name -> (input shape, classes, training examples available) of the first corpora's datasets; any other task's
# come from its data (tdx.tasks.meta_features)
DATASETS: dict[str, tuple[tuple[int, ...], int, int]] = {
    "mnist": ((1, 28, 28), 10, 60_000),
    "fashion_mnist": ((1, 28, 28), 10, 60_000),
    "digits": ((1, 8, 8), 10, 1_347),
    "mnist1d": ((1, 40), 10, 4_000),
}
LANDMARKERS = ("lm_1nn", "lm_naive_bayes", "lm_stump")
# dataset_landmarkers(name) of the known datasets, stored so that prediction never needs the data itself
KNOWN_LANDMARKERS: dict[str, tuple[float, float, float]] = {
    "mnist": (0.873, 0.67, 0.174),
    "fashion_mnist": (0.761, 0.555, 0.248),
    "digits": (0.979, 0.83, 0.196),
    "mnist1d": (0.465, 0.339, 0.142),
}
_NUMERIC_DEFAULTS = {
    "lr": 1e-3,
    "batch_size": 64,
    "weight_decay": 0.0,
    "momentum": 0.0,
    "dropout": 0.0,
    "epochs": 26,
    "n_train": 1000,
    "imbalance": 1.0,
    "label_noise": 0.0,
    "shift_strength": np.nan,
}
_SHIFT_STRENGTH = V.SHIFT_DEFAULTS
PREFIX_FEATURES = ("k", "k_frac", "p_last", "p_best", "p_mean3", "p_slope3", "p_first", "p_since_best")


def feature_names(landmarkers: bool = True) -> list[str]:
    """Column names of :func:`featurize_configs`' matrix, in order.

    Example:
        >>> feature_names()[:3]
        ['log_lr', 'log_batch', 'log_wd']
    """
    names = [
        "log_lr", "log_batch", "log_wd", "momentum", "epochs", "log_n_train", "width", "depth",
        "log_params", "imbalance", "label_noise", "shift_strength", "log_steps", "log_lr_per_batch", "dropout",
        "n_classes", "log_input_dim", "log_data_size",
    ]  # fmt: skip
    names += [f"model={m}" for m in MODELS] + [f"optimizer={o}" for o in OPTIMIZERS]
    names += [f"activation={a}" for a in ACTIVATIONS] + [f"shift={s}" for s in SHIFTS]
    names += [f"schedule={s}" for s in SCHEDULES]
    if landmarkers:
        names += list(LANDMARKERS)
    return names


def _numeric(df: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name not in df:
        return np.full(len(df), default, dtype=float)
    out = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float)
    return out if np.isnan(default) else np.where(np.isnan(out), default, out)


def _codes(df: pd.DataFrame, name: str, default: str, levels: tuple[str, ...]) -> np.ndarray:
    """Index of each row's value in ``levels`` (factorize first: the distinct values are few)."""
    if name not in df:
        return np.full(len(df), levels.index(default))
    codes, uniques = pd.factorize(df[name], use_na_sentinel=True)
    names = [str(u) for u in uniques]
    bad = sorted(u for u in names if u not in levels)
    if bad:
        raise InputError(f"unknown {name} {bad}; use one of {', '.join(levels)}")
    lut = np.array([levels.index(u) for u in names] + [levels.index(default)])
    return lut[codes]  # the sentinel -1 picks the default (last entry)


def _one_hot(codes: np.ndarray, n_levels: int) -> np.ndarray:
    out = np.zeros((len(codes), n_levels), dtype=np.float32)
    out[np.arange(len(codes)), codes] = 1.0
    return out


@lru_cache(maxsize=256)
def _param_count(model: str, width: int, depth: int, dataset: str) -> int:
    """Trainable parameters of the experiment model built for ``dataset`` (the runner's own builder)."""
    from traindx.experiments.models import build_model, count_params

    shape, n_classes, _ = _dataset_info(dataset)
    vocab = 0 if dataset in DATASETS else _task(dataset).vocab_size
    return count_params(build_model(model, shape, n_classes, width or None, depth or None, vocab_size=vocab))


@lru_cache(maxsize=256)
def _known(name: str) -> bool:
    """Whether the task layer can load ``name``; an unknown task featurizes as missing values, not an error."""
    if name in DATASETS:
        return True
    try:
        _task(name)
    except (InputError, OSError, ValueError):
        return False
    return True


def _task(name: str):
    from traindx.experiments.tasks import load

    return load(name)


@lru_cache(maxsize=256)
def _dataset_info(name: str) -> tuple[tuple[int, ...], int, int]:
    if name in DATASETS:
        return DATASETS[name]
    t = _task(name)
    return t.input_shape, t.n_classes, t.n_train


@lru_cache(maxsize=256)
def _landmarkers(name: str) -> tuple[float, float, float]:
    if name in KNOWN_LANDMARKERS:
        return KNOWN_LANDMARKERS[name]
    from traindx.experiments.tasks import meta_features

    mf = meta_features(_task(name))
    return tuple(float(mf[k]) for k in LANDMARKERS)


@lru_cache(maxsize=16)
def dataset_landmarkers(name: str, n: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """3-fold accuracies of 1-nearest-neighbour, Gaussian naive Bayes and a decision stump on ``n`` examples.

    Example:
        >>> lm = dataset_landmarkers("digits")
        >>> 0.8 < lm[0] <= 1.0
        True
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier

    from traindx.experiments.datasets import load

    ds = load(name)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(ds.y_train), size=min(n, len(ds.y_train)), replace=False)
    x, y = ds.x_train[idx].reshape(len(idx), -1), ds.y_train[idx]
    cv = StratifiedKFold(3, shuffle=True, random_state=seed)
    learners = (KNeighborsClassifier(1), GaussianNB(), DecisionTreeClassifier(max_depth=1, random_state=seed))
    return tuple(float(cross_val_score(m, x, y, cv=cv).mean()) for m in learners)


def featurize_configs(configs: pd.DataFrame, landmarkers: bool = True) -> np.ndarray:
    """Numeric feature matrix (rows = configs, columns = :func:`feature_names`) of run configurations.

    Example:
        >>> import pandas as pd
        >>> X = featurize_configs(pd.DataFrame({"dataset": ["digits"], "model": ["logreg"]}), landmarkers=False)
        >>> float(X[0, feature_names(False).index("model=logreg")])
        1.0
    """
    if not isinstance(configs, pd.DataFrame):
        raise InputError(
            f"configs must be a pandas DataFrame of config columns, got {type(configs).__name__}"
        )
    if configs.empty:
        raise InputError("configs is empty; give at least one configuration row")
    configs = canonical_columns(configs)
    num = {k: _numeric(configs, k, v) for k, v in _NUMERIC_DEFAULTS.items()}
    # what the runner trains with: lr times lr_scale, and the training rows left after train_fraction (the
    # rows it reports using, n_train_used, where a run table has them)
    num["lr"] = num["lr"] * _numeric(configs, "lr_scale", 1.0)
    num["n_train"] = np.maximum(num["n_train"] * _numeric(configs, "train_fraction", 1.0), 1.0)
    if "n_train_used" in configs:
        used = _numeric(configs, "n_train_used", np.nan)
        num["n_train"] = np.where(np.isfinite(used) & (used > 0), used, num["n_train"])
    for key in ("lr", "batch_size", "epochs", "n_train"):
        if (num[key] <= 0).any():
            raise InputError(f"column {key!r} has values <= 0; {key} must be positive")
    if "dataset" in configs:
        names = tuple(pd.unique(configs["dataset"].fillna("mnist").astype(str)))
        data = pd.Categorical(configs["dataset"].fillna("mnist").astype(str), categories=names).codes
    else:
        names, data = ("mnist",), np.zeros(len(configs), dtype=int)
    model = _codes(configs, "model", "mlp_small", MODELS)
    shift = _codes(configs, "shift", "none", SHIFTS)

    # width/depth: NaN means the model's default architecture
    defaults = np.array([ARCH_DEFAULTS[m] for m in MODELS], dtype=float)[model]
    width = _numeric(configs, "width", np.nan)
    depth = _numeric(configs, "depth", np.nan)
    width = np.where(np.isnan(width), defaults[:, 0], width)
    depth = np.where(np.isnan(depth), defaults[:, 1], depth)
    is_logreg = model == 0
    width, depth = np.where(is_logreg, 0, width), np.where(is_logreg, 0, depth)

    # parameter count: exact, computed once per distinct architecture
    keys = pd.DataFrame({"d": data, "m": model, "w": width, "k": depth})
    inverse = keys.groupby(["d", "m", "w", "k"], sort=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(keys))).groupby(inverse).first().to_numpy()
    counts = np.array(
        [
            _param_count(MODELS[model[i]], int(width[i]), int(depth[i]), names[data[i]])
            if _known(names[data[i]])
            else np.nan
            for i in first
        ],
        dtype=float,
    )
    n_params = counts[inverse]

    default_strength = np.array([_SHIFT_STRENGTH[s] for s in SHIFTS])[shift]
    strength = np.where(np.isnan(num["shift_strength"]), default_strength, num["shift_strength"])
    dinfo = np.array(
        [
            [c, math.log10(math.prod(shp)), math.log10(n)] if _known(nm) else [np.nan] * 3
            for nm, (shp, c, n) in ((nm, _dataset_info(nm) if _known(nm) else ((1,), 0, 1)) for nm in names)
        ]
    )
    steps = num["epochs"] * np.ceil(num["n_train"] / num["batch_size"])
    cols = [
        np.log10(num["lr"]),
        np.log2(num["batch_size"]),
        np.log10(num["weight_decay"] + 1e-6),
        num["momentum"],
        num["epochs"],
        np.log2(num["n_train"]),
        width,
        depth,
        np.log10(n_params),
        num["imbalance"],
        num["label_noise"],
        strength,
        np.log10(steps),
        np.log10(num["lr"] / num["batch_size"]),
        num["dropout"],
    ]
    parts = [np.column_stack(cols).astype(np.float32), dinfo[data].astype(np.float32)]
    parts.append(_one_hot(model, len(MODELS)))
    parts.append(_one_hot(_codes(configs, "optimizer", "adam", OPTIMIZERS), len(OPTIMIZERS)))
    parts.append(_one_hot(_codes(configs, "activation", "relu", ACTIVATIONS), len(ACTIVATIONS)))
    parts.append(_one_hot(shift, len(SHIFTS)))
    # the learning-rate schedule: a run table leaves it unset (NaN) for the constant schedule
    parts.append(_one_hot(_codes(configs, "schedule", "constant", SCHEDULES), len(SCHEDULES)))
    if landmarkers:
        used = np.unique(data)
        lm = np.zeros((len(names), len(LANDMARKERS)))
        for i in used:
            lm[i] = _landmarkers(names[i]) if _known(names[i]) else np.nan
        parts.append(lm[data].astype(np.float32))
    return np.hstack(parts).astype(np.float32)


def prefix_features(prefixes: list[np.ndarray] | np.ndarray, epochs: np.ndarray) -> np.ndarray:
    """Features of validation-accuracy prefixes (epochs 1..k), one row per run (:data:`PREFIX_FEATURES`).

    Only validation accuracy is used, so the same features exist inside an Optuna pruner (which sees only
    the reported values) and in a single-run controller.

    Example:
        >>> [round(float(v), 2) for v in prefix_features([np.array([0.5, 0.7, 0.8])], np.array([10]))[0, :4]]
        [3.0, 0.3, 0.8, 0.8]
    """
    n = len(prefixes)
    k = np.array([len(p) for p in prefixes], dtype=float)
    if n == 0 or (k < 1).any():
        raise InputError("every curve prefix needs at least one epoch of validation accuracy")
    width = int(k.max())
    a = np.full((n, width), np.nan)
    for i, p in enumerate(prefixes):
        a[i, : len(p)] = p
    rows = np.arange(n)
    last_i = k.astype(int) - 1
    last = a[rows, last_i]
    filled = np.where(np.isnan(a), -np.inf, a)
    best = filled.max(1)
    since_best = last_i - filled.argmax(1)
    back = np.maximum(last_i - 2, 0)
    mean3 = _mean3(a, last_i)
    slope3 = (last - a[rows, back]) / np.maximum(last_i - back, 1)
    return np.column_stack(
        [k, k / np.asarray(epochs, dtype=float), last, best, mean3, slope3, a[:, 0], since_best]
    ).astype(np.float32)


def _mean3(a: np.ndarray, last_i: np.ndarray) -> np.ndarray:
    rows = np.arange(len(a))
    idx = np.stack([last_i - j for j in range(3)], axis=1)
    vals = np.where(idx >= 0, a[rows[:, None], np.maximum(idx, 0)], np.nan)
    return np.nanmean(vals, axis=1)


# --- open featurization: any search space, any run-table config ---------------------------------------------
# Canonical hyperparameters get one fixed encoding everywhere, so studies that spell them differently
# (learning_rate / lr, num_layers / depth, max_units / width) land on the same feature; a name the vocabulary
# does not know keeps a feature of its own, encoded from its distribution or its values.
CANONICAL_NUMERIC: dict[str, str] = {
    "lr": "log10",
    "batch_size": "log2",
    "weight_decay": "log10",
    "width": "log2",
    "depth": "linear",
    "dropout": "linear",
    "momentum": "linear",
    "epochs": "log2",
    "warmup": "linear",
}
CANONICAL_CATEGORICAL: dict[str, tuple[str, ...]] = {"optimizer": OPTIMIZERS, "activation": ACTIVATIONS}
# a numeric parameter whose values span this many decades is encoded in log space (the distribution says so
# directly when it is an Optuna one)
LOG_SPAN = 100.0
# configuration keys that describe the run's bookkeeping or its outcome, never its setting
_NOT_SETTINGS = frozenset(
    {"run_id", "status", "created_at", "part", "seed", "final_val_acc", "best_val_acc", "value", "dataset"}
)


def canonical_columns(configs: pd.DataFrame) -> pd.DataFrame:
    """``configs`` with each column renamed to its canonical hyperparameter name (first spelling wins).

    Example:
        >>> list(canonical_columns(pd.DataFrame({"learning_rate": [0.1], "num_layers": [2]})).columns)
        ['lr', 'depth']
    """
    seen: dict[str, str] = {}
    for col in configs.columns:
        canon = V.canonical_param(str(col))
        if canon not in seen:
            seen[canon] = col
    return configs[list(seen.values())].set_axis(list(seen), axis=1)


def _encode(values: np.ndarray, how: str) -> np.ndarray:
    x = values.astype(float)
    if how == "log10":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(np.maximum(x, 0.0) + 1e-8)
    if how == "log2":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log2(np.maximum(x, 0.0) + 1.0)
    return x


class SpaceFeaturizer:
    """Numeric features of configurations in any space: one column per numeric parameter, one-hot levels per
    categorical one, canonical names shared between spaces (learnt with :meth:`fit`, applied by
    :meth:`transform`; a parameter a table lacks is NaN, which the forests treat as missing).

    Args:
        space: Optuna distributions of the parameters (name -> distribution); their log flags and choices
            decide the encoding. Parameters seen only in tables passed to ``fit`` are added from their values.

    Example:
        >>> from optuna.distributions import FloatDistribution, IntDistribution
        >>> f = SpaceFeaturizer({"learning_rate": FloatDistribution(1e-4, 1e-1, log=True),
        ...                      "num_layers": IntDistribution(1, 4)}).fit()
        >>> f.feature_names_
        ['lr', 'depth']
        >>> X = f.transform(pd.DataFrame({"lr": [1e-3], "layers": [3]}))
        >>> [round(float(v), 3) for v in X[0]]
        [-3.0, 3.0]
    """

    def __init__(self, space: dict | None = None) -> None:
        self.space = dict(space or {})

    def fit(self, *tables: pd.DataFrame) -> SpaceFeaturizer:
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        numeric: dict[str, str] = {}
        levels: dict[str, list] = {}
        for name, dist in self.space.items():
            canon = V.canonical_param(name)
            if isinstance(dist, CategoricalDistribution):
                choices = list(dist.choices)
                if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in choices):
                    numeric[canon] = CANONICAL_NUMERIC.get(canon, "log10" if _spans(choices) else "linear")
                else:
                    levels[canon] = list(
                        dict.fromkeys([*CANONICAL_CATEGORICAL.get(canon, ()), *map(str, choices)])
                    )
            elif isinstance(dist, (FloatDistribution, IntDistribution)):
                numeric[canon] = CANONICAL_NUMERIC.get(
                    canon, "log10" if dist.log and dist.low > 0 else "linear"
                )
        for table in tables:
            t = canonical_columns(table)
            for col in t.columns:
                if col in numeric or col in levels or col in _NOT_SETTINGS:
                    continue
                values = t[col].dropna()
                if values.empty:
                    continue
                if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
                    levels[col] = list(dict.fromkeys(map(str, values.unique())))
                else:
                    numeric[col] = CANONICAL_NUMERIC.get(col, "log10" if _spans(values) else "linear")
        self.numeric_ = numeric
        self.levels_ = levels
        self.feature_names_ = list(numeric) + [f"{c}={v}" for c, lv in levels.items() for v in lv]
        return self

    def transform(self, configs: pd.DataFrame) -> np.ndarray:
        """Feature matrix of ``configs`` (rows) in :attr:`feature_names_` order."""
        if not hasattr(self, "feature_names_"):
            raise InputError("this SpaceFeaturizer is not fitted yet; call fit() first")
        t = canonical_columns(configs)
        n = len(t)
        out = np.full((n, len(self.feature_names_)), np.nan, dtype=np.float32)
        for j, (col, how) in enumerate(self.numeric_.items()):
            if col in t:
                out[:, j] = _encode(pd.to_numeric(t[col], errors="coerce").to_numpy(dtype=float), how)
        j = len(self.numeric_)
        for col, lv in self.levels_.items():
            if col in t:
                codes, uniques = pd.factorize(t[col].astype(str), use_na_sentinel=True)
                lut = np.array([lv.index(u) if u in lv else -1 for u in uniques] + [-1])
                idx = lut[codes]
                block = np.zeros((n, len(lv)), dtype=np.float32)
                hit = idx >= 0
                block[np.flatnonzero(hit), idx[hit]] = 1.0
                out[:, j : j + len(lv)] = block
            j += len(lv)
        return out


def _spans(values) -> bool:
    x = np.asarray(list(values), dtype=float)
    x = x[np.isfinite(x)]
    return bool(len(x) and (x > 0).all() and x.max() / x.min() >= LOG_SPAN)


# --- task meta-features -------------------------------------------------------------------------------------
# scale of each task meta-feature in the similarity distance: one unit is "clearly different" (a decade of
# examples or inputs, a doubling of classes, 20 points of a rate)
TASK_SCALES: dict[str, tuple[str, float]] = {
    "n_train": ("log10", 1.0),
    "n_features": ("log10", 1.0),
    "n_classes": ("log2", 1.0),
    "class_entropy": ("linear", 0.2),
    "majority_rate": ("linear", 0.2),
    "lm_1nn": ("linear", 0.2),
    "lm_naive_bayes": ("linear", 0.2),
    "lm_stump": ("linear", 0.2),
    "lm_logreg": ("linear", 0.2),
}


@lru_cache(maxsize=512)
def _task_meta_cached(name: str) -> tuple[tuple[str, float], ...]:
    if name in DATASETS:
        shape, classes, n = DATASETS[name]
        lm = dict(zip(LANDMARKERS, KNOWN_LANDMARKERS[name], strict=True)) if name in KNOWN_LANDMARKERS else {}
        return tuple({"n_train": n, "n_features": math.prod(shape), "n_classes": classes, **lm}.items())
    from traindx.experiments.tasks import load, meta_features

    try:
        return tuple((k, float(v)) for k, v in meta_features(load(name)).items())
    except (InputError, OSError, ValueError):
        return ()  # a task we cannot load is an unknown task: no meta-features, not an error


def task_meta_features(task) -> dict[str, float]:
    """Meta-features of a task: a dict you give (kept as is), a :class:`~traindx.experiments.tasks.Task`, or a
    task name (computed by the task layer and cached; an unknown name gives ``{}``, a task nobody described).

    Example:
        >>> task_meta_features("no_such_task")
        {}
        >>> task_meta_features({"n_train": 500, "n_classes": 3})["n_classes"]
        3
    """
    if task is None:
        return {}
    if isinstance(task, dict):
        return dict(task)
    if isinstance(task, str):
        return dict(_task_meta_cached(task))
    from traindx.experiments.tasks import meta_features

    return {k: float(v) for k, v in meta_features(task).items()}


def task_distance(a: dict[str, float], b: dict[str, float]) -> float:
    """Root-mean-square difference of two tasks' shared meta-features in units of :data:`TASK_SCALES`
    (NaN when they share none).

    Example:
        >>> round(task_distance({"n_train": 1000, "lm_1nn": 0.9}, {"n_train": 100, "lm_1nn": 0.7}), 6)
        1.0
    """
    diffs = []
    for key, (how, scale) in TASK_SCALES.items():
        if key in a and key in b and a[key] is not None and b[key] is not None:
            x, y = _encode(np.array([float(a[key]), float(b[key])]), how)
            if np.isfinite(x) and np.isfinite(y):
                diffs.append((x - y) / scale)
    return float(np.sqrt(np.mean(np.square(diffs)))) if diffs else float("nan")
