"""MetaPruner: stop a trial when a prefix-conditioned predictor says it will not beat the study's best.

The trial reports validation accuracy each epoch (``trial.report(val_acc, epoch)``); the predictor estimates
the run's final accuracy and its uncertainty from the configuration and the curve so far. As in Domhan et al.
(IJCAI 2015), the trial is pruned when P(final > best so far) < ``alpha`` (their 0.05), under a normal
predictive distribution whose std is floored at ``min_std`` so a confident forest cannot prune on noise.

A predictor fitted on other tasks is biased on a new one (fitted on MNIST, it expects 7 more points of
best validation accuracy from a Fashion-MNIST epoch-2 prefix than the runs reach; benchmarks/early_stopping.py).
With ``calibrate=True`` the pruner learns that bias from the study's own completed trials: for each prefix
length it subtracts the mean error the predictor made on them, shrunk towards zero by ``prior`` pseudo-trials
so that the first few trials move it little; the predictive std likewise moves from the forest's spread towards
the scatter of those errors.

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
        predictor: a fitted prefix predictor, or None to fit one on ``runs``/``curves``, or with neither on
            the shipped corpus (when the first trial reaches ``n_warmup_steps``; a few seconds).
        runs, curves: corpus to fit the predictor on when none is given.
        base: config values fixed for the study (dataset, epochs, ...), merged with each trial's params.
        alpha: prune when the probability of beating the best finished trial is below this (Domhan: 0.05).
        n_warmup_steps: never prune before this many reported epochs.
        min_std: floor of the predictive std (accuracy units; about the binomial noise of a 500-example
            validation set at 90% accuracy, sqrt(0.9 * 0.1 / 500) = 0.013).
        calibrate: correct the predictor's bias and spread on this study from its completed trials.
        prior: pseudo-trials (zero bias, the forest's spread) the correction is shrunk towards.
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
        calibrate: bool = True,
        prior: float = 5.0,
    ) -> None:
        if (runs is None) != (curves is None):
            raise InputError("give both runs and curves to fit the MetaPruner's predictor on (or neither)")
        if predictor is None and runs is not None:
            predictor = PerformancePredictor(prefix=True).fit(runs, curves)
        if predictor is not None and not getattr(predictor, "prefix", False):
            raise InputError("MetaPruner needs PerformancePredictor(prefix=True); refit with prefix=True")
        if not 0 < alpha < 1:
            raise InputError(f"alpha must be in (0, 1), got {alpha}")
        self._predictor = predictor
        self.base = dict(base or {})
        self.alpha = float(alpha)
        self.n_warmup_steps = int(n_warmup_steps)
        self.min_std = float(min_std)
        self.calibrate = bool(calibrate)
        self.prior = float(prior)
        self._configs: dict[int, dict[str, Any]] = {}  # trial number -> config, seen while it ran
        self._errors: dict[int, np.ndarray] = {}  # completed trial -> prediction error per prefix length

    @property
    def predictor(self) -> PerformancePredictor:
        """The prefix predictor; without one given, fitted on the shipped corpus when first needed."""
        if self._predictor is None:
            from traindx.search.corpus import load_corpus

            runs, curves = load_corpus()
            self._predictor = PerformancePredictor(prefix=True).fit(runs, curves)
        return self._predictor

    def probability_to_beat(self, config: dict[str, Any], curve: np.ndarray, best: float) -> float:
        """P(final accuracy > ``best``) for a run with this config and validation curve so far."""
        mean, std = self.predictor.predict_prefix(pd.DataFrame([config]), [curve], return_std=True)
        bias, spread = self.error(len(curve), float(std[0]))
        return float(norm.sf(best, loc=mean[0] - bias, scale=max(spread, self.min_std)))

    def bias(self, k: int) -> float:
        """The predictor's mean error on this study's completed trials from a k-epoch prefix (shrunk)."""
        return self.error(k, 0.0)[0]

    def error(self, k: int, model_std: float) -> tuple[float, float]:
        """(bias, std) of the predictor on this study from a k-epoch prefix, learnt from its completed trials.

        Both are shrunk towards the model's own belief (bias 0, std ``model_std``) by ``prior`` pseudo-trials:
        with no completed trial the forest's spread is used as is; as trials finish the spread of the errors
        actually made on this task takes over (a forest fitted on another task disagrees with itself more than
        it errs on this one, or less).
        """
        errs = np.asarray([e[k - 1] for e in self._errors.values() if len(e) >= k], dtype=float)
        n = len(errs)
        bias = float(errs.sum() / (n + self.prior)) if n else 0.0
        var = (np.square(errs - bias).sum() + self.prior * model_std**2) / (n + self.prior)
        return bias, float(np.sqrt(var))

    def _learn(self, study: optuna.Study) -> None:
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        for t in done:
            if t.number in self._errors or t.number not in self._configs:
                continue
            curve = self.curve(t)
            planned = self._configs[t.number].get("epochs")
            # a trial that stopped before its planned epochs (another controller ended it) did not show
            # where it would have ended, so its best so far is no target to learn the bias from
            if len(curve) == 0 or np.isnan(curve).any() or (planned is not None and len(curve) < planned):
                continue
            target = curve.max() if self.predictor.target == "best" else curve[-1]
            k = len(curve)
            configs = pd.DataFrame([self._configs[t.number]] * k)
            pred = self.predictor.predict_prefix(configs, [curve[: i + 1] for i in range(k)])
            self._errors[t.number] = np.asarray(pred, dtype=float) - target

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        config = {**self.base, **trial.params}
        self._configs[trial.number] = config
        curve = self.curve(trial)
        if len(curve) < self.n_warmup_steps or np.isnan(curve).any():
            return False
        best = self.best_finished(study)
        if best is None:
            return False
        if self.calibrate:
            self._learn(study)
        return self.probability_to_beat(config, curve, best) < self.alpha
