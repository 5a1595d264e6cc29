"""A transfer surrogate: one random forest per knowledge source plus one on the study's own trials, combined
with weights that say how far each source can be trusted on this task.

Weights follow the ranking-weighted ensembles of transfer HPO (TST-R, Wistuba et al., ECML 2016; RGPE,
Feurer et al., 2018). Each source's weight starts at its prior: task similarity (meta-feature distance,
:func:`~traindx.search.features.task_distance`) times the share of the space's parameters it varies; once
``MIN_AGREEMENT`` trials exist it moves to the Kendall agreement between the source's ranking of those trials
and their real ranking (shrunk towards the prior by ``PRIOR_TRIALS`` pseudo-trials). The ``max_active``
heaviest sources form the knowledge prediction; ``trust_`` is how well that combined prediction ranks the
study's trials (the same shrinkage), so a lucky single source among many cannot make the knowledge look
trustworthy; ``earned_`` is the stricter part of it that a sampler may act on: the combined prediction's
agreement with the study's better half of trials beyond chance (``EARNED_Z`` null standard deviations), and
``covers_space`` says whether every source varies every parameter of the space. The study's own forest is
weighted by its out-of-fold agreement. With no transferable knowledge
``trust_`` falls to zero as trials accumulate and the surrogate is the study's own forest alone; a sampler
reads ``trust_`` as how often to follow the knowledge while it would otherwise still explore, and
``agreement_`` (the larger of ``trust_`` and the own forest's agreement) as how often to follow the surrogate
after that.

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

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from traindx.search.features import SpaceFeaturizer, task_distance
from traindx.search.knowledge import Source
from traindx.search.predictor import forest_mean_std

# fewest study results to judge a source by its ranking agreement (a Kendall tau on 3 pairs of 3 trials is
# the least that can disagree at all), and to cross-validate the study's own forest
MIN_AGREEMENT = 3
MIN_OWN_CV = 5
PRIOR_TRIALS = 3
# one-sided 5% level: the knowledge's agreement with the study's better trials must exceed what unrelated
# rankings reach by chance once in 20 studies before it steers proposals (chosen from first principles; on the
# user-space design tasks 1.645 and 1.0 were compared, 1.645 kept: benchmarks/RESULTS.md)
EARNED_Z = 1.645
# rows of a source a forest learns from: the many-task corpus has thousands per task, a forest needs far fewer
MAX_SOURCE_ROWS = 2000
# share of the knowledge weights that must move before the pooled knowledge forest is refitted (a refit costs
# one forest fit; weights settle within a few trials, so most refits would change nothing)
REFIT_SHIFT = 0.1


def _forest(n_estimators: int, seed: int, oob: bool = False):
    from sklearn.ensemble import RandomForestRegressor

    # SMAC's surrogate (Hutter et al., LION 2011): bootstrapped trees, their spread is the uncertainty
    return RandomForestRegressor(
        n_estimators=n_estimators, min_samples_leaf=2, random_state=seed, n_jobs=1, oob_score=oob
    )


@dataclass
class _Member:
    name: str
    cols: np.ndarray
    model: object
    prior: float  # task similarity in (0, 1]: exp(-d^2 / 2) of the meta-feature distance d
    overlap: float  # share of the space's parameters the source varies
    X: np.ndarray  # the source's rows in the space's features (NaN where it lacks a parameter)
    y: np.ndarray


class TransferSurrogate:
    """Ranking-weighted ensemble of per-source forests and the study's own forest.

    Args:
        space: the study's search space (Optuna distributions, any parameter names).
        sources: knowledge :class:`~traindx.search.knowledge.Source` s (any spaces; parameters matched by
            canonical name).
        task: the study's task meta-features (``{}`` when unknown: every source then looks equally similar).
        n_estimators: trees per forest.
        max_sources: keep only the most similar sources (the many-task corpus has dozens of tasks).
        seed: random seed.
        max_active: sources that make up the knowledge prediction (the heaviest by weight); bounds the cost
            of scoring candidates whatever the number of sources.
    """

    def __init__(
        self,
        space: dict,
        sources: list[Source] | None = None,
        task: dict[str, float] | None = None,
        n_estimators: int = 30,
        max_sources: int = 20,
        seed: int = 0,
        max_active: int = 20,
    ) -> None:
        self.space = dict(space)
        self.task = dict(task or {})
        self.n_estimators = int(n_estimators)
        self.seed = int(seed)
        self.max_active = int(max_active)
        self.featurizer = SpaceFeaturizer(self.space).fit()
        self.members: list[_Member] = []
        for s in sources or []:
            m = self._member(s)
            if m is not None:
                self.members.append(m)
        self.members = sorted(self.members, key=lambda m: -m.prior * m.overlap)[: int(max_sources)]
        self.weights_: dict[str, float] = {}
        self.own_ = None
        self.own_weight_ = 0.0
        self.knowledge_ = None
        self.trust_ = max((m.prior * m.overlap for m in self.members), default=0.0)

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
        # a source's forest is fitted once and then only asked for its mean, and the knowledge prediction
        # averages many sources: a tenth of the trees each keeps scoring candidates against all of them cheap
        trees = max(1, self.n_estimators // 10)
        model = _forest(trees, self.seed).fit(X[np.ix_(rows, cols)], s.value[rows])
        d = task_distance(self.task, s.meta_features()) if self.task else float("nan")
        # a task nobody described counts as one scale unit away: neither alike nor unlike
        similarity = float(np.exp(-0.5 * d * d)) if np.isfinite(d) else float(np.exp(-0.5))
        overlap = len(shared) / len(set(params))
        return _Member(s.name, cols, model, similarity, overlap, X[rows], s.value[rows])

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
        weights = {m.name: m.prior * m.overlap for m in self.members}
        X = self.featurizer.transform(configs) if n else np.zeros((0, len(self.featurizer.feature_names_)))
        preds = self._member_predictions(X)
        if n >= MIN_AGREEMENT:
            for m in self.members:
                # the agreement seen on n trials, shrunk towards the prior by PRIOR_TRIALS pseudo-trials:
                # three trials' Kendall tau is too coarse to trust on its own
                tau = max(_tau(preds[m.name], y), 0.0)
                weights[m.name] = _shrunk(m.prior * m.overlap, tau, n)
        active = sorted(self.members, key=lambda m: -weights[m.name])[: self.max_active]
        self.active_ = [m for m in active if weights[m.name] > 0]
        prior_trust = float(np.mean([m.prior * m.overlap for m in self.active_])) if self.active_ else 0.0
        self.trust_ = prior_trust
        self.earned_ = 0.0
        if n >= MIN_AGREEMENT and self.active_:
            total = sum(weights[m.name] for m in self.active_)
            combined = sum(weights[m.name] * preds[m.name] for m in self.active_) / total
            self.trust_ = _shrunk(prior_trust, max(_tau(combined, y), 0.0), n)
            self.earned_ = _earned(combined, y)
        self._refit_knowledge({m.name: weights[m.name] for m in self.active_})
        self.own_weight_ = 0.0
        # how well the surrogate is known to rank this study's trials: the knowledge's trust or the own
        # forest's out-of-bag agreement, whichever is larger (before an unproven own forest is given weight)
        self.agreement_ = self.trust_
        if n >= MIN_AGREEMENT:
            self.own_ = _forest(self.n_estimators, self.seed, oob=n >= MIN_OWN_CV)
            with warnings.catch_warnings():  # a trial no tree left out has no out-of-bag prediction
                warnings.simplefilter("ignore", UserWarning)
                self.own_.fit(np.nan_to_num(X, nan=-1.0), y)
            self.own_weight_ = self._own_agreement(X, y)
            self.agreement_ = max(self.trust_, self.own_weight_)
            if self.trust_ <= 0 and self.own_weight_ <= 0:
                self.own_weight_ = 1.0  # nothing transfers, the own forest is unproven: exploit it anyway
        self.weights_ = {**weights, "own": self.own_weight_}
        return self

    def _refit_knowledge(self, weights: dict[str, float]) -> None:
        """One forest on the active sources' rows, each source weighted by its weight (shared out over its
        rows): the weighted mean of the sources at the cost of one forest when scoring candidates. Refitted
        only when the weights have moved (total variation above ``REFIT_SHIFT``)."""
        total = sum(weights.values())
        if total <= 0:
            self.knowledge_, self._knowledge_weights = None, {}
            return
        share = {k: v / total for k, v in weights.items()}
        old = getattr(self, "_knowledge_weights", None) or {}
        moved = 0.5 * sum(abs(share.get(k, 0.0) - old.get(k, 0.0)) for k in set(share) | set(old))
        if getattr(self, "knowledge_", None) is not None and moved <= REFIT_SHIFT:
            return
        used = [m for m in self.active_ if share.get(m.name, 0) > 0]
        X = np.vstack([m.X for m in used])
        y = np.concatenate([m.y for m in used])
        w = np.concatenate([np.full(len(m.y), share[m.name] / len(m.y)) for m in used])
        self.knowledge_ = _forest(max(1, self.n_estimators // 3), self.seed).fit(
            X, y, sample_weight=w * len(y)
        )
        self._knowledge_weights = share

    def _member_predictions(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Each source's predicted rank of the study's trials; a trial's prediction never changes, so only
        the trials added since the last fit are predicted."""
        cache = getattr(self, "_pred_cache", None)
        k = 0
        if cache is not None and len(cache[0]) <= len(X) and np.array_equal(cache[0], X[: len(cache[0])]):
            k = len(cache[0])
        new = X[k:]
        out = {}
        for m in self.members:
            old = cache[1][m.name] if k else np.zeros(0)
            fresh = _tree_mean(m.model, new[:, m.cols]) if len(new) else np.zeros(0)
            out[m.name] = np.concatenate([old, fresh])
        self._pred_cache = (X.copy(), out)
        return out

    def _own_agreement(self, X: np.ndarray, y: np.ndarray) -> float:
        """Kendall agreement of the own forest's out-of-bag predictions with the trials' ranking (each tree
        predicts the trials its bootstrap left out: a cross-validation that costs no extra fit)."""
        if len(y) < MIN_OWN_CV:
            return 0.0
        pred = getattr(self.own_, "oob_prediction_", None)
        if pred is None:
            return 0.0
        pred = np.ravel(pred)
        ok = np.isfinite(pred)
        return max(_tau(pred[ok], y[ok]), 0.0) if ok.sum() >= MIN_AGREEMENT else 0.0

    def predict(self, configs: pd.DataFrame, own_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Mean and spread of the predicted within-task rank of ``configs``: the knowledge's prediction
        (weighted by ``trust_``) and the own forest's (weighted by its agreement); ``own_only``: the own
        forest's alone (what the surrogate would be with no knowledge)."""
        X = self.featurizer.transform(configs)
        if not hasattr(self, "active_"):
            self.fit(pd.DataFrame(columns=list(self.space)), [])
        parts: list[tuple[float, np.ndarray, np.ndarray]] = []
        if not own_only and self.knowledge_ is not None and self.trust_ > 0:
            mu, sd = forest_mean_std(self.knowledge_, X)
            parts.append((self.trust_, mu, sd))
        if self.own_ is not None and (own_only or self.own_weight_ > 0):
            mu, sd = forest_mean_std(self.own_, np.nan_to_num(X, nan=-1.0))
            parts.append((1.0 if own_only else self.own_weight_, mu, sd))
        if not parts:
            return np.full(len(X), 0.5), np.full(len(X), 0.5)
        total = sum(w for w, _, _ in parts)
        mean = sum(w * mu for w, mu, _ in parts) / total
        var = sum(w * sd**2 for w, _, sd in parts) / total
        return mean, np.sqrt(var)

    @property
    def covers_space(self) -> bool:
        """Whether every source in the knowledge prediction varies every parameter of the space (its runs are
        configurations of this very space, not a marginal over parameters mapped only in part)."""
        return bool(getattr(self, "active_", None)) and all(m.overlap >= 1.0 for m in self.active_)

    @property
    def informed(self) -> bool:
        """Whether the knowledge or the own forest has positive weight (else the surrogate knows nothing)."""
        if not hasattr(self, "active_"):
            return self.has_knowledge
        return (bool(self.active_) and self.trust_ > 0) or (self.own_ is not None and self.own_weight_ > 0)


def _shrunk(prior: float, observed: float, n: int) -> float:
    return (PRIOR_TRIALS * prior + n * observed) / (PRIOR_TRIALS + n)


def _earned(pred: np.ndarray, y: np.ndarray) -> float:
    """How far ``pred`` is shown to order the better half of the trials (``y`` at or above its median): their
    Kendall tau less ``EARNED_Z`` standard deviations of the tau of unrelated rankings, floored at 0.

    The better half, because a sampler uses the knowledge to tell good configurations from the best: on
    the user-space design tasks the shipped corpus ranked all trials with a tau near 0.45 (it knows a too
    small learning rate is bad) while its best region was wrong, and following it lost to random search."""
    top = y >= np.median(y)
    if top.sum() < MIN_AGREEMENT:
        return 0.0
    return max(_tau(pred[top], y[top]) - EARNED_Z * _tau_null_sd(int(top.sum())), 0.0)


def _tau_null_sd(n: int) -> float:
    """Standard deviation of Kendall's tau between unrelated rankings of ``n`` items (Kendall, Biometrika
    1938): var = 2 (2n + 5) / (9 n (n - 1))."""
    return float(np.sqrt(2.0 * (2 * n + 5) / (9.0 * n * (n - 1)))) if n >= 2 else float("inf")


def _tree_mean(forest, X: np.ndarray) -> np.ndarray:
    return forest_mean_std(forest, X)[0]


def _tau(pred: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-b (scipy's definition), by pairwise signs: a study has at most a few hundred trials, and
    this is called for every source at every refit."""
    pred, y = np.asarray(pred, dtype=float), np.asarray(y, dtype=float)
    if len(y) < 2 or np.ptp(pred) == 0 or np.ptp(y) == 0:
        return 0.0
    i, j = np.triu_indices(len(y), 1)
    a, b = np.sign(pred[i] - pred[j]), np.sign(y[i] - y[j])
    denom = np.sqrt(np.count_nonzero(a) * np.count_nonzero(b))
    return float((a * b).sum() / denom) if denom > 0 else 0.0
