"""The monitor's indicators, one per file; ``REGISTRY`` lists them in the order the live table shows them.

Adding an indicator: write one file with an :class:`~traindx.monitor.indicator.Indicator` subclass (its
codes with cause and advice, the events and sampled quantities it needs, thresholds with sources) and add it
here. The contract tests (``tests/test_indicators.py``) run over every entry.

Example:
    >>> [cls.name for cls in REGISTRY][:3]
    ['nan_inf', 'loss_spike', 'divergence']
"""

from __future__ import annotations

from traindx.monitor.indicators.dead_relu import DeadRelu
from traindx.monitor.indicators.divergence import Divergence
from traindx.monitor.indicators.eval_mode import EvalMode
from traindx.monitor.indicators.exploding_gradients import ExplodingGradients
from traindx.monitor.indicators.gradient_uniformity import GradientUniformity
from traindx.monitor.indicators.input_scale import InputScale
from traindx.monitor.indicators.learning_progress import LearningProgress
from traindx.monitor.indicators.loss_spike import LossSpike
from traindx.monitor.indicators.missing_zero_grad import MissingZeroGrad
from traindx.monitor.indicators.nan_inf import NanInf
from traindx.monitor.indicators.no_update import NoUpdate
from traindx.monitor.indicators.oscillation import Oscillation
from traindx.monitor.indicators.overfitting import Overfitting
from traindx.monitor.indicators.plateau import Plateau
from traindx.monitor.indicators.saturation import Saturation
from traindx.monitor.indicators.softmax_output import SoftmaxOutput
from traindx.monitor.indicators.underfitting import Underfitting
from traindx.monitor.indicators.update_ratio import UpdateRatio
from traindx.monitor.indicators.vanishing_gradients import VanishingGradients
from traindx.monitor.indicators.weight_init import WeightInit

REGISTRY = (
    NanInf,
    LossSpike,
    Divergence,
    LearningProgress,
    Plateau,
    Oscillation,
    ExplodingGradients,
    VanishingGradients,
    GradientUniformity,
    MissingZeroGrad,
    DeadRelu,
    Saturation,
    InputScale,
    SoftmaxOutput,
    EvalMode,
    WeightInit,
    UpdateRatio,
    NoUpdate,
    Overfitting,
    Underfitting,
)

__all__ = ["REGISTRY"]
