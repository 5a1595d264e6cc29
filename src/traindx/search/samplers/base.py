"""Base class of traindx's Optuna samplers: a relative search space and a random fallback for the rest."""

from __future__ import annotations

from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace


class SurrogateSampler(BaseSampler):
    """Proposes every parameter of ``search_space`` jointly (or of the space all finished trials share);
    parameters outside it are drawn at random, as Optuna's own model-based samplers do.

    Example:
        >>> issubclass(SurrogateSampler, optuna.samplers.BaseSampler)
        True
    """

    def __init__(
        self, search_space: dict[str, BaseDistribution] | None = None, seed: int | None = None
    ) -> None:
        self._search_space = search_space
        self._random = RandomSampler(seed=seed)
        self._intersection = IntersectionSearchSpace()

    def reseed_rng(self) -> None:
        self._random.reseed_rng()

    def infer_relative_search_space(self, study, trial) -> dict[str, BaseDistribution]:
        if self._search_space is not None:
            return dict(self._search_space)
        return {k: v for k, v in self._intersection.calculate(study).items() if not v.single()}

    def sample_independent(self, study, trial, param_name: str, param_distribution: BaseDistribution) -> Any:
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    @staticmethod
    def finished(study) -> list[optuna.trial.FrozenTrial]:
        return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
