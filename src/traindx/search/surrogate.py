"""A transfer surrogate: one random forest per knowledge source plus one on the study's own trials, combined
with weights that say how far each source can be trusted on this task.

Weights follow the ranking-weighted ensembles of transfer HPO (TST-R, Wistuba et al., ECML 2016; RGPE,
Feurer et al., 2018): before the study has results, a source's weight is its task similarity (meta-feature
distance, :func:`~traindx.search.features.task_distance`) times the share of the space's parameters it
varies; once ``min_agreement`` trials exist it is the Kendall agreement between the source's ranking of those
trials and their real ranking, and the study's own forest is weighted by its out-of-fold agreement. A source
that ranks the study's trials no better than chance loses its weight as trials accumulate, so with no
transferable knowledge the surrogate is the study's own forest alone. ``trust_`` (the largest source weight, in
[0, 1]) tells a sampler how often to follow the sources while it would otherwise still explore.

Example:
    >>> import pandas as pd
    >>> from optuna.distributions import FloatDistribution
    >>> from traindx.search.knowledge import from_runs
    >>> runs = pd.DataFrame({"dataset": "a", "learning_rate": [1e-4, 1e-3, 1e-2, 1e-1] * 3,
    ...                      "final_val_acc": [0.5, 0.8, 0.9, 0.6] * 3})
    >>> s = TransferSurrogate({"lr": FloatDistribution(1e-4, 1e-1, log=True)}, from_runs(runs), n_estimators=5)
    >>> mean, std = s.fit(pd.DataFrame({"lr": []}), []).predict(pd.DataFrame({"lr": [1e-2, 1e-4]}))
    >>> bool(mean[0] > mean[1])
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from traindx.search.features import SpaceFeaturizer, task_distance
from traindx.search.knowledge import Source
from traindx.search.predictor import forest_mean_std

# fewest study results to judge a source by its ranking agreement (a Kendall tau on 3 pairs of 3 trials is
# the least that can disagree at all), and to cross-validate the study's own forest
MIN_AGREEMENT = 3
MIN_OWN_CV = 5
PRIOR_TRIALS = 3
# rows of a source a forest learns from: the many-task corpus has thousands per task, a forest needs far fewer
MAX_SOURCE_ROWS = 2000


def _forest(n_estimators: int, seed: int):
    from sklearn.ensemble import RandomForestRegressor

    # SMAC's surrogate (Hutter et al., LION 2011): bootstrapped trees, their spread is the uncertainty
    return RandomForestRegressor(n_estimators=n_estimators, min_samples_leaf=2, random_state=seed, n_jobs=1)


@dataclass
class _Member:
    name: str
    cols: np.ndarray
    model: object
    prior: float  # task similarity in (0, 1]: exp(-d^2 / 2) of the meta-feature distance d
    overlap: float  # share of the space's parameters the source varies


class TransferSurrogate:
    """Ranking-weighted ensemble of per-source forests and the study's own forest.

    Args:
        space: the study's search space (Optuna distributions, any parameter names).
        sources: knowledge :class:`~traindx.search.knowledge.Source` s (any spaces; parameters matched by
            canonical name).
        task: the study's task meta-features (``{}`` when unknown: every source then looks equally similar).
        n_estimators: trees per forest.
        max_sources: keep only the most similar sources (the many-task corpus has hundreds of tasks).
        seed: random seed.
    """

    def __init__(
        self,
        space: dict,
        sources: list[Source] | None = None,
        task: dict[str, float] | None = None,
        n_estimators: int = 30,
        max_sources: int = 20,
        seed: int = 0,
    ) -> None:
        self.space = dict(space)
        self.task = dict(task or {})
        self.n_estimators = int(n_estimators)
        self.seed = int(seed)
        self.featurizer = SpaceFeaturizer(self.space).fit()
        self.members: list[_Member] = []
        for s in sources or []:
            m = self._member(s)
            if m is not None:
                self.members.append(m)
        self.members = sorted(self.members, key=lambda m: -m.prior * m.overlap)[: int(max_sources)]
        self.weights_: dict[str, float] = {}
        self.trust_ = max((m.prior for m in self.members), default=0.0)

    def _member(self, s: Source) -> _Member | None:
        X = self.featurizer.transform(s.configs)
        varies = np.array([np.isfinite(c).any() and np.nanstd(c) > 0 for c in X.T], dtype=bool)
        # a one-hot level counts for its parameter: the share of the space's parameters this source varies
        params = [n.split("=")[0] for n in self.featurizer.feature_names_]
        shared = {p for p, v in zip(params, varies, strict=True) if v}
        if not shared:
            return None
        cols = np.flatnonzero(varies)
        rng = np.random.default_rng(self.seed)
        rows = np.arange(len(X))
        if len(rows) > MAX_SOURCE_ROWS:
            rows = rng.choice(rows, MAX_SOURCE_ROWS, replace=False)
        # a source's forest is fitted once and then only asked for its mean: a third of the trees (SMAC's 10 at
        # the default) keeps scoring a million candidates against many sources within seconds
        trees = max(1, self.n_estimators // 3)
        model = _forest(trees, self.seed).fit(X[np.ix_(rows, cols)], s.value[rows])
        d = task_distance(self.task, s.meta_features()) if self.task else float("nan")
        # a task nobody described counts as one scale unit away: neither alike nor unlike
        similarity = float(np.exp(-0.5 * d * d)) if np.isfinite(d) else float(np.exp(-0.5))
        return _Member(s.name, cols, model, similarity, len(shared) / len(set(params)))

    @property
    def has_knowledge(self) -> bool:
        """Whether any source shares a parameter with the space."""
        return bool(self.members)

    def fit(self, configs: pd.DataFrame, values) -> TransferSurrogate:
        """Refit the study's own forest on its finished ``configs`` and ``values`` (higher is better) and
        reweigh every source by how well it ranks them."""
        y = pd.Series(np.asarray(values, dtype=float)).rank(pct=True).to_numpy()
        n = len(y)
        self.own_ = None
        weights = {m.name: m.prior for m in self.members}
        if n >= MIN_AGREEMENT:
            X = self.featurizer.transform(configs)
            for m in self.members:
                # the agreement seen on n trials, shrunk towards the similarity prior by PRIOR_TRIALS
                # pseudo-trials: three trials' Kendall tau is too coarse to trust on its own
                tau = max(_tau(m.model.predict(X[:, m.cols]), y), 0.0)
                weights[m.name] = (PRIOR_TRIALS * m.prior + n * tau) / (PRIOR_TRIALS + n)
            self.own_ = _forest(self.n_estimators, self.seed).fit(np.nan_to_num(X, nan=-1.0), y)
            weights["own"] = self._own_agreement(X, y)
            if not any(w > 0 for w in weights.values()):
                weights["own"] = 1.0  # nothing transfers, the own forest is unproven: exploit it anyway
        self.weights_ = weights
        self.trust_ = max((weights.get(m.name, 0.0) for m in self.members), default=0.0)
        return self

    def _own_agreement(self, X: np.ndarray, y: np.ndarray) -> float:
        if len(y) < MIN_OWN_CV:
            return 0.0
        from sklearn.model_selection import KFold

        pred = np.empty_like(y)
        X = np.nan_to_num(X, nan=-1.0)
        for train, test in KFold(3, shuffle=True, random_state=self.seed).split(X):
            pred[test] = _forest(10, self.seed).fit(X[train], y[train]).predict(X[test])
        return max(_tau(pred, y), 0.0)

    def predict(self, configs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Weighted mean and spread of the members' predicted within-task ranks of ``configs``."""
        X = self.featurizer.transform(configs)
        mean = np.zeros(len(X))
        var = np.zeros(len(X))
        total = 0.0
        for m in self.members:
            w = self.weights_.get(m.name, m.prior)
            if w <= 0:
                continue
            mu, sd = forest_mean_std(m.model, X[:, m.cols])
            mean += w * mu
            var += w * sd**2
            total += w
        w = self.weights_.get("own", 0.0)
        if getattr(self, "own_", None) is not None and w > 0:
            mu, sd = forest_mean_std(self.own_, np.nan_to_num(X, nan=-1.0))
            mean += w * mu
            var += w * sd**2
            total += w
        if total <= 0:
            return np.full(len(X), 0.5), np.full(len(X), 0.5)
        return mean / total, np.sqrt(var / total)

    @property
    def informed(self) -> bool:
        """Whether any member has positive weight (else the surrogate knows nothing yet)."""
        return any(w > 0 for w in self.weights_.values()) if self.weights_ else self.has_knowledge


def _tau(pred: np.ndarray, y: np.ndarray) -> float:
    if np.ptp(pred) == 0 or np.ptp(y) == 0:
        return 0.0
    t = kendalltau(pred, y).statistic
    return float(t) if np.isfinite(t) else 0.0
