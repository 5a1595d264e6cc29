"""MetaSampler: an Optuna sampler that proposes what a transfer surrogate rates best, in any search space.

Knowledge comes from the shipped corpus (by default), run tables, traindx run stores and the user's earlier
Optuna studies, matched to the study's parameters by canonical name (learning_rate = lr, num_layers = depth,
...) and weighted by task similarity, then by how well each source ranks the study's own trials
(:class:`~traindx.search.surrogate.TransferSurrogate`). Each proposal scores a fresh random candidate set by
an upper confidence bound (mean + kappa * std; Srinivas et al., ICML 2010).

Knowledge measured in the study's own space (every source varies every parameter) steers the first
``n_startup_trials`` (Optuna TPE's default of 10) as often as it is trusted (task similarity, then agreement
with the study's trials), else they are random; later proposals follow the surrogate as often as it agrees with
the study's trials and are otherwise random among configurations not tried yet, at least a share
``random_fraction`` (SMAC's interleaved random configurations, probability 0.2 in SMAC3's HPO facade).
Knowledge mapped onto the space only in part (names it never varied, as the shipped corpus in a user's new
space) must earn its say: it is followed only as often as its Kendall agreement with the study's better trials
exceeds chance (``TransferSurrogate.earned_``), and otherwise the sampler proposes exactly what it would with
no knowledge: random draws while exploring, then its own forest, a share ``random_fraction`` random.

Example:
    >>> import optuna
    >>> from optuna.distributions import FloatDistribution
    >>> space = {"learning_rate": FloatDistribution(1e-4, 1e-1, log=True)}
    >>> sampler = MetaSampler(search_space=space, knowledge=[], seed=0)
    >>> study = optuna.create_study(direction="maximize", sampler=sampler)
    >>> study.optimize(lambda t: -abs(t.suggest_float("learning_rate", 1e-4, 1e-1, log=True) - 1e-2), n_trials=4)
    >>> len(study.trials)
    4
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution
from optuna.study import StudyDirection

from traindx.errors import InputError
from traindx.search.candidates import sample_candidates
from traindx.search.features import task_meta_features
from traindx.search.knowledge import Source, from_runs, gather
from traindx.search.samplers.base import SurrogateSampler
from traindx.search.surrogate import MIN_AGREEMENT, TransferSurrogate


class MetaSampler(SurrogateSampler):
    """Transfer-learning sampler for any search space.

    Args:
        runs, curves: a run table and its curves to learn from (one source per task); optional.
        search_space: the parameters to propose jointly (Optuna distributions); default: inferred from trials.
        base: config values fixed for the whole study; its ``dataset`` names the study's task.
        n_candidates: random candidates scored per proposal.
        kappa: exploration weight of the upper confidence bound.
        trial_weight: kept for compatibility (the study's own forest is weighted by its agreement instead).
        n_estimators: trees per forest.
        landmarkers: compute the study's task meta-features from its data (else only those given in ``task``).
        seed: random seed.
        knowledge: more sources: ``"shipped"`` (the default when no runs are given), Optuna studies or storage
            URLs, run-store paths, ``(runs, curves)`` pairs, :class:`~traindx.search.knowledge.Source` s, or a
            list of these; ``[]`` for none.
        task: the study's task: a task name, a :class:`~traindx.experiments.tasks.Task` or a dict of
            meta-features (default: ``base["dataset"]``); unknown tasks are fine.
        n_startup_trials: random trials before the own forest is trusted when no knowledge transfers.
        random_fraction: share of later proposals drawn at random.
    """

    def __init__(
        self,
        runs: pd.DataFrame | None = None,
        curves: pd.DataFrame | None = None,
        search_space: dict[str, BaseDistribution] | None = None,
        base: dict[str, Any] | None = None,
        n_candidates: int = 10_000,
        kappa: float = 1.0,
        trial_weight: float = 5.0,
        n_estimators: int = 30,
        landmarkers: bool = True,
        seed: int | None = None,
        *,
        knowledge: Any = None,
        task: Any = None,
        n_startup_trials: int = 10,
        random_fraction: float = 0.2,
    ) -> None:
        super().__init__(search_space, seed)
        if (runs is None) != (curves is None):
            raise InputError("give both runs and curves of the corpus (or neither)")
        if not 0 <= random_fraction < 1:
            raise InputError(f"random_fraction must be in [0, 1), got {random_fraction}")
        self.base = dict(base or {})
        self.n_candidates = int(n_candidates)
        self.kappa = float(kappa)
        self.trial_weight = float(trial_weight)
        self.n_estimators = int(n_estimators)
        self.landmarkers = landmarkers
        self.n_startup_trials = int(n_startup_trials)
        self.random_fraction = float(random_fraction)
        self._rng = np.random.default_rng(seed)
        self._knowledge_rng = np.random.default_rng(None if seed is None else [seed, 1])
        self._runs, self._curves = runs, curves
        self._knowledge = "shipped" if knowledge is None and runs is None else knowledge
        self._task = task
        self._sources: list[Source] | None = None
        self._surrogate: TransferSurrogate | None = None
        self._space_key: tuple | None = None
        self._fitted_on = -1

    def sources(self) -> list[Source]:
        """The knowledge sources (read once, on first use)."""
        if self._sources is None:
            out = from_runs(self._runs, self._curves) if self._runs is not None else []
            self._sources = out + gather(self._knowledge)
        return self._sources

    def task_meta_features(self) -> dict[str, float]:
        """The study's task meta-features (``{}`` when the task is unknown or not computed)."""
        task = self._task if self._task is not None else self.base.get("dataset")
        if isinstance(task, dict):
            return dict(task)
        if task is None or (isinstance(task, str) and not self.landmarkers):
            from traindx.search.features import DATASETS

            return task_meta_features(task) if task in DATASETS else {}
        return task_meta_features(task)

    def reseed_rng(self) -> None:
        super().reseed_rng()
        self._rng = np.random.default_rng()
        self._knowledge_rng = np.random.default_rng()

    def predictor(self, study, search_space: dict[str, BaseDistribution] | None = None):
        """The surrogate refitted on the study's finished trials (None before anything is known)."""
        space = search_space or self.infer_relative_search_space(study, None)
        if not space:
            return None
        key = tuple(sorted(space))
        if self._surrogate is None or key != self._space_key:
            self._surrogate = TransferSurrogate(
                space,
                self.sources(),
                self.task_meta_features(),
                n_estimators=self.n_estimators,
                seed=int(self._rng.integers(2**31)),
            )
            self._space_key, self._fitted_on = key, -1
        done = [t for t in self.finished(study) if all(k in t.params for k in space)]
        if len(done) != self._fitted_on:
            configs = pd.DataFrame([{k: t.params[k] for k in space} for t in done], columns=list(space))
            self._surrogate.fit(configs, [t.value for t in done])
            self._fitted_on = len(done)
        return self._surrogate if self._surrogate.informed else None

    def _tried(self, study, space, surrogate) -> np.ndarray | None:
        done = [t.params for t in self.finished(study) if all(k in t.params for k in space)]
        if not done:
            return None
        return surrogate.featurizer.transform(pd.DataFrame(done, columns=list(space)))

    def _follow_probability(self, surrogate: TransferSurrogate) -> float:
        """After the exploration, for knowledge measured in this very space: how often to propose what the
        surrogate rates best rather than a random configuration: as often as it is known to rank this
        study's trials (``agreement_``: the larger of the knowledge's trust and the own forest's out-of-bag
        agreement, Kendall taus), at most ``1 - random_fraction``. (Chosen on the many-task corpus's design
        tasks: benchmarks/RESULTS.md, "search on held-out corpus tasks".)"""
        return float(min(surrogate.agreement_, 1.0 - self.random_fraction))

    def _earned_probability(self, surrogate: TransferSurrogate, n_done: int) -> float:
        """For knowledge mapped onto the space only in part (a source lacks some of its parameters, so it
        predicts a marginal over them): how often to follow it rather than do what the sampler does with no
        knowledge: only the agreement it has earned on the study's better trials (``earned_``; nothing before
        ``MIN_AGREEMENT`` trials). (Chosen on the user-space design tasks: benchmarks/RESULTS.md, "search in
        the user's own space"; the shipped corpus ranked the bulk of a new space's trials well, yet its best
        region was wrong, and trust shrunk towards its prior kept it steering a third to a half of the
        proposals.)"""
        if surrogate.trust_ <= 0 or n_done < MIN_AGREEMENT:
            return 0.0
        return float(surrogate.earned_)

    def sample_relative(self, study, trial, search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        if study.direction != StudyDirection.MAXIMIZE:
            raise InputError("MetaSampler predicts accuracy; create the study with direction='maximize'")
        surrogate = self.predictor(study, search_space)
        if surrogate is None:
            return {}
        n_done = self._fitted_on
        kappa = self.kappa
        own_only = follow = False
        if surrogate.covers_space:
            # knowledge measured in this very space: followed as often as it is trusted
            follow = True
            if n_done < self.n_startup_trials:
                # still exploring: follow the sources as often as they are trusted, else draw at random.
                # Following them means proposing what they rate best, as warm-starting from similar tasks'
                # best configurations does (Feurer et al., AAAI 2015): their spread is disagreement between
                # tasks, not something a trial resolves
                if self._rng.random() >= surrogate.trust_:
                    return {}
                kappa = 0.0
            elif self._rng.random() >= self._follow_probability(surrogate):
                follow = False
        else:
            # knowledge mapped in part, or none: followed only as far as it has earned it, drawn from a
            # generator of its own, so that a study whose knowledge never earns a say gets exactly the
            # proposals of MetaSampler(knowledge=[])
            p = self._earned_probability(surrogate, n_done)
            if p > 0 and self._knowledge_rng.random() < p:
                kappa = 0.0 if n_done < self.n_startup_trials else kappa
            elif n_done < self.n_startup_trials:
                return {}
            else:
                # as with no knowledge: the study's own forest, exploited as SMAC does
                if self._rng.random() < self.random_fraction:
                    return {}
                own_only = True
            follow = True
        seed = int(self._rng.integers(2**31))
        cand = sample_candidates(search_space, self.n_candidates, seed=seed)
        if follow:
            mean, std = surrogate.predict(cand, own_only=own_only)
            score = mean + kappa * std
        else:  # a random configuration, among those not tried yet (in a discrete space a repeat is likely)
            score = self._rng.random(len(cand))
        # a configuration already tried teaches nothing new (and in a discrete space the surrogate's best
        # would be proposed again and again): its candidates are ruled out
        tried = self._tried(study, search_space, surrogate)
        if tried is not None:
            X = np.round(surrogate.featurizer.transform(cand), 6)
            seen = pd.MultiIndex.from_arrays(np.round(tried, 6).T)
            score = np.where(pd.MultiIndex.from_arrays(X.T).isin(seen), -np.inf, score)
            if not np.isfinite(score).any():
                return {}
        best = cand.iloc[int(np.argmax(score))]
        return {name: _native(best[name], dist) for name, dist in search_space.items()}


def _native(value: Any, dist: BaseDistribution) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return next(c for c in dist.choices if c == value)
    if isinstance(dist, IntDistribution):
        return int(value)
    return float(value)
