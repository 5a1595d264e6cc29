"""A single step whose loss jumps far above the running average and above where the run started."""

from __future__ import annotations

import math

from traindx.monitor.indicator import Indicator, Threshold
from traindx.signals import loss as lsig


class LossSpike(Indicator):
    name = "loss_spike"
    codes = {
        "loss_spike": (
            "a step undid the learning so far (learning rate too high, a bad batch, or numerical instability)",
            "lower the learning rate, add warm-up or gradient clipping, and check the batch that caused it",
        )
    }
    events = frozenset({"loss"})
    thresholds = {
        "over_ema": Threshold(lsig.SPIKE_OVER_EMA, "signals.loss.SPIKE_OVER_EMA: 3x the running average"),
        "over_baseline": Threshold(
            lsig.SPIKE_OVER_BASELINE,
            "signals.loss.SPIKE_OVER_BASELINE: above 1.5x the start, so late minibatch noise does not count",
        ),
    }

    def __init__(self) -> None:
        self._ema: float | None = None

    def update(self, ctx, values) -> None:
        step, value = values["step"], values["loss"]
        if not math.isfinite(value):
            return
        base = ctx.loss.baseline()
        if self._ema is not None and not math.isnan(base):
            if lsig.is_spike(value, self._ema, base):
                ctx.status("warning", value, f"{value:.3g} vs running {self._ema:.3g}")
                ctx.fire(
                    "loss_spike",
                    "warning",
                    f"loss jumped to {value:.3g} at step {step}, {value / self._ema:.1f}x its running average "
                    f"and {value / base:.1f}x the starting loss",
                    step=step,
                    value=value,
                )
            else:
                ctx.status("ok", value, f"running average {self._ema:.3g}")
        # the running average ignores values that are themselves spikes, so one spike is not hidden
        self._ema = value if self._ema is None else 0.9 * self._ema + 0.1 * min(value, 3 * self._ema)
