"""Draw and score large candidate sets: random configurations from an Optuna search space, ranked by a predictor.

Sampling is vectorised per parameter, so a million candidates are drawn, featurized and scored in seconds.

Example:
    >>> from optuna.distributions import CategoricalDistribution, FloatDistribution
    >>> space = {"lr": FloatDistribution(1e-4, 1e-1, log=True), "model": CategoricalDistribution(["logreg"])}
    >>> c = sample_candidates(space, 5, base={"dataset": "digits"}, seed=0)
    >>> list(c.columns), len(c)
    (['dataset', 'lr', 'model'], 5)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from traindx.errors import InputError


def _draw(dist: BaseDistribution, n: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(dist, CategoricalDistribution):
        choices = np.asarray(dist.choices, dtype=object)
        return choices[rng.integers(len(choices), size=n)]
    if isinstance(dist, (FloatDistribution, IntDistribution)):
        lo, hi = float(dist.low), float(dist.high)
        x = np.exp(rng.uniform(np.log(lo), np.log(hi), size=n)) if dist.log else rng.uniform(lo, hi, size=n)
        step = dist.step
        if isinstance(dist, IntDistribution):
            step = step or 1
        if step:
            x = lo + np.round((x - lo) / step) * step
            x = np.clip(x, lo, hi)
        return x.astype(int) if isinstance(dist, IntDistribution) else x
    raise InputError(
        f"unsupported distribution {type(dist).__name__}; use Float, Int or Categorical distributions"
    )


def sample_candidates(
    space: dict[str, BaseDistribution],
    n: int,
    base: dict[str, Any] | None = None,
    seed: int | None = None,
) -> pd.DataFrame:
    """``n`` random configurations: each parameter drawn from its distribution, fixed keys from ``base``."""
    if n < 1:
        raise InputError(f"n must be >= 1 candidates, got {n}")
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {k: np.full(n, v, dtype=object) for k, v in (base or {}).items() if k not in space}
    for name, dist in space.items():
        cols[name] = _draw(dist, n, rng)
    return pd.DataFrame(cols)


def score_candidates(
    predictor, candidates: pd.DataFrame, kappa: float = 0.0, top: int | None = None
) -> pd.DataFrame:
    """The ``top`` candidates (all if None), best first, with ``pred_acc``, ``pred_std`` and
    ``score = pred_acc + kappa * pred_std``.

    ``kappa > 0`` is an upper-confidence-bound acquisition (Srinivas et al., ICML 2010).
    """
    mean, std = predictor.predict(candidates, return_std=True)
    score = mean + kappa * std
    if top is not None and top < len(score):
        idx = np.argpartition(-score, top - 1)[:top]
    else:
        idx = np.arange(len(score))
    idx = idx[np.argsort(-score[idx], kind="stable")]
    out = candidates.iloc[idx].assign(pred_acc=mean[idx], pred_std=std[idx], score=score[idx])
    return out


def suggest_untried(
    configs: list[dict[str, Any]],
    runs: pd.DataFrame,
    curves: pd.DataFrame,
    n: int = 10,
    kappa: float = 0.0,
    predictor=None,
) -> pd.DataFrame:
    """The ``n`` most promising configs not yet finished in the run table, predicted by a model fitted on it.

    ``configs`` are run configs (e.g. a sweep spec's); the result has their columns plus ``run_id``,
    ``pred_acc``, ``pred_std`` and ``score``.
    """
    from traindx.experiments.runner import run_id
    from traindx.search.predictor import PerformancePredictor

    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    if runs.empty or "run_id" not in runs:
        raise InputError("the run store has no runs to learn from; run `traindx sweep` on a spec first")
    if "status" in runs:
        runs = runs[runs["status"] == "finished"]
    done = set(runs["run_id"])
    todo = [dict(c, run_id=run_id(c)) for c in configs]
    todo = [c for c in todo if c["run_id"] not in done]
    if not todo:
        raise InputError("every configuration of the spec is already in the store; widen the spec's space")
    pred = predictor if predictor is not None else PerformancePredictor().fit(runs, curves)
    cand = pd.DataFrame(todo).drop(columns=["part"], errors="ignore")
    return score_candidates(pred, cand, kappa=kappa, top=n).reset_index(drop=True)
