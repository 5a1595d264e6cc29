"""Featurize run configurations, datasets and validation-curve prefixes as numeric matrices.

Everything is vectorised with numpy so that a million candidate configurations featurize in about a second.
A configuration row has the run table's config columns (dataset, model, width, depth, activation, optimizer,
lr, batch_size, weight_decay, epochs, n_train, imbalance, label_noise, shift, shift_strength, ...); missing
columns take the experiment runner's defaults. Dataset features are its size, shape and three landmarkers
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
        "log_params", "imbalance", "label_noise", "shift_strength", "log_steps", "log_lr_per_batch",
        "n_classes", "log_input_dim", "log_data_size",
    ]  # fmt: skip
    names += [f"model={m}" for m in MODELS] + [f"optimizer={o}" for o in OPTIMIZERS]
    names += [f"activation={a}" for a in ACTIVATIONS] + [f"shift={s}" for s in SHIFTS]
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
    num = {k: _numeric(configs, k, v) for k, v in _NUMERIC_DEFAULTS.items()}
    for key in ("lr", "batch_size", "epochs", "n_train"):
        if (num[key] <= 0).any():
            raise InputError(f"column {key!r} has values <= 0; {key} must be positive")
    if "dataset" in configs:
        names = tuple(pd.unique(configs["dataset"].fillna("mnist").astype(str)))
        data = pd.Categorical(configs["dataset"].fillna("mnist").astype(str), categories=names).codes
    else:
        names, data = ("mnist",), np.zeros(len(configs), dtype=int)
    for name in names:  # unknown tasks fail here with the closest names
        if name not in DATASETS:
            from traindx.experiments.tasks import info

            info(name)
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
        [_param_count(MODELS[model[i]], int(width[i]), int(depth[i]), names[data[i]]) for i in first],
        dtype=float,
    )
    n_params = counts[inverse]

    default_strength = np.array([_SHIFT_STRENGTH[s] for s in SHIFTS])[shift]
    strength = np.where(np.isnan(num["shift_strength"]), default_strength, num["shift_strength"])
    dinfo = np.array(
        [[c, math.log10(math.prod(shp)), math.log10(n)] for shp, c, n in map(_dataset_info, names)]
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
    ]
    parts = [np.column_stack(cols).astype(np.float32), dinfo[data].astype(np.float32)]
    parts.append(_one_hot(model, len(MODELS)))
    parts.append(_one_hot(_codes(configs, "optimizer", "adam", OPTIMIZERS), len(OPTIMIZERS)))
    parts.append(_one_hot(_codes(configs, "activation", "relu", ACTIVATIONS), len(ACTIVATIONS)))
    parts.append(_one_hot(shift, len(SHIFTS)))
    if landmarkers:
        used = np.unique(data)
        lm = np.zeros((len(names), len(LANDMARKERS)))
        for i in used:
            lm[i] = _landmarkers(names[i])
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
