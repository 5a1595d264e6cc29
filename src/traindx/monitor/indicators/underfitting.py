"""Underfitting: the epoch training loss flattened before the run learned anything."""

from __future__ import annotations

import math

from traindx.monitor.indicator import Indicator, Threshold
from traindx.signals import loss as lsig


class Underfitting(Indicator):
    """Scale-free: "flat" is judged epoch to epoch and "has not learned" against the run's own start, never
    against a loss level (token and character models keep a large irreducible loss)."""

    name = "underfitting"
    codes = {
        "underfitting": (
            "the training loss flattened close to where it started: the model does not fit even the training "
            "data (too small, a broken input pipeline, or labels unrelated to the inputs)",
            "check that inputs and labels match, then use a larger model (wider/deeper), train longer, or raise "
            "the learning rate",
        )
    }
    events = frozenset({"epoch"})
    thresholds = {
        "flat": Threshold(lsig.UNDERFIT_FLAT, "signals.loss.UNDERFIT_FLAT"),
        "learned": Threshold(lsig.STALLED_PROGRESS, "signals.loss.STALLED_PROGRESS"),
    }

    def update(self, ctx, values) -> None:
        tl = [e["train_loss"] for e in ctx.epochs if "train_loss" in e]
        if len(tl) < 2:
            return
        base = ctx.loss.baseline()
        if math.isnan(base):
            base = tl[0]
        gain = 1.0 - tl[-1] / tl[-2] if tl[-2] > 0 else float("nan")
        level = tl[-1] / base if base > 0 else float("nan")
        stuck = level > 1.0 - self.t("learned")
        if ctx.persist(gain < self.t("flat") and stuck, k=2):
            ctx.status("warning", level, f"train loss flat at {100 * level:.0f}% of its start")
            ctx.fire(
                "underfitting",
                "warning",
                f"training loss flattened at {tl[-1]:.3g}, {100 * level:.0f}% of where it started "
                f"(last epoch improved {100 * gain:.1f}%)",
                value=level,
            )
        else:
            ctx.status("ok", level, f"train loss at {100 * level:.0f}% of its start")
