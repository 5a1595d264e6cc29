"""Saturation: tanh/sigmoid outputs in their flat tails, where gradients vanish."""

from __future__ import annotations

from traindx.monitor.indicator import Threshold
from traindx.monitor.indicators.share import ShareIndicator
from traindx.signals import activations


class Saturation(ShareIndicator):
    name = "saturation"
    codes = {
        "saturation": (
            "tanh/sigmoid units sit in their flat tails (weights or inputs too large), so gradients vanish",
            "use Glorot/He-scaled init, normalize inputs, add BatchNorm, or switch to ReLU/GELU",
        )
    }
    needs = frozenset({"saturation"})
    thresholds = {
        "warning": Threshold(
            activations.SATURATION_WARNING, "signals.activations.SATURATION_WARNING (DeepDiagnosis: 50%)"
        ),
        "critical": Threshold(activations.SATURATION_CRITICAL, "signals.activations.SATURATION_CRITICAL"),
    }
    key, signal, code = "saturated", "saturated_fraction", "saturation"
    detail_bad = "{pct}% of tanh/sigmoid outputs saturated"
    symptom = "{pct}% of tanh/sigmoid outputs sit in the flat tails"
    detail_ok = "{pct}% saturated"

    def off_reason(self, model) -> str | None:
        return None if model.saturating else "no nn.Tanh/nn.Sigmoid modules"
