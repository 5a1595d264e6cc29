"""MetaPruner: stop a trial when a prefix-conditioned predictor says it will not beat the study's best.

The trial reports validation accuracy each epoch (``trial.report(val_acc, epoch)``); the predictor estimates
the run's final accuracy and its uncertainty from the configuration and the curve so far. As in Domhan et al.
(IJCAI 2015), the trial is pruned when P(final > best so far) < ``alpha`` (their 0.05), under a normal
predictive distribution whose std is floored at ``min_std`` so a confident forest cannot prune on noise.

Example:
    >>> import optuna
    >>> issubclass(MetaPruner, optuna.pruners.BasePruner)
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pandas as pd
from scipy.stats import norm

from traindx.errors import InputError
from traindx.search.predictor import PerformancePredictor
from traindx.search.pruners.base import CurvePruner


class MetaPruner(CurvePruner):
    """Optuna pruner on a :class:`PerformancePredictor` fitted with ``prefix=True``.

    Args:
        predictor: a fitted prefix predictor, or None to fit one on ``runs``/``curves``.
        runs, curves: corpus to fit the predictor on when none is given.
        base: config values fixed for the study (dataset, epochs, ...), merged with each trial's params.
        alpha: prune when the probability of beating the best finished trial is below this (Domhan: 0.05).
        n_warmup_steps: never prune before this many reported epochs.
        min_std: floor of the predictive std (accuracy units; about the binomial noise of a 500-example
            validation set at 90% accuracy, sqrt(0.9 * 0.1 / 500) = 0.013).
    """

    def __init__(
        self,
        predictor: PerformancePredictor | None = None,
        runs: pd.DataFrame | None = None,
        curves: pd.DataFrame | None = None,
        base: dict[str, Any] | None = None,
        alpha: float = 0.05,
        n_warmup_steps: int = 2,
        min_std: float = 0.013,
    ) -> None:
        if predictor is None:
            if runs is None or curves is None:
                raise InputError("MetaPruner needs a fitted prefix predictor or runs and curves to fit one")
            predictor = PerformancePredictor(prefix=True).fit(runs, curves)
        if not getattr(predictor, "prefix", False):
            raise InputError("MetaPruner needs PerformancePredictor(prefix=True); refit with prefix=True")
        if not 0 < alpha < 1:
            raise InputError(f"alpha must be in (0, 1), got {alpha}")
        self.predictor = predictor
        self.base = dict(base or {})
        self.alpha = float(alpha)
        self.n_warmup_steps = int(n_warmup_steps)
        self.min_std = float(min_std)

    def probability_to_beat(self, config: dict[str, Any], curve: np.ndarray, best: float) -> float:
        """P(final accuracy > ``best``) for a run with this config and validation curve so far."""
        mean, std = self.predictor.predict_prefix(pd.DataFrame([config]), [curve], return_std=True)
        return float(norm.sf(best, loc=mean[0], scale=max(float(std[0]), self.min_std)))

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        curve = self.curve(trial)
        if len(curve) < self.n_warmup_steps or np.isnan(curve).any():
            return False
        best = self.best_finished(study)
        if best is None:
            return False
        return self.probability_to_beat({**self.base, **trial.params}, curve, best) < self.alpha
