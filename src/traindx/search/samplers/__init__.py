"""Optuna samplers driven by a performance predictor."""

from traindx.search.samplers.base import SurrogateSampler
from traindx.search.samplers.meta import MetaSampler

__all__ = ["MetaSampler", "SurrogateSampler"]
