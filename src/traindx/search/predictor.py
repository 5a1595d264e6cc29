"""Predict a configuration's final validation accuracy from its configuration (and optionally a curve prefix).

Three meta-models: a random forest whose spread across trees is the predictive uncertainty (SMAC's surrogate,
Hutter et al. 2011), gradient boosting (LightGBM; uncertainty from out-of-fold residuals) and Bayesian ridge
regression (its posterior predictive std). With ``prefix=True`` the model also sees the validation accuracy of
epochs 1..k and learns from every prefix of every recorded run, so one model serves every k.

Example:
    >>> import pandas as pd
    >>> runs = pd.DataFrame({"run_id": ["a", "b", "c", "d"], "dataset": "digits", "model": "logreg",
    ...                      "lr": [1e-4, 1e-3, 1e-2, 1e-1]})
    >>> curves = pd.DataFrame({"run_id": list("abcd"), "epoch": 1, "val_acc": [0.3, 0.8, 0.9, 0.7]})
    >>> pred = PerformancePredictor(n_estimators=5, landmarkers=False).fit(runs, curves)
    >>> mean, std = pred.predict(runs, return_std=True)
    >>> mean.shape, bool((std >= 0).all())
    ((4,), True)
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin

from traindx.errors import InputError
from traindx.search.features import PREFIX_FEATURES, featurize_configs, prefix_features

MODELS = ("forest", "boosting", "linear")
TARGETS = ("final", "best")


def targets(curves: pd.DataFrame) -> pd.DataFrame:
    """Per run: ``final`` (validation accuracy at the last epoch), ``best`` (its maximum) and ``epochs``.

    Example:
        >>> c = pd.DataFrame({"run_id": ["r", "r"], "epoch": [1, 2], "val_acc": [0.9, 0.8]})
        >>> float(targets(c).loc["r", "best"])
        0.9
    """
    missing = {"run_id", "epoch", "val_acc"} - set(curves.columns)
    if missing:
        raise InputError(
            f"curve table lacks columns {sorted(missing)}; give the tidy table of RunStore.curves()"
        )
    c = curves.dropna(subset=["val_acc"]).sort_values(["run_id", "epoch"])
    if c.empty:
        raise InputError("curve table has no validation accuracy; record val_acc per epoch")
    g = c.groupby("run_id")["val_acc"]
    return pd.DataFrame({"final": g.last(), "best": g.max(), "epochs": g.size()})


# rows from which a forest's trees are walked on two threads (the tree walk releases the GIL); below it the
# threads cost more than they save
THREADED_ROWS = 100_000


def forest_mean_std(forest, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread across a fitted forest's trees (SMAC's uncertainty), as running sums.

    Running sums keep memory at O(n) when scoring millions of candidates; the trees are walked directly
    (the input converted once, not checked again per tree), on two threads for large inputs.
    """
    X = np.ascontiguousarray(X, dtype=np.float32)
    trees = forest.estimators_

    def sums(part) -> tuple[np.ndarray, np.ndarray]:
        mean, sq = np.zeros(len(X)), np.zeros(len(X))
        for tree in part:
            p = tree.tree_.predict(X)[:, 0]
            mean += p
            sq += p * p
        return mean, sq

    if len(X) >= THREADED_ROWS and len(trees) > 1 and (os.cpu_count() or 1) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:
            halves = list(pool.map(sums, (trees[0::2], trees[1::2])))
        mean, sq = halves[0][0] + halves[1][0], halves[0][1] + halves[1][1]
    else:
        mean, sq = sums(trees)
    n = len(trees)
    mean /= n
    return mean, np.sqrt(np.maximum(sq / n - mean**2, 0.0))


