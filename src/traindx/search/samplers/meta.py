"""MetaSampler: an Optuna sampler that proposes the configuration a performance predictor rates best.

The predictor is warm-started from a corpus of recorded runs (on other datasets, say) and refitted each time a
trial finishes, with the study's own trials weighted above the corpus. Targets are percentile ranks within each
source (each corpus dataset, and the study), so the model learns which configurations are better, not how
accurate a task is. Each proposal scores a fresh random
candidate set by an upper confidence bound (mean + kappa * std; Srinivas et al., ICML 2010), so the search
both exploits the predicted optimum and explores where the forest disagrees (SMAC, Hutter et al. 2011).

Example:
    >>> import optuna
    >>> from optuna.distributions import FloatDistribution
    >>> space = {"lr": FloatDistribution(1e-4, 1e-1, log=True)}
    >>> sampler = MetaSampler(search_space=space, base={"dataset": "digits", "model": "logreg"}, seed=0,
    ...                       landmarkers=False)
    >>> study = optuna.create_study(direction="maximize", sampler=sampler)
    >>> study.optimize(lambda t: 1 - abs(t.suggest_float("lr", 1e-4, 1e-1, log=True) - 1e-2), n_trials=4)
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
from traindx.search.candidates import sample_candidates, score_candidates
from traindx.search.corpus import trial_table
from traindx.search.predictor import PerformancePredictor, targets
from traindx.search.samplers.base import SurrogateSampler


class MetaSampler(SurrogateSampler):
    """Surrogate-based sampler warm-started from recorded runs.

    Args:
        runs, curves: the corpus (RunStore.runs()/curves() or a shipped corpus); optional.
        search_space: the parameters to propose jointly (Optuna distributions); default: inferred from trials.
        base: config values fixed for the whole study (dataset, epochs, n_train, ...), used for featurization.
        n_candidates: random candidates scored per proposal.
        kappa: exploration weight of the upper confidence bound.
        trial_weight: weight of a study trial relative to a corpus run when refitting.
        n_estimators: trees of the random-forest predictor.
        landmarkers: use dataset landmarkers in the features.
        seed: random seed.
    """

    def __init__(
        self,
        runs: pd.DataFrame | None = None,
        curves: pd.DataFrame | None = None,
        search_space: dict[str, BaseDistribution] | None = None,
        base: dict[str, Any] | None = None,
        n_candidates: int = 20_000,
        kappa: float = 1.0,
        trial_weight: float = 5.0,
        n_estimators: int = 30,
        landmarkers: bool = True,
        seed: int | None = None,
    ) -> None:
        super().__init__(search_space, seed)
        if (runs is None) != (curves is None):
            raise InputError("give both runs and curves of the corpus (or neither)")
        self.base = dict(base or {})
        self.n_candidates = int(n_candidates)
        self.kappa = float(kappa)
        self.trial_weight = float(trial_weight)
        self.n_estimators = int(n_estimators)
        self.landmarkers = landmarkers
        self._rng = np.random.default_rng(seed)
        self._corpus = self._corpus_table(runs, curves)
        self._predictor: PerformancePredictor | None = None
        self._fitted_on = -1

    @staticmethod
    def _corpus_table(runs, curves) -> pd.DataFrame | None:
        if runs is None:
            return None
        t = targets(curves)
        runs = runs[runs["run_id"].isin(t.index)]
        runs = runs.assign(final_val_acc=t.loc[runs["run_id"], "final"].to_numpy())
        # rank within each dataset: what transfers between tasks is the ordering of configurations, not the
        # accuracy level (Feurer et al., AAAI 2015, warm-start by meta-features; levels differ by task)
        group = runs["dataset"] if "dataset" in runs else pd.Series(0, index=runs.index)
        return runs.assign(final_val_acc=runs.groupby(group)["final_val_acc"].rank(pct=True))

    def reseed_rng(self) -> None:
        super().reseed_rng()
        self._rng = np.random.default_rng()

    def predictor(self, study) -> PerformancePredictor | None:
        """The predictor refitted on the corpus plus the study's finished trials (None if too few results)."""
        done = self.finished(study)
        if len(done) == self._fitted_on:
            return self._predictor
        parts, weights = [], []
        if self._corpus is not None and len(self._corpus):
            parts.append(self._corpus)
            weights.append(np.ones(len(self._corpus)))
        if done:
            trials = trial_table(done, self.base)
            parts.append(trials.assign(final_val_acc=trials["final_val_acc"].rank(pct=True)))
            weights.append(np.full(len(done), self.trial_weight))
        n = sum(len(p) for p in parts)
        if n >= 2:
            table = pd.concat(parts, ignore_index=True)
            self._predictor = PerformancePredictor(
                n_estimators=self.n_estimators,
                landmarkers=self.landmarkers,
                random_state=int(self._rng.integers(2**31)),
            ).fit(table, sample_weight=np.concatenate(weights))
        self._fitted_on = len(done)
        return self._predictor

    def sample_relative(self, study, trial, search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        if study.direction != StudyDirection.MAXIMIZE:
            raise InputError("MetaSampler predicts accuracy; create the study with direction='maximize'")
        pred = self.predictor(study)
        if pred is None:
            return {}
        seed = int(self._rng.integers(2**31))
        cand = sample_candidates(search_space, self.n_candidates, base=self.base, seed=seed)
        best = score_candidates(pred, cand, kappa=self.kappa, top=1).iloc[0]
        return {name: _native(best[name], dist) for name, dist in search_space.items()}


def _native(value: Any, dist: BaseDistribution) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return next(c for c in dist.choices if c == value)
    if isinstance(dist, IntDistribution):
        return int(value)
    return float(value)
