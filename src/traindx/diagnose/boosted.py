"""Gradient-boosted trees stored as plain arrays and evaluated with numpy alone.

scikit-learn's ``HistGradientBoostingClassifier`` handles a missing value natively: every split learns which
side NaN goes to, so a value a run does not log is never read as a small or large one. Its fitted trees are
flattened here into node arrays (feature, threshold, NaN side, children, leaf value), saved in an ``.npz`` read
with ``allow_pickle=False``, and evaluated exactly as scikit-learn's predictor does (``x <= threshold`` goes
left, NaN goes to the learned side). A sigmoid (Platt) map fitted on out-of-fold scores calibrates the result.

Example:
    >>> import numpy as np
    >>> from sklearn.ensemble import HistGradientBoostingClassifier
    >>> X = np.random.default_rng(0).random((300, 3)); X[::4, 1] = np.nan
    >>> y = (X[:, 0] > 0.5).astype(int)
    >>> hgb = HistGradientBoostingClassifier(max_iter=10).fit(X, y)
    >>> est = BoostedProbability(boosted_arrays(hgb))
    >>> bool(np.allclose(est.raw(X), hgb.decision_function(X)))
    True
"""

from __future__ import annotations

import numpy as np

ARRAYS = ("feature", "threshold", "nan_left", "left", "right", "value", "roots", "baseline")


def boosted_arrays(hgb) -> dict[str, np.ndarray]:
    """Flat node arrays of a fitted binary ``HistGradientBoostingClassifier`` (leaves point to themselves)."""
    if getattr(hgb, "is_categorical_", None) is not None and np.any(hgb.is_categorical_):
        raise ValueError("categorical splits cannot be stored as arrays; encode categories as numbers")
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("feature", "threshold", "nan_left", "left", "right", "value")
    }
    roots, offset = [], 0
    for (pred,) in hgb._predictors:  # one tree per iteration for a binary target
        nodes = pred.nodes
        ids = np.arange(len(nodes))
        leaf = nodes["is_leaf"].astype(bool)
        parts["feature"].append(np.where(leaf, 0, nodes["feature_idx"]).astype(np.int16))
        parts["threshold"].append(np.where(leaf, np.inf, nodes["num_threshold"]).astype(np.float64))
        parts["nan_left"].append(nodes["missing_go_to_left"].astype(bool))
        parts["left"].append((np.where(leaf, ids, nodes["left"]) + offset).astype(np.int32))
        parts["right"].append((np.where(leaf, ids, nodes["right"]) + offset).astype(np.int32))
        parts["value"].append(np.where(leaf, nodes["value"], 0.0).astype(np.float64))
        roots.append(offset)
        offset += len(nodes)
    out = {k: np.concatenate(v) for k, v in parts.items()}
    out["roots"] = np.asarray(roots, dtype=np.int32)
    out["baseline"] = np.asarray(hgb._baseline_prediction, dtype=np.float64).reshape(1)
    return out


class BoostedProbability:
    """``predict_proba`` of one label's boosted trees from their node arrays, with an optional sigmoid map.

    ``calibration`` is ``(a, b)``: P = 1 / (1 + exp(a * raw + b)) on the trees' raw score; ``None`` gives the
    trees' own probability (the logistic of the raw score).
    """

    def __init__(self, arrays: dict[str, np.ndarray], calibration: tuple[float, float] | None = None) -> None:
        for key in ARRAYS:
            setattr(self, key, arrays[key])
        self.calibration = calibration

    def raw(self, X: np.ndarray) -> np.ndarray:
        """Sum of leaf values over the trees plus the baseline (scikit-learn's ``decision_function``)."""
        X = np.asarray(X, dtype=np.float64)
        n, n_trees = len(X), len(self.roots)
        rows = np.tile(np.arange(n), n_trees)
        node = np.repeat(self.roots, n)
        pos = np.arange(len(node))
        leaf = np.empty_like(node)
        is_leaf = self.left == np.arange(len(self.left))
        # every (tree, row) pair steps down at once; pairs that reached a leaf leave the active set
        while len(node):
            done = is_leaf[node]
            if done.any():
                leaf[pos[done]] = node[done]
                keep = ~done
                node, rows, pos = node[keep], rows[keep], pos[keep]
                if not len(node):
                    break
            x = X[rows, self.feature[node]]
            go_left = np.where(np.isnan(x), self.nan_left[node], x <= self.threshold[node])
            node = np.where(go_left, self.left[node], self.right[node])
        return self.value[leaf].reshape(n_trees, n).sum(axis=0) + self.baseline[0]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, 2) array of [P(0), P(1)]."""
        r = self.raw(X)
        if self.calibration is None:
            p = 1.0 / (1.0 + np.exp(-r))
        else:
            a, b = self.calibration
            p = 1.0 / (1.0 + np.exp(a * r + b))
        return np.column_stack([1.0 - p, p])
