"""A fitted random-forest :class:`CurveDiagnoser` stored as plain data: arrays in an ``.npz``, facts in JSON.

The shipped default diagnoser is such a pair of files (``traindx/data/models/``). Nothing in them is code: the
``.npz`` is read with ``allow_pickle=False`` and the JSON with :mod:`json`, so a tampered file can give wrong
answers but cannot run anything. Each label's forest is kept as flat node arrays (children, split feature,
threshold, leaf probability) and is evaluated by :class:`ForestProbability` with numpy alone, so a diagnosis
needs neither scikit-learn's fit nor its pickles.

The arrays reproduce scikit-learn's predictions exactly: its trees compare ``float32`` inputs with ``float64``
thresholds, and for a ``float32`` input ``x <= t`` holds exactly when ``x <= t32``, where ``t32`` is the largest
``float32`` not above ``t``; that is the threshold stored.

Example:
    >>> import numpy as np, pandas as pd, tempfile, pathlib
    >>> from traindx.curves import rule_labels
    >>> from traindx.diagnose import CurveDiagnoser
    >>> rows = [(f"r{i}", e, min(1.0, 0.5 + 0.05 * e * (i % 3)), 0.5 + 0.01 * e) for i in range(12)
    ...         for e in (1, 2, 3)]
    >>> curves = pd.DataFrame(rows, columns=["run_id", "epoch", "train_acc", "val_acc"])
    >>> diag = CurveDiagnoser(n_estimators=5, cv=2).fit(curves, rule_labels(curves))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "diag"
    >>> _ = save_diagnoser(diag, path, meta={"note": "example"})
    >>> loaded, meta = load_diagnoser(path)
    >>> bool(np.allclose(loaded.predict_proba_frame(curves), diag.predict_proba_frame(curves)))
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from traindx.diagnose.fitted import FittedDiagnoser
from traindx.diagnose.model_pair import read_pair_arrays, read_pair_facts, write_pair
from traindx.errors import InputError

FORMAT = "traindx-forest-diagnoser/1"
#: the value :func:`traindx.diagnose.curve_diagnoser.make_model` fills a missing feature with
FILL_VALUE = -1.0
_ARRAYS = ("left", "right", "feature", "threshold", "p1", "roots", "importances")


class ForestProbability:
    """``predict_proba`` of one label's calibrated forest, from its node arrays (numpy only).

    ``calibration`` is ``(a, b)`` of a sigmoid calibration (P = 1 / (1 + exp(a * f + b)) on the forest's mean
    leaf probability ``f``), or ``None`` for the raw forest.
    """

    def __init__(self, arrays: dict[str, np.ndarray], calibration: tuple[float, float] | None) -> None:
        self.left = arrays["left"]
        self.right = arrays["right"]
        self.feature = arrays["feature"]
        self.threshold = arrays["threshold"]
        self.p1 = arrays["p1"]
        self.roots = arrays["roots"]
        self.feature_importances_ = arrays["importances"]
        self.calibration = calibration

    def forest_proba(self, Xv: np.ndarray) -> np.ndarray:
        """Mean leaf probability of class 1 over the trees (scikit-learn's ``RandomForestClassifier``)."""
        X = np.where(np.isnan(Xv), FILL_VALUE, Xv).astype(np.float32)
        n = len(X)
        n_trees = len(self.roots)
        rows = np.tile(np.arange(n), n_trees)
        node = np.repeat(self.roots, n)
        leaf = np.empty_like(node)
        pos = np.arange(len(node))
        # walk every (tree, row) pair down at once; pairs that reached a leaf leave the active set
        while len(node):
            at_leaf = self.left[node] == node
            if at_leaf.any():
                leaf[pos[at_leaf]] = node[at_leaf]
                keep = ~at_leaf
                node, rows, pos = node[keep], rows[keep], pos[keep]
                if not len(node):
                    break
            go_left = X[rows, self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        return self.p1[leaf].reshape(n_trees, n).mean(axis=0)

    def predict_proba(self, Xv: np.ndarray) -> np.ndarray:
        """(n, 2) array of [P(0), P(1)] for the rows of ``Xv`` (features in the model's column order)."""
        f = self.forest_proba(np.asarray(Xv, dtype=float))
        if self.calibration is not None:
            a, b = self.calibration
            f = 1.0 / (1.0 + np.exp(a * f + b))
        return np.column_stack([1.0 - f, f])


def _forest_arrays(forest) -> dict[str, np.ndarray]:
    """Flat node arrays of a fitted ``RandomForestClassifier`` (global node ids, leaves point to themselves)."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("left", "right", "feature", "threshold", "p1")}
    roots, offset = [], 0
    for est in forest.estimators_:
        tree = est.tree_
        ids = np.arange(tree.node_count)
        is_leaf = tree.children_left < 0
        parts["left"].append(np.where(is_leaf, ids, tree.children_left) + offset)
        parts["right"].append(np.where(is_leaf, ids, tree.children_right) + offset)
        parts["feature"].append(np.where(is_leaf, 0, tree.feature))
        thr = tree.threshold.astype(np.float32)
        thr = np.where(thr > tree.threshold, np.nextafter(thr, np.float32(-np.inf)), thr)
        parts["threshold"].append(np.where(is_leaf, np.float32(np.inf), thr).astype(np.float32))
        value = tree.value[:, 0, :]
        if value.shape[1] == 1:  # a bootstrap sample held one class: the tree predicts it everywhere
            cls = est.classes_[0] if hasattr(est, "classes_") else 0
            parts["p1"].append(np.full(tree.node_count, float(cls == 1)))
        else:
            parts["p1"].append(value[:, 1] / value.sum(axis=1))
        roots.append(offset)
        offset += tree.node_count
    out = {k: np.concatenate(v) for k, v in parts.items()}
    out["left"] = out["left"].astype(np.int32)
    out["right"] = out["right"].astype(np.int32)
    out["feature"] = out["feature"].astype(np.int16)
    out["p1"] = out["p1"].astype(np.float64)
    out["roots"] = np.asarray(roots, dtype=np.int32)
    out["importances"] = np.asarray(forest.feature_importances_, dtype=np.float64)
    return out


def _unpack(est) -> tuple[Any, tuple[float, float] | None]:
    """(forest, sigmoid (a, b) or None) of one fitted label model of ``CurveDiagnoser(model="rf")``."""
    calibration = None
    if hasattr(est, "calibrated_classifiers_"):
        if len(est.calibrated_classifiers_) != 1:
            raise InputError("only CalibratedClassifierCV(ensemble=False) forests can be saved as data")
        cc = est.calibrated_classifiers_[0]
        cal = cc.calibrators[0]
        if not hasattr(cal, "a_"):
            raise InputError("only sigmoid-calibrated (or uncalibrated) forests can be saved as data")
        calibration = (float(cal.a_), float(cal.b_))
        est = cc.estimator
    forest = est.steps[-1][1] if hasattr(est, "steps") else est
    if type(forest).__name__ != "RandomForestClassifier":
        raise InputError(f"only random-forest diagnosers can be saved as data, not {type(forest).__name__}")
    return forest, calibration


def save_diagnoser(diag, path: str | Path, meta: dict | None = None) -> tuple[Path, Path]:
    """Write a fitted :class:`~traindx.diagnose.curve_diagnoser.CurveDiagnoser` (``model="rf"``) to ``path.npz`` (arrays) and ``path.json`` (facts).

    ``meta`` (JSON-serialisable) is stored beside the model, e.g. the version and corpus it was fitted on.
    """
    if not hasattr(diag, "labels_"):
        raise InputError("the CurveDiagnoser is not fitted; call .fit(curves, y) before saving it")
    if diag.model != "rf":
        raise InputError(f"only model='rf' diagnosers can be saved as data, not {diag.model!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    calibration: dict[str, list[float] | None] = {}
    for i, label in enumerate(diag.labels_):
        if label in diag.constant_:
            continue
        forest, cal = _unpack(diag.estimators_[label])
        calibration[label] = None if cal is None else list(cal)
        for key, arr in _forest_arrays(forest).items():
            arrays[f"{i}_{key}"] = arr
    facts = {
        "format": FORMAT,
        "params": diag.get_params(),
        "labels": list(diag.labels_),
        "constant": {k: int(v) for k, v in diag.constant_.items()},
        "calibration": calibration,
        "feature_names": [str(f) for f in diag.feature_names_in_],
        "feature_medians": [float(v) for v in diag.feature_medians_],
        "meta": meta or {},
    }
    return write_pair(path, arrays, facts)


def read_facts(path: str | Path) -> dict:
    """The JSON half of a saved diagnoser (format, labels, features, and the ``meta`` it was saved with)."""
    return read_pair_facts(path, FORMAT, "rebuild it or refit")


def load_diagnoser(path: str | Path) -> tuple[FittedDiagnoser, dict]:
    """Read a diagnoser written by :func:`save_diagnoser`; return it and its ``meta``.

    The returned :class:`~traindx.diagnose.fitted.FittedDiagnoser` predicts exactly as the saved one did;
    to refit, build a new ``CurveDiagnoser(**diag.get_params())``.
    """
    facts = read_facts(path)
    arrays = read_pair_arrays(path)
    npz = Path(path).with_suffix(".npz")
    diag = FittedDiagnoser(**facts["params"])
    diag.labels_ = list(facts["labels"])
    diag.feature_names_in_ = np.asarray(facts["feature_names"], dtype=object)
    diag.n_features_in_ = len(diag.feature_names_in_)
    diag.feature_medians_ = np.asarray(facts["feature_medians"], dtype=float)
    diag.classes_ = [np.array([0, 1])] * len(diag.labels_)
    diag.constant_ = {k: int(v) for k, v in facts["constant"].items()}
    diag.estimators_ = {}
    for i, label in enumerate(diag.labels_):
        if label in diag.constant_:
            continue
        try:
            parts = {key: arrays[f"{i}_{key}"] for key in _ARRAYS}
        except KeyError as exc:
            raise InputError(f"{npz} lacks the arrays of label {label!r}; rebuild it") from exc
        cal = facts["calibration"].get(label)
        diag.estimators_[label] = ForestProbability(parts, None if cal is None else (cal[0], cal[1]))
    return diag, facts["meta"]
