"""Predict a configuration's final validation accuracy from its configuration (and optionally a curve prefix).

Three meta-models: a random forest whose spread across trees is the predictive uncertainty (SMAC's surrogate,
Hutter et al. 2011), gradient boosting (LightGBM; uncertainty from out-of-fold residuals) and Bayesian ridge
regression (its posterior predictive std). With ``prefix=True`` the model also sees the validation accuracy of
epochs 1..k and learns from every prefix of every recorded run, so one model serves every k.

Without a prefix the model learns task-relative results (``relative``): each run's accuracy as a z-score
within its task, so that the trees spend their splits on what a configuration changes rather than on how hard
each task is (what transfers between tasks is which configurations are better; Feurer et al., AAAI 2015). A
prediction is the task's level plus its scale times the predicted z-score: the level and scale are the task's
own where it was seen in fitting, else predicted from the task's dataset features by a small forest over the
tasks. The predictive std adds the z-score error measured on tasks held out of an inner fit (so intervals
are calibrated for unseen tasks) and the level's error for a task not seen.

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
from traindx.search.features import (
    LANDMARKERS,
    PREFIX_FEATURES,
    feature_names,
    featurize_configs,
    prefix_features,
)

MODELS = ("forest", "boosting", "linear")
TARGETS = ("final", "best")
# the run-table column that names a run's task (the unit of a task-relative target)
TASK = "dataset"
# task-level columns of featurize_configs: constant within a task, they predict its level and scale
TASK_FEATURES = ("n_classes", "log_input_dim", "log_data_size", *LANDMARKERS)
# fewest tasks to learn a task's level from its features (fewer: the mean over tasks), and the folds of the
# inner task-grouped fits that measure the error on unseen tasks
MIN_LEVEL_TASKS = 5
INNER_FOLDS = 3
# the central interval whose coverage the inner folds calibrate (the one the benchmarks report)
CALIBRATION_LEVEL = 0.8


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
        n_estimators: trees of the forest; boosting uses 10x. 30: leave-task-out on the many-task corpus's
            design tasks, median within-task Spearman 0.68 with 10 trees (SMAC's number), 0.73 with 30.
        prefix: also condition on the validation-accuracy prefix (epochs 1..k).
        target: ``"final"`` (last-epoch validation accuracy) or ``"best"`` (maximum over epochs).
        landmarkers: add dataset landmarkers to the features (loads each dataset once).
        relative: learn within-task z-scores of the target (the module's docstring); ``None`` means yes
            unless ``prefix`` (a prefix model learns the change still to come instead).
        random_state: seed.

    Example:
        >>> PerformancePredictor(model="linear").get_params()["model"]
        'linear'
    """

    def __init__(
        self,
        model: str = "forest",
        n_estimators: int = 30,
        prefix: bool = False,
        target: str = "final",
        landmarkers: bool = True,
        relative: bool | None = None,
        random_state: int = 0,
    ) -> None:
        self.model = model
        self.n_estimators = n_estimators
        self.prefix = prefix
        self.target = target
        self.landmarkers = landmarkers
        self.relative = relative
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
        if self.relative and self.prefix:
            raise InputError("a prefix predictor learns the change still to come; use relative=None or False")
        self.relative_ = not self.prefix if self.relative is None else bool(self.relative)
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
        self.n_features_in_ = X.shape[1]
        if self.relative_:
            tasks = _task_names(runs[keep] if curves is None else runs)
            return self._fit_relative(X, y, w, tasks)
        self.estimator_ = self._make()
        self.estimator_.fit(X, y, **self._weight_kw(w))
        self.residual_std_ = self._residual_std(X, y, w)
        return self

    # --- task-relative target --------------------------------------------------------------------------------
    def _fit_relative(
        self, X: np.ndarray, y: np.ndarray, w: np.ndarray, tasks: np.ndarray, calibrate: bool = True
    ) -> PerformancePredictor:
        names, inverse = np.unique(tasks, return_inverse=True)
        level = np.array([y[inverse == i].mean() for i in range(len(names))])
        scale = np.array([y[inverse == i].std() for i in range(len(names))])
        # a task with one run or one result has no scale of its own: take the tasks' typical one
        ok = scale > 1e-9
        scale = np.where(ok, scale, np.median(scale[ok]) if ok.any() else 1.0)
        z = (y - level[inverse]) / scale[inverse]
        self.levels_ = {str(n): (float(m), float(s)) for n, m, s in zip(names, level, scale, strict=True)}
        self.estimator_ = self._make()
        self.estimator_.fit(X, z, **self._weight_kw(w))
        self.residual_std_ = float("nan")
        self._fit_levels(X, inverse, level, scale)
        self.z_noise_, self.std_factor_ = 0.0, 1.0
        if calibrate:
            self._calibrate(X, y, z, w, tasks)
        return self

    def _calibrate(
        self, X: np.ndarray, y: np.ndarray, z: np.ndarray, w: np.ndarray, tasks: np.ndarray
    ) -> None:
        """Fit the same predictor on inner folds of the tasks (of the rows, with fewer than
        :data:`INNER_FOLDS` tasks) and predict the tasks held out of each: ``z_noise_`` is the z-score error
        the model's own spread misses (sqrt(mean squared error - mean model variance), >= 0), ``std_factor_``
        the factor that makes the central :data:`CALIBRATION_LEVEL` interval cover that share of the
        held-out results (split conformal prediction; Vovk et al., Algorithmic Learning in a Random World,
        2005)."""
        from scipy.stats import norm
        from sklearn.base import clone
        from sklearn.model_selection import GroupKFold, KFold

        if len(np.unique(tasks)) >= INNER_FOLDS:
            splits = list(GroupKFold(INNER_FOLDS).split(X, z, tasks))
        elif len(z) >= 2 * INNER_FOLDS:
            splits = list(KFold(INNER_FOLDS, shuffle=True, random_state=self.random_state).split(X))
        else:
            return
        held = []
        for train, test in splits:
            inner = clone(self)
            inner.relative_ = True
            inner._fit_relative(X[train], y[train], w[train], tasks[train], calibrate=False)
            z_mean, z_std = inner._predict_matrix(X[test], True)
            held.append((test, z_mean, np.nan_to_num(z_std), inner._levels(tasks[test], X[test])))
        err = np.concatenate([z[test] - zm for test, zm, _, _ in held])
        var = np.concatenate([zs**2 for _, _, zs, _ in held])
        self.z_noise_ = float(np.sqrt(max(np.mean(err**2) - np.mean(var), 0.0)))
        ratio = []
        for test, zm, zs, (lv, sc, lv_err, sc_err) in held:
            std = _combine(zm, zs, self.z_noise_, sc, lv_err, sc_err)
            ratio.append(np.abs(y[test] - (lv + sc * zm)) / np.maximum(std, 1e-9))
        factor = np.quantile(np.concatenate(ratio), CALIBRATION_LEVEL) / norm.ppf(0.5 + CALIBRATION_LEVEL / 2)
        self.std_factor_ = float(factor) if np.isfinite(factor) and factor > 0 else 1.0

    def _fit_levels(self, X: np.ndarray, inverse: np.ndarray, level: np.ndarray, scale: np.ndarray) -> None:
        """A small forest from a task's dataset features to its level and scale, for tasks not seen here,
        with its error on tasks held out of it (the spread of the tasks when they are too few)."""
        from sklearn.ensemble import RandomForestRegressor
        from sklearn.model_selection import KFold

        names = feature_names(self.landmarkers)
        cols = [names.index(c) for c in TASK_FEATURES if c in names]
        first = np.array([np.flatnonzero(inverse == i)[0] for i in range(len(level))])
        T, L = X[first][:, cols], np.column_stack([level, scale])
        self.level_cols_ = cols
        self.level_model_ = None
        self.level_fallback_ = L.mean(0)
        self.level_error_ = L.std(0)
        if len(L) < MIN_LEVEL_TASKS or not np.isfinite(T).any():
            return

        def forest():
            return RandomForestRegressor(n_estimators=30, min_samples_leaf=2, random_state=self.random_state)

        pred = np.empty_like(L)
        for train, test in KFold(MIN_LEVEL_TASKS, shuffle=True, random_state=self.random_state).split(T):
            pred[test] = forest().fit(T[train], L[train]).predict(T[test])
        self.level_model_ = forest().fit(T, L)
        self.level_error_ = np.sqrt(np.mean((pred - L) ** 2, axis=0))

    def _levels(self, tasks: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per row: its task's level and scale and their errors (zero for a task seen in fitting)."""
        names, inverse = np.unique(tasks, return_inverse=True)
        out = np.empty((len(names), 4))
        for i, name in enumerate(names):
            if name in self.levels_:
                out[i] = (*self.levels_[name], 0.0, 0.0)
                continue
            row = X[np.flatnonzero(inverse == i)[0], self.level_cols_][None]
            if self.level_model_ is not None and np.isfinite(row).any():
                out[i] = (*self.level_model_.predict(row)[0], *self.level_error_)
            else:
                out[i] = (*self.level_fallback_, *self.level_error_)
        out[:, 1] = np.maximum(out[:, 1], 1e-9)
        return tuple(out[inverse, j] for j in range(4))

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
        if getattr(self, "relative_", False):
            return self._predict_relative(configs, X, return_std)
        return self._predict_matrix(X, return_std)

    def _predict_relative(self, configs: pd.DataFrame, X: np.ndarray, return_std: bool):
        z, z_std = self._predict_matrix(X, True)
        level, scale, level_err, scale_err = self._levels(_task_names(configs), X)
        mean = level + scale * z
        if not return_std:
            return mean
        std = _combine(z, np.nan_to_num(z_std), self.z_noise_, scale, level_err, scale_err)
        return mean, self.std_factor_ * std

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
        if self.model == "boosting":  # relative: residual_std_ is NaN, the inner folds' z_noise_ carries it
            return est.predict(X), np.full(len(X), self.residual_std_)
        scaled = est[:-1].transform(X)
        return est[-1].predict(scaled, return_std=True)

    def _check_fitted(self) -> None:
        if not hasattr(self, "estimator_"):
            raise InputError("this PerformancePredictor is not fitted yet; call fit(runs, curves) first")


def _combine(z, z_std, z_noise, scale, level_err, scale_err) -> np.ndarray:
    """Std of ``level + scale * z`` in accuracy units: the z-score's spread and missed error, and the errors
    of an unseen task's level and scale."""
    return np.sqrt(scale**2 * (z_std**2 + z_noise**2) + level_err**2 + (z * scale_err) ** 2)


def _task_names(configs: pd.DataFrame) -> np.ndarray:
    """Each row's task name (one task, ``""``, for a table without a task column)."""
    if TASK not in configs:
        return np.full(len(configs), "", dtype=object)
    return configs[TASK].fillna("").astype(str).to_numpy()


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