class PerformancePredictor(RegressorMixin, BaseEstimator):
    """Meta-model of final (or best) validation accuracy given a run configuration.

    Args:
        model: ``"forest"`` (random forest, SMAC-style), ``"boosting"`` (LightGBM) or ``"linear"`` (Bayesian ridge).
        n_estimators: trees of the forest (SMAC uses 10; keeps 1M-candidate scoring fast); boosting uses 10x.
        prefix: also condition on the validation-accuracy prefix (epochs 1..k).
        target: ``"final"`` (last-epoch validation accuracy) or ``"best"`` (maximum over epochs).
        landmarkers: add dataset landmarkers to the features (loads each dataset once).
        random_state: seed.

    Example:
        >>> PerformancePredictor(model="linear").get_params()["model"]
        'linear'
    """

    def __init__(
        self,
        model: str = "forest",
        n_estimators: int = 10,
        prefix: bool = False,
        target: str = "final",
        landmarkers: bool = True,
        random_state: int = 0,
    ) -> None:
        self.model = model
        self.n_estimators = n_estimators
        self.prefix = prefix
        self.target = target
        self.landmarkers = landmarkers
        self.random_state = random_state

    # --- fitting ---------------------------------------------------------------------------------------------
    def fit(
        self,
        runs: pd.DataFrame,
        curves: pd.DataFrame | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> PerformancePredictor:
        """Fit on a run table (config columns + ``run_id``) and its tidy curves.

        Without ``curves``, ``runs`` must carry the target as a column ``final_val_acc`` (or ``best_val_acc``),
        e.g. finished Optuna trials; a prefix model always needs curves.
        """
        if self.model not in MODELS:
            raise InputError(f"model must be one of {', '.join(MODELS)}, got {self.model!r}")
        if self.target not in TARGETS:
            raise InputError(f"target must be one of {', '.join(TARGETS)}, got {self.target!r}")
        if not isinstance(runs, pd.DataFrame) or runs.empty:
            raise InputError("runs must be a non-empty DataFrame of config columns (RunStore.runs())")
        runs = runs.reset_index(drop=True)
        w = np.ones(len(runs)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if len(w) != len(runs):
            raise InputError(f"sample_weight has {len(w)} values for {len(runs)} runs; give one per run")
        if curves is None:
            if self.prefix:
                raise InputError("a prefix predictor learns from curves; pass curves=RunStore.curves()")
            col = f"{self.target}_val_acc"
            if col not in runs:
                raise InputError(f"runs has no {col!r} column; pass curves or add the target column")
            y = pd.to_numeric(runs[col], errors="coerce").to_numpy(dtype=float)
            keep = ~np.isnan(y)
            X = featurize_configs(runs[keep], self.landmarkers)
            y, w = y[keep], w[keep]
        else:
            if "run_id" not in runs:
                raise InputError("runs has no 'run_id' column; it links runs to their curves")
            t = targets(curves)
            keep = runs["run_id"].isin(t.index).to_numpy()
            if not keep.any():
                raise InputError("no run in runs has a curve; runs and curves must share run_id values")
            runs, w = runs[keep].reset_index(drop=True), w[keep]
            y = t.loc[runs["run_id"], self.target].to_numpy(dtype=float)
            X = featurize_configs(runs, self.landmarkers)
            if self.prefix:
                X, y, w = self._prefix_rows(runs, curves, X, y, w)
        if len(y) < 2:
            raise InputError(f"need at least 2 runs with a known result to fit, got {len(y)}")
        self.estimator_ = self._make()
        self.estimator_.fit(X, y, **self._weight_kw(w))
        self.residual_std_ = self._residual_std(X, y, w)
        self.n_features_in_ = X.shape[1]
        return self

    def _prefix_rows(self, runs, curves, X, y, w):
        c = curves.dropna(subset=["val_acc"]).sort_values(["run_id", "epoch"])
        curve_of = {rid: g.to_numpy(dtype=float) for rid, g in c.groupby("run_id")["val_acc"]}
        rows, prefixes, totals = [], [], []
        for i, rid in enumerate(runs["run_id"]):
            acc = curve_of[rid]
            for k in range(1, len(acc) + 1):
                rows.append(i)
                prefixes.append(acc[:k])
                totals.append(len(acc))
        rows = np.asarray(rows)
        P = prefix_features(prefixes, np.asarray(totals))
        # learn the change still to come, not the level: trees cannot extrapolate a level they never saw
        return np.hstack([X[rows], P]), y[rows] - self._anchor(P), w[rows]

    def _anchor(self, P: np.ndarray) -> np.ndarray:
        return P[:, PREFIX_FEATURES.index("p_best" if self.target == "best" else "p_last")].astype(float)

    def _make(self):
        if self.model == "forest":
            from sklearn.ensemble import RandomForestRegressor

            # SMAC's settings: bootstrap, all features; a small leaf keeps batch prediction fast
            return RandomForestRegressor(
                n_estimators=self.n_estimators, min_samples_leaf=2, random_state=self.random_state, n_jobs=1
            )
        if self.model == "boosting":
            from lightgbm import LGBMRegressor

            return LGBMRegressor(
                n_estimators=self.n_estimators * 10,
                learning_rate=0.05,
                num_leaves=31,
                min_child_samples=5,
                subsample=0.8,
                subsample_freq=1,
                colsample_bytree=0.8,
                random_state=self.random_state,
                n_jobs=1,
                verbose=-1,
            )
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import BayesianRidge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        # an unknown task's meta-features are missing: the linear model reads them as the training mean
        return make_pipeline(SimpleImputer(keep_empty_features=True), StandardScaler(), BayesianRidge())

    def _weight_kw(self, w: np.ndarray) -> dict:
        if self.model == "linear":
            return {"bayesianridge__sample_weight": w}
        return {"sample_weight": w}

    def _residual_std(self, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
        if self.model != "boosting":
            return float("nan")
        from sklearn.base import clone
        from sklearn.model_selection import KFold

        resid = np.empty_like(y)
        folds = KFold(min(3, len(y)), shuffle=True, random_state=self.random_state)
        for train, test in folds.split(X):
            est = clone(self.estimator_).fit(X[train], y[train], sample_weight=w[train])
            resid[test] = y[test] - est.predict(X[test])
        return float(np.sqrt(np.mean(resid**2)))

    # --- prediction ------------------------------------------------------------------------------------------
    def predict(
        self,
        configs: pd.DataFrame,
        curves: pd.DataFrame | None = None,
        return_std: bool = False,
    ):
        """Predicted accuracy per config row (and its std with ``return_std=True``).

        A prefix predictor needs ``curves``: the epochs seen so far of each config's run, linked by ``run_id``.
        """
        self._check_fitted()
        X = featurize_configs(configs, self.landmarkers)
        if self.prefix:
            if curves is None or "run_id" not in configs:
                raise InputError(
                    "a prefix predictor needs curves and a run_id column in configs to link them"
                )
            c = curves.dropna(subset=["val_acc"]).sort_values(["run_id", "epoch"])
            curve_of = {rid: g.to_numpy(dtype=float) for rid, g in c.groupby("run_id")["val_acc"]}
            missing = [r for r in configs["run_id"] if r not in curve_of]
            if missing:
                raise InputError(
                    f"runs {missing[:3]} have no validation accuracy in curves; give epochs 1..k"
                )
            return self.predict_prefix(configs, [curve_of[r] for r in configs["run_id"]], return_std)
        return self._predict_matrix(X, return_std)

    def predict_prefix(self, configs: pd.DataFrame, prefixes: list[np.ndarray], return_std: bool = False):
        """Predict from configs and their validation-accuracy prefixes (one array of epochs 1..k per row).

        Example:
            >>> import pandas as pd
            >>> runs = pd.DataFrame({"run_id": ["a", "b"], "dataset": "digits", "epochs": 3})
            >>> curves = pd.DataFrame({"run_id": list("aaabbb"), "epoch": [1, 2, 3] * 2,
            ...                        "val_acc": [0.2, 0.4, 0.5, 0.6, 0.8, 0.9]})
            >>> p = PerformancePredictor(prefix=True, n_estimators=5, landmarkers=False).fit(runs, curves)
            >>> p.predict_prefix(runs.iloc[:1], [np.array([0.6, 0.8])]).shape
            (1,)
        """
        self._check_fitted()
        if not self.prefix:
            raise InputError(
                "this predictor was fitted without prefixes; use PerformancePredictor(prefix=True)"
            )
        if len(prefixes) != len(configs):
            raise InputError(f"got {len(prefixes)} prefixes for {len(configs)} configs; give one per config")
        X = featurize_configs(configs, self.landmarkers)
        epochs = pd.to_numeric(configs.get("epochs", pd.Series(26, index=configs.index)), errors="coerce")
        total = epochs.fillna(26).to_numpy(dtype=float)
        P = prefix_features([np.asarray(p, dtype=float) for p in prefixes], total)
        out = self._predict_matrix(np.hstack([X, P]), return_std)
        if return_std:
            return out[0] + self._anchor(P), out[1]
        return out + self._anchor(P)

    def _predict_matrix(self, X: np.ndarray, return_std: bool):
        est = self.estimator_
        if not return_std:
            return est.predict(X)
        if self.model == "forest":
            return forest_mean_std(est, X)
        if self.model == "boosting":
            return est.predict(X), np.full(len(X), self.residual_std_)
        scaled = est[:-1].transform(X)
        return est[-1].predict(scaled, return_std=True)

    def _check_fitted(self) -> None:
        if not hasattr(self, "estimator_"):
            raise InputError("this PerformancePredictor is not fitted yet; call fit(runs, curves) first")


def leave_task_out(
    runs: pd.DataFrame,
    curves: pd.DataFrame,
    predictor: PerformancePredictor | None = None,
    group: str = "dataset",
    level: float = 0.8,
) -> pd.DataFrame:
    """Fit on every task but one, predict the held-out task's runs; one row per task with the within-task
    ``spearman``, ``sparse_kendall`` (results rounded to 0.1% first, so ties count as ties) and ``coverage``
    (share of held-out results inside the central ``level`` interval of the predictive normal).

    The summary to report is the median over tasks: ``leave_task_out(...).median(numeric_only=True)``.

    Example:
        >>> runs = pd.DataFrame({"run_id": [f"r{i}" for i in range(12)], "dataset": ["digits", "moons"] * 6,
        ...                      "model": "logreg", "lr": np.repeat([1e-4, 1e-3, 1e-2, 1e-1, 3e-1, 1.0], 2)})
        >>> acc = [0.3, 0.5, 0.6, 0.7, 0.8, 0.8, 0.9, 0.85, 0.7, 0.6, 0.4, 0.3]
        >>> curves = pd.DataFrame({"run_id": runs["run_id"], "epoch": 1, "val_acc": acc})
        >>> table = leave_task_out(runs, curves, PerformancePredictor(n_estimators=5, landmarkers=False))
        >>> list(table.columns)
        ['task', 'n', 'spearman', 'sparse_kendall', 'coverage']
    """
    from scipy.stats import kendalltau, norm, spearmanr
    from sklearn.base import clone

    if group not in runs:
        raise InputError(f"runs has no {group!r} column; leave-task-out needs the task of every run")
    t = targets(curves)
    runs = runs[runs["run_id"].isin(t.index)].reset_index(drop=True)
    tasks = sorted(runs[group].astype(str).unique())
    if len(tasks) < 2:
        raise InputError(f"leave-task-out needs runs of at least 2 tasks, got {tasks}")
    base = predictor if predictor is not None else PerformancePredictor()
    z = norm.ppf(0.5 + level / 2)
    rows = []
    for task in tasks:
        held = runs[group].astype(str) == task
        model = clone(base).fit(runs[~held], curves)
        test = runs[held]
        mean, std = model.predict(test, return_std=True)
        y = t.loc[test["run_id"], model.target].to_numpy(dtype=float)
        std = np.where(np.isfinite(std), std, 0.0)
        rows.append(
            {
                "task": task,
                "n": int(held.sum()),
                "spearman": float(spearmanr(mean, y).statistic),
                "sparse_kendall": float(kendalltau(np.round(mean, 3), np.round(y, 3)).statistic),
                "coverage": float(np.mean(np.abs(y - mean) <= z * std)),
            }
        )
    return pd.DataFrame(rows)
