"""Optuna pruners driven by a performance predictor."""

from traindx.search.pruners.base import CurvePruner
from traindx.search.pruners.meta import MetaPruner

__all__ = ["CurvePruner", "MetaPruner"]
