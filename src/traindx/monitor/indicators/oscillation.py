"""Oscillation: window means of the loss swing up and down without trending down."""

from __future__ import annotations

import math

from traindx.monitor.indicator import Indicator, Threshold
from traindx.signals import loss as lsig

WINDOW = 10


class Oscillation(Indicator):
    name = "oscillation"
    codes = {
        "oscillation": (
            "the loss swings up and down without trending down (step size too large for the curvature)",
            "lower the learning rate 2-5x or raise the batch size",
        )
    }
    events = frozenset({"sample"})
    thresholds = {
        "sign_changes": Threshold(lsig.OSC_SIGN_CHANGES, "signals.loss.OSC_SIGN_CHANGES"),
        "swing": Threshold(lsig.OSC_SWING, "signals.loss.OSC_SWING"),
    }

    def update(self, ctx, values) -> None:
        lt = ctx.loss
        if len(lt) < 6 * WINDOW:
            return
        changes, swing = lsig.oscillation(lt.values[-10 * WINDOW :], WINDOW)
        bad = changes >= lsig.OSC_SIGN_CHANGES and swing >= lsig.OSC_SWING and lt.not_improving()
        if ctx.persist(bad):
            ctx.status("warning", swing, f"swings {100 * swing:.0f}% between windows")
            ctx.fire(
                "oscillation",
                "warning",
                f"loss swings {100 * swing:.0f}% up and down between {WINDOW}-step windows without "
                "trending down",
                value=swing,
            )
        elif not math.isnan(swing):
            ctx.status("ok", swing, f"{100 * changes:.0f}% direction changes")
