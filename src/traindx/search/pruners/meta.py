"""MetaPruner: stop a trial when a prefix-conditioned predictor says it will not beat the study's best.

The trial reports validation accuracy each epoch (``trial.report(val_acc, epoch)``); the predictor estimates
the best validation accuracy the run will reach and its uncertainty from the configuration and the curve so
far. As in Domhan et al. (IJCAI 2015), the trial is pruned when P(best > best finished trial) < ``alpha``, under
a normal predictive distribution. ``MetaPruner()`` with no arguments fits its predictor on the shipped
many-task corpus (``src/traindx/data/corpus/tasks_causes``: 45 tasks of four modalities) on first use.

A predictor fitted on other tasks is biased on a new one. With ``calibrate=True`` the pruner learns that bias
from the study's own completed trials: for each prefix length it subtracts the mean error the predictor made on
them, shrunk towards zero by ``prior`` pseudo-trials so that the first few trials move it little; the
predictive std likewise moves from the forest's spread towards the scatter of those errors. The std never
falls below the binomial noise of the study's validation set (its size read off the reported accuracies, see
:func:`validation_noise`), times sqrt(2 ln(1 + epochs left)), nor below ``min_std``: a run one or two examples
short of the best on a small validation set, with epochs to go, is not hopeless.

With ``rank_quantile`` set, a trial is pruned only when it also ranks below that quantile of the other trials'
values at its step (the comparison of Optuna's median and percentile pruners): the rank among the trials does
not move when the incumbent is a noise spike of a small validation set, which makes every run look hopeless to
the predictor's comparison with it.

``alpha`` (and ``rank_quantile``) trade savings for regret (benchmarks/early_stopping.py traces them on held-out
tasks of the corpus).

Example:
    >>> import optuna
    >>> issubclass(MetaPruner, optuna.pruners.BasePruner)
    True
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import optuna
import pandas as pd

from traindx.errors import InputError
from traindx.search.predictor import PerformancePredictor
from traindx.search.pruners.base import CurvePruner


def fit_prefix_predictor(runs: pd.DataFrame, curves: pd.DataFrame) -> PerformancePredictor:
    """The predictor the MetaPruner fits on a corpus: best validation accuracy from the configuration and the
    curve prefix (10 trees, SMAC's; no landmarkers, so that fitting and pruning never need the tasks' data).

    Example:
        >>> runs = pd.DataFrame({"run_id": ["a", "b"], "dataset": "digits", "epochs": 3})
        >>> curves = pd.DataFrame({"run_id": list("aaabbb"), "epoch": [1, 2, 3] * 2,
        ...                        "val_acc": [0.2, 0.4, 0.5, 0.6, 0.8, 0.9]})
        >>> fit_prefix_predictor(runs, curves).target
        'best'
    """
    return PerformancePredictor(prefix=True, target="best", n_estimators=10, landmarkers=False).fit(
        runs, curves
    )


def one_seed(runs: pd.DataFrame) -> pd.DataFrame:
    """One run per configuration of a corpus that trains each with several seeds (the lowest seed's).

    The seeds of a configuration differ in little but noise, and every prefix of every run is a training
    row of the predictor: one seed keeps the default fit to about 10 seconds.

    Example:
        >>> runs = pd.DataFrame({"run_id": list("abc"), "lr": [1e-3, 1e-3, 1e-2], "seed": [0, 1, 0]})
        >>> one_seed(runs)["run_id"].tolist()
        ['a', 'c']
    """
    if "seed" not in runs:
        return runs
    from traindx.store.runstore import RUN_COLUMNS

    config = [c for c in runs.columns if c not in (*RUN_COLUMNS, "seed")]
    key = pd.util.hash_pandas_object(runs[config].astype("string").fillna("<missing>"), index=False)
    first = runs.assign(_key=key.to_numpy()).sort_values("seed", kind="stable").drop_duplicates("_key")
    return runs.loc[sorted(first.index)]


@lru_cache(maxsize=1)
def default_predictor() -> PerformancePredictor:
    """:func:`fit_prefix_predictor` on the shipped many-task corpus (:func:`one_seed` of its runs), fitted once
    per process."""
    from traindx.experiments.corpus import load_parts
    from traindx.search.corpus import CORPUS_DIR

    runs, curves, _ = load_parts(CORPUS_DIR / "tasks_causes")
    runs = one_seed(runs[runs["status"] == "finished"])
    return fit_prefix_predictor(runs, curves[curves["run_id"].isin(runs["run_id"])])


class MetaPruner(CurvePruner):
    """Optuna pruner on a :class:`PerformancePredictor` fitted with ``prefix=True``.

    Args:
        predictor: a fitted prefix predictor, or None to fit one on ``runs``/``curves``, or with neither on
            the shipped many-task corpus (:func:`default_predictor`, when first needed).
        runs, curves: corpus to fit the predictor on when none is given.
        base: config values fixed for the study (dataset, epochs, ...), merged with each trial's params.
        alpha: prune when the probability of beating the best finished trial is below this.
        n_warmup_steps: never prune before this many reported epochs.
        min_std: floor of the predictive std (accuracy units; about the binomial noise of a 500-example
            validation set at 90% accuracy, sqrt(0.9 * 0.1 / 500) = 0.013).
        calibrate: correct the predictor's bias and spread on this study from its completed trials.
        prior: pseudo-trials (zero bias, the forest's spread) the correction is shrunk towards.
        noise_floor: floor the std at the binomial noise of the validation set (:func:`validation_noise`).
        rank_quantile: None, or never prune a trial whose best value so far is at least this quantile of the
            other trials' values at the same step (Optuna's PercentilePruner comparison; 0.5 is the median
            rule), so that a trial is pruned only when the predictor and its rank among the trials agree. The
            rank does not move when the incumbent is a noise spike of a small validation set; the
            predictor's comparison does.
        rank_startup: with a rank quantile, trials that must have reported a step before the rank counts
            there (Optuna's ``n_startup_trials`` default, 5); with fewer, the trial is not pruned.
    """

    def __init__(
        self,
        predictor: PerformancePredictor | None = None,
        runs: pd.DataFrame | None = None,
        curves: pd.DataFrame | None = None,
        base: dict[str, Any] | None = None,
        alpha: float = 0.003,
        n_warmup_steps: int = 2,
        min_std: float = 0.013,
        calibrate: bool = True,
        prior: float = 5.0,
        noise_floor: bool = True,
        rank_quantile: float | None = None,
        rank_startup: int = 5,
    ) -> None:
        if (runs is None) != (curves is None):
            raise InputError("give both runs and curves to fit the MetaPruner's predictor on (or neither)")
        if predictor is None and runs is not None:
            predictor = fit_prefix_predictor(runs, curves)
        if predictor is not None and not getattr(predictor, "prefix", False):
            raise InputError("MetaPruner needs PerformancePredictor(prefix=True); refit with prefix=True")
        if not 0 < alpha < 1:
            raise InputError(f"alpha must be in (0, 1), got {alpha}")
        if rank_quantile is not None and not 0 <= rank_quantile <= 1:
            raise InputError(f"rank_quantile must be in [0, 1] or None, got {rank_quantile}")
        self._predictor = predictor
        self.rank_quantile = None if rank_quantile is None else float(rank_quantile)
        self.rank_startup = int(rank_startup)
        self.base = dict(base or {})
        self.alpha = float(alpha)
        self.n_warmup_steps = int(n_warmup_steps)
        self.min_std = float(min_std)
        self.calibrate = bool(calibrate)
        self.prior = float(prior)
        self.noise_floor = bool(noise_floor)
        self._seen: set[float] = set()  # distinct accuracies reported in the study: their grid is 1/n_val
        self._configs: dict[int, dict[str, Any]] = {}  # trial number -> config, seen while it ran
        self._errors: dict[int, np.ndarray] = {}  # completed trial -> prediction error per prefix length

    @property
    def predictor(self) -> PerformancePredictor:
        """The prefix predictor; without one given, fitted on the shipped corpus when first needed."""
        if self._predictor is None:
            self._predictor = default_predictor()
        return self._predictor

    def probability_to_beat(self, config: dict[str, Any], curve: np.ndarray, best: float) -> float:
        """P(the run's target accuracy > ``best``) for a run with this config and validation curve so far."""
        mean, std = self.predictor.predict_prefix(pd.DataFrame([config]), [curve], return_std=True)
        bias, spread = self.error(len(curve), float(std[0]))
        floor = self.min_std
        if self.noise_floor:
            self._seen.update(curve.tolist())
            # the best of m more noisy readings lies about sqrt(2 ln m) noise std above the level (the
            # expected maximum of m normals), so noise alone may carry a run past the incumbent
            left = max(int(config.get("epochs") or len(curve)) - len(curve), 1)
            floor = max(floor, validation_noise(sorted(self._seen), best) * math.sqrt(2 * math.log1p(left)))
        z = (best - (mean[0] - bias)) / max(spread, floor)
        return 0.5 * math.erfc(z / math.sqrt(2))  # the normal's survival function, without scipy's overhead

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
        if best is None or self.ranks_high(study, trial, float(curve.max())):
            return False
        if self.calibrate:
            self._learn(study)
        return self.probability_to_beat(config, curve, best) < self.alpha

    def ranks_high(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, value: float) -> bool:
        """Whether the rank gate protects the trial: its best ``value`` so far reaches the ``rank_quantile``
        quantile of the other finished and pruned trials' values at its last step (or too few trials reported
        that step to rank it). False without a gate."""
        if self.rank_quantile is None:
            return False
        step = trial.last_step
        states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        others = [
            t.intermediate_values[step]
            for t in study.get_trials(deepcopy=False, states=states)
            if t.number != trial.number and step in t.intermediate_values
        ]
        others = [v for v in others if not math.isnan(v)]
        if len(others) < self.rank_startup:
            return True
        return value >= float(np.quantile(others, self.rank_quantile))


def validation_noise(values, level: float) -> float:
    """Binomial standard error of a validation accuracy near ``level``, with the set's size read off the values.

    Accuracies on a set of n examples are multiples of 1/n, so the smallest gap between distinct reported
    values bounds 1/n from above (a gap of several examples gives a larger, more cautious error). Gaps under
    1e-4 are float rounding (or n above 10,000, whose noise is below any floor that matters) and are skipped;
    values that are no such fractions (smoothed) give a negligible error.

    Example:
        >>> round(validation_noise([35 / 39, 36 / 39, 0.5], 0.9), 3)  # a 39-example validation set
        0.048
    """
    gaps = np.diff(np.unique(np.asarray(values, dtype=float)))
    gaps = gaps[gaps >= 1e-4]
    if not len(gaps):
        return 0.0
    res = float(gaps.min())
    p = min(max(level, 0.0), 1.0)
    return float(np.sqrt(p * (1 - p) * res))
