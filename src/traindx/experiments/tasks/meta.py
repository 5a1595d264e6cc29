"""Meta-features of a task, computed from its data and cached on disk as JSON (one file per task and data).

Simple features: training examples, input dimension, classes, class entropy (normalised to [0, 1]), imbalance
ratio (rarest / most frequent class) and majority rate. Landmarkers (Pfahringer et al., ICML 2000): 3-fold
accuracies of 1-nearest-neighbour, Gaussian naive Bayes, a decision stump and logistic regression on a
stratified subsample of ``LANDMARK_N`` training examples (text: on bag-of-words counts of the token ids).

Example:
    >>> from traindx.experiments.tasks import load
    >>> mf = meta_features(load("moons"))
    >>> mf["n_classes"], 0.5 < mf["lm_1nn"] <= 1.0
    (2, True)
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings

import numpy as np

from traindx.experiments.tasks.base import Task, cache_dir

LANDMARK_N = 1000
META_VERSION = 1
FEATURES = (
    "n_train", "n_test", "n_features", "n_classes", "class_entropy", "imbalance_ratio", "majority_rate",
    "lm_1nn", "lm_naive_bayes", "lm_stump", "lm_logreg",
)  # fmt: skip


def _fingerprint(task: Task) -> str:
    h = hashlib.sha1(usedforsecurity=False)
    h.update(json.dumps([META_VERSION, task.name, task.x_train.shape, task.n_classes]).encode())
    h.update(np.ascontiguousarray(task.y_train).tobytes())
    h.update(np.ascontiguousarray(task.x_train[:: max(1, len(task.x_train) // 200)]).tobytes())
    return h.hexdigest()[:12]


def meta_features(task: Task | str, cache: bool = True) -> dict[str, float | int]:
    """The task's meta-features (:data:`FEATURES`), read from the cache when computed before.

    ``task`` is a :class:`Task` or anything :func:`traindx.experiments.tasks.load` accepts."""
    if not isinstance(task, Task):
        from traindx.experiments.tasks import load

        task = load(task)
    path = cache_dir("meta") / f"{task.name}-{_fingerprint(task)}.json" if cache else None
    if path is not None and path.is_file():
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            pass
    out = _compute(task)
    if path is not None:
        tmp = path.with_suffix(".part")
        tmp.write_text(json.dumps(out))
        tmp.replace(path)
    return out


def _features(task: Task, x: np.ndarray) -> np.ndarray:
    if not task.tokens:
        return x.reshape(len(x), -1).astype(np.float32)
    # bag of words over the 500 most frequent ids (0 = padding left out)
    top = min(task.vocab_size, 502)
    bow = np.zeros((len(x), top), dtype=np.float32)
    rows = np.repeat(np.arange(len(x)), x.shape[1])
    ids = x.reshape(-1)
    keep = (ids > 0) & (ids < top)
    np.add.at(bow, (rows[keep], ids[keep]), 1.0)
    return bow[:, 1:]


def _compute(task: Task) -> dict[str, float | int]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    y = task.y_train
    counts = np.bincount(y, minlength=task.n_classes).astype(float)
    present = counts[counts > 0]
    p = present / present.sum()
    entropy = float(-(p * np.log(p)).sum() / math.log(task.n_classes)) if task.n_classes > 1 else 0.0
    out: dict[str, float | int] = {
        "n_train": int(len(y)),
        "n_test": int(len(task.y_test)),
        "n_features": int(math.prod(task.input_shape)),
        "n_classes": int(task.n_classes),
        "class_entropy": round(entropy, 4),
        "imbalance_ratio": round(float(present.min() / present.max()), 4),
        "majority_rate": round(float(present.max() / present.sum()), 4),
    }
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(y))[:LANDMARK_N]
    xs, ys = _features(task, task.x_train[idx]), y[idx]
    # classes with fewer members than folds cannot be stratified: leave them out of the landmark sample
    vals, cnt = np.unique(ys, return_counts=True)
    keep = np.isin(ys, vals[cnt >= 3])
    xs, ys = xs[keep], ys[keep]
    learners = {
        "lm_1nn": KNeighborsClassifier(1),
        "lm_naive_bayes": GaussianNB(),
        "lm_stump": DecisionTreeClassifier(max_depth=1, random_state=0),
        "lm_logreg": make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)),
    }
    for key, model in learners.items():
        if len(np.unique(ys)) < 2:
            out[key] = float("nan")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cv = StratifiedKFold(3, shuffle=True, random_state=0)
            out[key] = round(float(cross_val_score(model, xs, ys, cv=cv).mean()), 4)
    return out
