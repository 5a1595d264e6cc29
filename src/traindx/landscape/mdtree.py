"""MD tree: which knob to turn, read from loss-landscape metrics (Zhou et al., ICML 2024, arXiv 2406.16988).

Three questions, each a column of the released model-diagnosis tables (rows labelled ``optimal`` are dropped):

- ``"batch_size"`` (label ``bs_failure``): is the temperature (learning rate / batch size) too *small* (the
  batch is too large) or too *large*?
- ``"width_vs_batch"``: would widening the model or changing the batch size help more?
- ``"data_vs_batch"``: would more data or changing the batch size help more? (rows with width >= 32, as in the
  paper; in a collection with a ``width_level`` column, the rows above the narrowest level of each family.)

Variants:

- ``"paper"``: the paper's fixed tree structures (repository YefanZhou/ModelDiagnosis, ``method/md_tree.py``)
  with thresholds fitted by one pass of coordinate-wise bounded scalar search maximising training accuracy, from
  the paper's start points and bounds (``bounds="paper"``, the default; with ``bounds="auto"`` the
  ``hessian_t`` thresholds search that feature's 5-95% range instead where the paper's bounds hold less than
  half of the training rows' values. The default was chosen by transfer on our landscape collection: leaving
  one task out, the paper's bounds score as well or better on all three questions, benchmarks/RESULTS.md).
  Thresholds stay in the data's units: ``train_error`` in % (the paper's
  bound ``[0, 1]`` applied to the released %-column: the split separates near-interpolating models),
  ``mode_connectivity_peak`` in -% and ``hessian_t`` in log units.
- ``"learned"``: gradient boosting (Friedman 2001) of 50 depth-2 trees with leaves of >= 20 rows (the leaf
  size scikit-learn's HistGradientBoosting uses by default) on the training error and all four landscape
  metrics (it can use CKA and the top eigenvalue, which the fixed structures ignore). Averaging many small
  trees smooths the thresholds, which transfer better across cells than one tree's hard cuts.
- ``"learned_tree"``: one CART tree of depth 3 with leaves of >= 20 rows on the same five features: a
  learned structure as readable as the paper's.
- ``"validation"``: the paper's baseline, a depth-4 CART tree on train/test loss and error.

Every fitted model is stored as plain trees of nodes (feature, threshold, children), saved as JSON, never pickled;
a row with a missing feature (e.g. no second seed for mode connectivity) follows the branch most training rows
took at that node.

Example:
    >>> import pandas as pd
    >>> df = pd.read_csv("../shared/data/mdtree/dataframe_normal_public.csv")  # doctest: +SKIP
    >>> tree = MDTree("batch_size").fit(df)  # doctest: +SKIP
    >>> tree.predict(df.head(2)).tolist()  # doctest: +SKIP
    ['large', 'large']
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from traindx.errors import InputError
from traindx.landscape.io import validate_model_diagnosis_frame

QUESTIONS = {"batch_size": "bs_failure", "width_vs_batch": "width_vs_batch", "data_vs_batch": "data_vs_batch"}
VARIANTS = ("paper", "learned", "learned_tree", "validation")

# The paper's structures: ("split", feature, threshold slot, left (<=), right (>)) or a label.
_TE, _MC, _HT = "train_error", "mode_connectivity_peak", "hessian_t"
PAPER_TREES = {
    "batch_size": {
        "tree": ("split", _TE, 0, "small", ("split", _MC, 1, ("split", _HT, 2, "large", "small"), "large")),
        "start": [0.5, -10.0, 7.0],
        "bounds": [(0.0, 1.0), (-30.0, 0.0), (4.0, 9.0)],
    },
    "width_vs_batch": {
        "tree": ("split", _TE, 0, ("split", _MC, 1, "width", "batch"), ("split", _MC, 2, "width", "batch")),
        "start": [0.5, -10.0, -10.0],
        "bounds": [(0.0, 1.0), (-30.0, 0.0), (-30.0, 0.0)],
    },
    "data_vs_batch": {
        "tree": (
            "split", _TE, 0,
            ("split", _MC, 1, ("split", _HT, 4, "data", "batch"), ("split", _HT, 2, "data", "batch")),
            ("split", _MC, 3, "batch", ("split", _HT, 5, "data", "batch")),
        ),
        "start": [0.5, -10.0, 7.0, -10.0, 7.0, 7.0],
        "bounds": [(0.0, 1.0), (-30.0, 0.0), (4.0, 9.0), (-30.0, 0.0), (4.0, 9.0), (4.0, 9.0)],
    },
}  # fmt: skip
# metrics whose training range a fitted tree keeps, to warn when a diagnosed model lies outside it
RANGE_FEATURES = ("train_error", "test_error", "train_loss", "test_loss", "CKA", "hessian_e", "hessian_t",
                  "mode_connectivity_peak")  # fmt: skip
LEARNED_FEATURES = ("train_error", "mode_connectivity_peak", "hessian_t", "hessian_e", "CKA")
VALIDATION_FEATURES = ("train_error", "train_loss", "test_loss", "test_error")

ADVICE = {
    (
        "bs_failure",
        "small",
    ): "the temperature (learning rate / batch size) is too small: decrease the batch size "
    "or raise the learning rate",
    (
        "bs_failure",
        "large",
    ): "the temperature (learning rate / batch size) is too large: increase the batch size "
    "or lower the learning rate",
    (
        "width_vs_batch",
        "width",
    ): "the model is too small: increasing the width helps more than retuning the batch size",
    ("width_vs_batch", "batch"): "retuning the batch size helps more than widening the model",
    ("data_vs_batch", "data"): "more training data helps more than retuning the batch size",
    ("data_vs_batch", "batch"): "retuning the batch size helps more than adding data",
}
FEATURE_WORDS = {
    "train_error": "training error (%)",
    "test_error": "test error (%)",
    "train_loss": "training loss",
    "test_loss": "test loss",
    "mode_connectivity_peak": "mode connectivity (minus peak training error % between seeds)",
    "hessian_t": "log Hessian trace",
    "hessian_e": "log top Hessian eigenvalue",
    "CKA": "CKA similarity between seeds",
}


def question_rows(df: pd.DataFrame, question: str) -> pd.DataFrame:
    """The rows a question is asked on: labelled (not ``optimal``), and width >= 32 for ``data_vs_batch``.

    Example:
        >>> frame = pd.DataFrame({"bs_failure": ["small", "optimal", "large"]})
        >>> len(question_rows(frame, "batch_size"))
        2
    """
    label = _label(question)
    if label not in df.columns:
        raise InputError(f"the table has no {label!r} label column; add it or choose another question")
    out = df[df[label].notna() & (df[label].astype(str) != "optimal")]
    if question == "data_vs_batch" and "width_level" in out.columns:
        # a multi-model collection ranks widths within each model family: all but the narrowest level
        out = out[out["width_level"] >= 1]
    elif question == "data_vs_batch" and "width" in out.columns:
        # the paper asks the data question only of models wide enough to use more data
        out = out[out["width"] >= 32]
    return out


def _label(question: str) -> str:
    if question not in QUESTIONS:
        raise InputError(f"unknown question {question!r}; use one of {list(QUESTIONS)}")
    return QUESTIONS[question]


class MDTree:
    """Model-diagnosis tree for one question (scikit-learn style: ``fit(df)``, ``predict(df)``).

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"train_error": [0.0, 0.1, 5, 6, 7, 8], "test_error": [20.0] * 6,
        ...     "train_loss": [0.1] * 6, "test_loss": [1.0] * 6, "CKA": [0.5] * 6,
        ...     "hessian_e": [3.0] * 6, "hessian_t": [5.0, 5, 5, 8, 8, 8],
        ...     "mode_connectivity_peak": [-1.0, -1, -20, -20, -20, -2],
        ...     "bs_failure": ["small", "small", "large", "small", "small", "large"]})
        >>> MDTree("batch_size").fit(df).predict(df).tolist()
        ['small', 'small', 'large', 'small', 'small', 'large']
    """

    def __init__(
        self,
        question: str = "batch_size",
        variant: str = "paper",
        random_state: int = 0,
        bounds: str = "paper",
    ) -> None:
        self.question = question
        self.variant = variant
        self.random_state = random_state
        self.bounds = bounds

    # -- fitting ------------------------------------------------------------------------------------------
    def fit(self, df: pd.DataFrame, fitted_on: str = "") -> MDTree:
        """Fit thresholds (paper), boosted trees (learned) or a CART tree (validation) on labelled rows.

        ``fitted_on`` names the collection (kept in the saved tree and used in out-of-range warnings); the
        range of every metric over the training rows is kept too (:meth:`out_of_range`).
        """
        label = _label(self.question)
        if self.variant not in VARIANTS:
            raise InputError(f"unknown variant {self.variant!r}; use one of {list(VARIANTS)}")
        rows = question_rows(validate_model_diagnosis_frame(df), self.question)
        if len(rows) < 2 or rows[label].nunique() < 2:
            raise InputError(
                f"need labelled rows of both classes for {label!r} to fit; got {len(rows)} rows with labels "
                f"{sorted(rows[label].unique().tolist())}"
            )
        if self.variant != "paper":
            # learned structures need every feature: rows with a missing one (a collapsed or diverged model, no
            # second seed) are left out of the fit; the paper's structure routes them by its defaults instead
            feats = list(VALIDATION_FEATURES if self.variant == "validation" else LEARNED_FEATURES)
            complete = rows[feats].notna().all(axis=1)
            self.n_left_out_ = int((~complete).sum())
            rows = rows[complete]
            if len(rows) < 2 or rows[label].nunique() < 2:
                raise InputError(
                    f"only {len(rows)} rows have all of {feats}; the {self.variant} variant needs complete rows "
                    "of both classes (fill the missing metrics or use the paper variant)"
                )
        y = rows[label].astype(str).to_numpy()
        self.boost_ = None
        if self.variant == "paper":
            self.nodes_ = self._fit_paper(rows, y)
        elif self.variant == "learned":
            self.nodes_ = self._fit_boosted(rows, y, list(LEARNED_FEATURES))
        elif self.variant == "learned_tree":
            self.nodes_ = self._fit_cart(rows, y, list(LEARNED_FEATURES), depth=3, min_leaf=20)
        else:
            self.nodes_ = self._fit_cart(rows, y, list(VALIDATION_FEATURES))
        for tree in self._trees():
            _set_defaults(tree, rows)
        self.classes_ = np.unique(y)
        self.label_ = label
        self.n_train_ = len(rows)
        self.fitted_on_ = str(fitted_on)
        self.ranges_ = {
            c: [float(rows[c].min()), float(rows[c].max())]
            for c in RANGE_FEATURES
            if c in rows.columns and rows[c].notna().any()
        }
        self.train_accuracy_ = float(np.mean(self.predict(rows) == y))
        return self

    def _fit_paper(self, rows: pd.DataFrame, y: np.ndarray) -> list[dict]:
        from scipy.optimize import minimize_scalar

        spec = PAPER_TREES[self.question]
        if self.bounds not in ("auto", "paper"):
            raise InputError(f"unknown bounds {self.bounds!r}; use 'auto' or 'paper'")
        bounds, thresholds = list(spec["bounds"]), list(spec["start"])
        if self.bounds == "auto":
            # errors and the connectivity peak are in % for every classifier, but the log Hessian trace moves
            # with the model family (parameter count, curvature): where the paper's ResNet-18 bounds hold less
            # than half of the training rows' values, search the trace's 5-95% range, from its median
            for slot, feature in _slot_features(spec["tree"]).items():
                if feature != _HT:
                    continue
                values = rows[feature].dropna().to_numpy(dtype=float)
                lo, hi = bounds[slot]
                if len(values) and np.mean((values >= lo) & (values <= hi)) < 0.5:
                    q5, q50, q95 = np.quantile(values, [0.05, 0.5, 0.95])
                    if q95 > q5:
                        bounds[slot], thresholds[slot] = (float(q5), float(q95)), float(q50)
        self.bounds_ = [list(b) for b in bounds]

        def accuracy(value: float, slot: int) -> float:
            trial = list(thresholds)
            trial[slot] = value
            nodes = _build(spec["tree"], trial)
            return float(np.mean(_walk_all(nodes, rows) == y))

        # one coordinate-wise pass, as in the paper: each threshold in turn, the others fixed
        for slot, (lo, hi) in enumerate(bounds):
            res = minimize_scalar(lambda v, s=slot: -accuracy(v, s), method="bounded", bounds=(lo, hi))
            thresholds[slot] = float(res.x)
        self.thresholds_ = thresholds
        return _build(spec["tree"], thresholds)

    def _fit_cart(
        self, rows: pd.DataFrame, y: np.ndarray, feats: list[str], depth: int = 4, min_leaf: int = 1
    ) -> list[dict]:
        from sklearn.tree import DecisionTreeClassifier

        model = DecisionTreeClassifier(
            max_depth=depth, min_samples_leaf=min_leaf, random_state=self.random_state
        )
        model.fit(_matrix(rows, feats), y)
        return _export(model.tree_, feats, lambda v: str(model.classes_[int(np.argmax(v[0]))]))

    def _fit_boosted(self, rows: pd.DataFrame, y: np.ndarray, feats: list[str]) -> list[dict]:
        from sklearn.ensemble import GradientBoostingClassifier

        model = GradientBoostingClassifier(
            n_estimators=50,
            max_depth=2,
            min_samples_leaf=20,
            learning_rate=0.1,
            random_state=self.random_state,
        )
        model.fit(_matrix(rows, feats), y)
        prior = float(np.mean(y == model.classes_[1]))
        self.boost_ = {
            "classes": [str(c) for c in model.classes_],
            "init": float(np.log(prior / (1 - prior))),  # log-odds of the prior: the model's starting score
            "learning_rate": model.learning_rate,
            "trees": [_export(est.tree_, feats, lambda v: float(v[0][0])) for est in model.estimators_[:, 0]],
        }
        return []

    def _trees(self) -> list[list[dict]]:
        return self.boost_["trees"] if getattr(self, "boost_", None) else [self.nodes_]

    # -- prediction ---------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "nodes_"):
            raise InputError("this MDTree is not fitted; call fit(df) or MDTree.load(path) first")

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Labels for each row (features missing from a row follow the training majority branch)."""
        self._check_fitted()
        needed = self.features()
        missing = [c for c in needed if c not in df.columns]
        if missing:
            raise InputError(f"rows lack columns {missing}; this tree needs {needed} (NaN is allowed)")
        if getattr(self, "boost_", None):
            score = self._score(df)
            return np.where(score > 0, self.boost_["classes"][1], self.boost_["classes"][0])
        return _walk_all(self.nodes_, df)

    def _score(self, df: pd.DataFrame) -> np.ndarray:
        b = self.boost_
        score = np.full(len(df), b["init"])
        for tree in b["trees"]:
            score += b["learning_rate"] * _walk_all(tree, df, numeric=True)
        return score

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """Class probabilities (columns in ``classes_`` order); 0/1 for the single-tree variants."""
        self._check_fitted()
        if getattr(self, "boost_", None):
            p1 = 1 / (1 + np.exp(-self._score(df)))
            return np.c_[1 - p1, p1]
        labels = self.predict(df)
        return np.stack([(labels == c).astype(float) for c in self.classes_], axis=1)

    def features(self) -> list[str]:
        """Features the fitted tree reads."""
        self._check_fitted()
        return sorted({n["feature"] for tree in self._trees() for n in tree if "feature" in n})

    def out_of_range(self, row) -> list[str]:
        """One sentence for each measured metric of ``row`` outside the range of the tree's training rows.

        Thresholds learned on one range of a metric say nothing about values beyond it, so a diagnosis built
        on such a value is an extrapolation.

        Example:
            >>> tree = MDTree.from_dict({"question": "batch_size", "nodes": [{"label": "small"}],
            ...     "ranges": {"hessian_t": [2.0, 9.0]}, "fitted_on": "demo"})
            >>> tree.out_of_range({"hessian_t": 12.5})
            ['log Hessian trace = 12.5 is above the range the tree was fitted on (2 to 9, demo)']
        """
        self._check_fitted()
        out = []
        where = f", {self.fitted_on_}" if getattr(self, "fitted_on_", "") else ""
        for feature, (lo, hi) in getattr(self, "ranges_", {}).items():
            value = dict(row).get(feature)
            if value is None or pd.isna(value):
                continue
            side = "below" if float(value) < lo else "above" if float(value) > hi else ""
            if side:
                out.append(
                    f"{FEATURE_WORDS.get(feature, feature)} = {float(value):.3g} is {side} the range the tree "
                    f"was fitted on ({lo:.3g} to {hi:.3g}{where})"
                )
        return out

    def explain(self, row) -> list[str]:
        """The decision path for one row (dict or Series) in words, ending with the diagnosis and advice.

        Example:
            >>> tree = MDTree.from_dict({"question": "batch_size", "variant": "paper", "nodes": [
            ...     {"feature": "train_error", "threshold": 0.5, "left": 1, "right": 2, "default": "right"},
            ...     {"label": "small"}, {"label": "large"}]})
            >>> tree.explain({"train_error": 3.0})[0]
            'training error (%) = 3 > 0.5'
        """
        self._check_fitted()
        row = dict(row)
        if getattr(self, "boost_", None):
            return self._explain_boosted(row)
        lines, i = [], 0
        while "label" not in self.nodes_[i]:
            n = self.nodes_[i]
            name = FEATURE_WORDS.get(n["feature"], n["feature"])
            value = row.get(n["feature"], float("nan"))
            if value is None or (isinstance(value, float) and np.isnan(value)):
                go_left = n.get("default", "left") == "left"
                side = "<=" if go_left else ">"
                lines.append(
                    f"{name} not measured: taking the branch most training models took ({side} {n['threshold']:.3g})"
                )
            else:
                go_left = float(value) <= n["threshold"]
                lines.append(f"{name} = {float(value):.3g} {'<=' if go_left else '>'} {n['threshold']:.3g}")
            i = n["left"] if go_left else n["right"]
        label = self.nodes_[i]["label"]
        lines.append(f"diagnosis: {_label(self.question)} = {label}")
        lines.append(f"advice: {ADVICE.get((_label(self.question), label), label)}")
        return lines

    def _explain_boosted(self, row: dict) -> list[str]:
        frame = pd.DataFrame([{f: row.get(f, np.nan) for f in self.features()}])
        proba = self.predict_proba(frame)[0]
        label = self.predict(frame)[0]
        lines = [
            f"{FEATURE_WORDS.get(f, f)} = "
            + (
                "not measured (trees take their training majority branch)"
                if pd.isna(v)
                else f"{float(v):.3g}"
            )
            for f, v in frame.iloc[0].items()
        ]
        lines.append(
            f"{len(self.boost_['trees'])} boosted depth-2 trees: P({label}) = {max(proba):.2f} "
            f"(of {' / '.join(self.boost_['classes'])})"
        )
        lines.append(f"diagnosis: {_label(self.question)} = {label}")
        lines.append(f"advice: {ADVICE.get((_label(self.question), label), label)}")
        return lines

    # -- persistence (JSON, never pickle) -----------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-able description of the fitted tree."""
        self._check_fitted()
        out = {"question": self.question, "variant": self.variant, "nodes": self.nodes_}
        if getattr(self, "boost_", None):
            out["boost"] = self.boost_
        for key in ("thresholds_", "n_train_", "train_accuracy_", "ranges_", "fitted_on_"):
            if hasattr(self, key):
                out[key.rstrip("_")] = getattr(self, key)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> MDTree:
        """Rebuild a fitted tree from :meth:`to_dict` output, validating its nodes.

        Each tree must be a tree: every node reached once from node 0 (no cycle, no shared child), at most
        :data:`MAX_NODES` nodes and :data:`MAX_TREES` boosted trees, so a crafted file cannot loop or
        exhaust memory.
        """
        try:
            if not isinstance(data, dict):
                raise TypeError(f"expected a JSON object, got {type(data).__name__}")
            tree = cls(question=data["question"], variant=data.get("variant", "paper"))
            nodes = data["nodes"]
            boost = data.get("boost")
            _label(tree.question)
            trees = boost["trees"] if boost else [nodes]
            if not isinstance(trees, list) or not 1 <= len(trees) <= MAX_TREES:
                raise ValueError(f"expected 1 to {MAX_TREES} trees")
            for t in trees:
                _check_nodes(t)
            if boost:
                float(boost["init"]), float(boost["learning_rate"]), boost["classes"][1]
            ranges = data.get("ranges", {})
            if not isinstance(ranges, dict) or len(ranges) > len(FEATURE_WORDS):
                raise ValueError("ranges must map at most a few metric names to [low, high]")
            ranges = {str(k): [float(v[0]), float(v[1])] for k, v in ranges.items()}
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise InputError(f"not a valid MD tree description ({exc}); write it with MDTree.save") from exc
        tree.nodes_ = nodes
        tree.boost_ = boost
        tree.label_ = _label(tree.question)
        tree.classes_ = (
            np.array(boost["classes"]) if boost else np.unique([n["label"] for n in nodes if "label" in n])
        )
        if "thresholds" in data:
            tree.thresholds_ = list(data["thresholds"])
        tree.ranges_ = ranges
        tree.fitted_on_ = str(data.get("fitted_on", ""))
        return tree

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted tree as JSON."""
        p = Path(path)
        p.write_text(json.dumps(self.to_dict(), indent=2))
        return p

    @classmethod
    def load(cls, path: str | os.PathLike) -> MDTree:
        """Read a tree written by :meth:`save`."""
        p = Path(path)
        if not p.is_file():
            raise InputError(f"no such tree file: {p}; create one with `traindx mdtree fit`")
        if p.stat().st_size > MAX_FILE_BYTES:
            raise InputError(
                f"{p} is over {MAX_FILE_BYTES >> 20} MB, far larger than any MD tree; check the path"
            )
        try:
            data = json.loads(p.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise InputError(f"{p} is not UTF-8 JSON ({exc}); create it with `traindx mdtree fit`") from exc
        return cls.from_dict(data)


# Bounds on a tree file: the shipped trees have a handful of nodes and the learned variant a few hundred
# depth-2 trees; these limits are orders of magnitude above that and still load in well under a second.
MAX_NODES = 100_000
MAX_TREES = 10_000
MAX_FILE_BYTES = 64 << 20


def _check_nodes(nodes) -> None:
    """Raise ValueError unless ``nodes`` is a tree: splits with a number threshold and two in-range children,
    leaves with a label or value, every node reached exactly once from node 0."""
    if not isinstance(nodes, list) or not 1 <= len(nodes) <= MAX_NODES:
        raise ValueError(f"a tree needs 1 to {MAX_NODES} nodes")
    for n in nodes:
        if not isinstance(n, dict):
            raise TypeError("a node is not a JSON object")
        if "feature" in n:
            if not isinstance(n["feature"], str):
                raise TypeError("a split's feature is not a name")
            float(n["threshold"])
            for side in ("left", "right"):
                child = n[side]
                if isinstance(child, bool) or not isinstance(child, int) or not 0 <= child < len(nodes):
                    raise ValueError(f"child index {child!r} out of range")
        elif "label" not in n and "value" not in n:
            raise ValueError("a node has neither a split nor a leaf value")
    seen = [False] * len(nodes)
    todo = [0]
    while todo:
        i = todo.pop()
        if seen[i]:
            raise ValueError(f"node {i} is reached twice: the nodes form a cycle or share a child")
        seen[i] = True
        if "feature" in nodes[i]:
            todo += [nodes[i]["left"], nodes[i]["right"]]


def _slot_features(spec) -> dict[int, str]:
    """Threshold slot -> the feature it splits, for a paper structure."""
    if isinstance(spec, str):
        return {}
    _, feature, slot, left, right = spec
    return {slot: feature, **_slot_features(left), **_slot_features(right)}


def _build(spec, thresholds: list[float]) -> list[dict]:
    nodes: list[dict] = []

    def add(s) -> int:
        idx = len(nodes)
        if isinstance(s, str):
            nodes.append({"label": s})
            return idx
        _, feature, slot, left, right = s
        nodes.append({"feature": feature, "threshold": float(thresholds[slot])})
        nodes[idx]["left"] = add(left)
        nodes[idx]["right"] = add(right)
        return idx

    add(spec)
    return nodes


def _matrix(rows: pd.DataFrame, feats: list[str]) -> np.ndarray:
    data = rows[feats]
    if data.isna().any().any():
        raise InputError(f"columns {feats} have missing values in the training rows; drop or fill them")
    return data.to_numpy(dtype=float)


def _export(t, feats: list[str], leaf) -> list[dict]:
    """scikit-learn tree arrays -> plain nodes; ``leaf`` maps a node's value array to its label or score."""
    nodes = []
    for i in range(t.node_count):
        if t.children_left[i] == -1:
            out = leaf(t.value[i])
            nodes.append({"label": out} if isinstance(out, str) else {"value": out})
        else:
            nodes.append(
                {
                    "feature": feats[t.feature[i]],
                    "threshold": float(t.threshold[i]),
                    "left": int(t.children_left[i]),
                    "right": int(t.children_right[i]),
                }
            )
    return nodes


