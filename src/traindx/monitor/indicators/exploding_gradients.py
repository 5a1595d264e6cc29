"""Exploding gradients: the global gradient norm grows far beyond its early and its recent level."""

from __future__ import annotations

import math
import statistics
from collections import deque

from traindx.monitor.indicator import Indicator, Threshold
from traindx.signals import gradients

#: Samples in the rolling reference (the median of the previous samples' norms).
ROLLING = 8


class ExplodingGradients(Indicator):
    """Growth = max(norm / smallest early norm, norm / median of the last samples).

    Growth alone can be healthy (gradients grow as the loss sharpens and from a tiny init norm); with a stuck
    or climbing loss it is not (AutoTrainer gates gradient symptoms on non-convergence the same way), and
    beyond 50x the warning factor it is critical whatever the loss does.
    """

    name = "exploding_gradients"
    codes = {
        "exploding_gradients": (
            "gradients grow without bound: learning rate too high, missing optimizer.zero_grad(), or no normalization",
            "call optimizer.zero_grad() every step, lower the learning rate 3-10x, clip gradients at norm 1.0",
        )
    }
    events = frozenset({"sample"})
    needs = frozenset({"grad_norm"})
    thresholds = {
        "factor": Threshold(gradients.EXPLODING_FACTOR, "signals.gradients.EXPLODING_FACTOR"),
        "critical": Threshold(
            50 * gradients.EXPLODING_FACTOR, "1000x: no healthy run in the fault benchmarks comes within 50x"
        ),
    }

    def __init__(self) -> None:
        self._early: list[float] = []
        self._recent: deque[float] = deque(maxlen=ROLLING)

    def update(self, ctx, values) -> None:
        gn = values["grad_norm"]
        if not values["n_grads"] or not math.isfinite(gn):
            return
        if len(self._early) < 3:
            self._early.append(gn)
            self._recent.append(gn)
            ctx.status("ok", gn, "measuring the early gradient norm")
            return
        early = min(self._early)  # the smallest early norm: robust to a blow-up in the first steps
        rolling = statistics.median(self._recent)
        self._recent.append(gn)
        ratio = max(gradients.growth(gn, early), gradients.growth(gn, rolling))
        if math.isnan(ratio):
            return
        ctx.record("gradient_growth", ratio)
        critical = ratio >= self.t("critical")
        grown = critical or (ratio >= self.t("factor") and ctx.loss.not_improving())
        if ctx.persist(grown):
            severity = "critical" if critical else "warning"
            ctx.status(severity, ratio, f"norm {gn:.3g} = {ratio:.0f}x its early/recent value")
            ctx.fire(
                "exploding_gradients",
                severity,
                f"gradient norm {gn:.3g} is {ratio:.0f}x its reference (early {early:.3g}, recent {rolling:.3g})",
                value=ratio,
            )
        else:
            ctx.status("ok", ratio, f"{ratio:.1f}x the early/recent norm")
