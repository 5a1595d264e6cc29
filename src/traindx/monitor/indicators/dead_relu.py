"""Dead ReLU units: units that output zero for every example of a batch."""

from __future__ import annotations

from traindx.monitor.indicator import Threshold
from traindx.monitor.indicators.share import ShareIndicator
from traindx.signals import activations


class DeadRelu(ShareIndicator):
    name = "dead_relu"
    codes = {
        "dead_relu": (
            "ReLU units output zero for every example (large negative bias, bad init or a too-high learning rate)",
            "use He init with zero bias, LeakyReLU/GELU, or lower the learning rate",
        )
    }
    needs = frozenset({"relu"})
    thresholds = {
        "warning": Threshold(
            activations.DEAD_WARNING, "signals.activations.DEAD_WARNING (DeepDiagnosis: 70%)"
        ),
        "critical": Threshold(activations.DEAD_CRITICAL, "signals.activations.DEAD_CRITICAL"),
    }
    key, signal, code = "dead", "dead_fraction", "dead_relu"
    detail_bad = "{pct}% of {n} ReLU units never fire"
    symptom = "{pct}% of {n} ReLU units output zero for the whole batch"
    detail_ok = "{pct}% of units dead"

    def off_reason(self, model) -> str | None:
        return None if model.relu else "no nn.ReLU modules"