def _set_defaults(nodes: list[dict], rows: pd.DataFrame) -> None:
    """Send a missing feature down the side most training rows took at each split."""
    counts = np.zeros((len(nodes), 2))
    stack = [(0, np.arange(len(rows)))]
    while stack:
        i, idx = stack.pop()
        n = nodes[i]
        if "feature" not in n:
            continue
        left = rows[n["feature"]].to_numpy(dtype=float)[idx] <= n["threshold"]
        counts[i] = left.sum(), (~left).sum()
        stack += [(n["left"], idx[left]), (n["right"], idx[~left])]
    for i, n in enumerate(nodes):
        if "feature" in n:
            n["default"] = "left" if counts[i, 0] >= counts[i, 1] else "right"


def _walk_all(nodes: list[dict], df: pd.DataFrame, numeric: bool = False) -> np.ndarray:
    """Vectorised descent: route index sets through the nodes; leaves give labels (or scores if numeric)."""
    out = np.zeros(len(df)) if numeric else np.empty(len(df), dtype=object)
    stack = [(0, np.arange(len(df)))]
    while stack:
        i, idx = stack.pop()
        if not len(idx):
            continue
        n = nodes[i]
        if "feature" not in n:
            out[idx] = n["value"] if numeric else n["label"]
            continue
        values = pd.to_numeric(df[n["feature"]], errors="coerce").to_numpy(dtype=float)[idx]
        left = values <= n["threshold"]
        missing = np.isnan(values)
        left[missing] = n.get("default", "left") == "left"
        stack.append((n["left"], idx[left]))
        stack.append((n["right"], idx[~left]))
    return out if numeric else out.astype(str)
