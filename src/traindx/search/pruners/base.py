"""Base class of traindx's Optuna pruners: reads a trial's reported curve and the study's best result."""

from __future__ import annotations

import numpy as np
import optuna
from optuna.pruners import BasePruner


class CurvePruner(BasePruner):
    """Gives subclasses the trial's reported values in step order and the best finished value so far.

    Example:
        >>> issubclass(CurvePruner, optuna.pruners.BasePruner)
        True
    """

    @staticmethod
    def curve(trial: optuna.trial.FrozenTrial) -> np.ndarray:
        steps = sorted(trial.intermediate_values)
        return np.array([trial.intermediate_values[s] for s in steps], dtype=float)

    @staticmethod
    def best_finished(study: optuna.Study) -> float | None:
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        values = [t.value for t in done if t.value is not None]
        return max(values) if values else None
