"""Plateau: the loss is confidently flat while the run has not learned."""

from __future__ import annotations

import math

from traindx.monitor.indicator import Indicator, Threshold
from traindx.monitor.loss_track import WINDOW
from traindx.signals import loss as lsig


class Plateau(Indicator):
    name = "plateau"
    codes = {
        "plateau": (
            "the loss stopped improving before the run learned anything (labels noisy or random, learning rate "
            "off, or a broken pipeline)",
            "check the labels and the data pipeline, try a 10x larger or smaller learning rate",
        )
    }
    events = frozenset({"sample"})
    thresholds = {
        "tol": Threshold(lsig.PLATEAU_TOL, "signals.loss.PLATEAU_TOL"),
        "upper": Threshold(lsig.PLATEAU_UPPER, "signals.loss.PLATEAU_UPPER (95% interval of the gain)"),
        "learned": Threshold(lsig.STALLED_PROGRESS, "signals.loss.STALLED_PROGRESS"),
    }

    def update(self, ctx, values) -> None:
        lt = ctx.loss
        n = len(lt)
        window = max(WINDOW, min(n // 10, 1000))
        if n < 3 * window:
            return
        tail = lt.values[-10 * window :]
        imp = lsig.plateau(tail, window)
        flat = (not math.isnan(imp)) and imp < lsig.PLATEAU_TOL and lt.stuck() and not lt.diverging()
        flat = flat and lsig.plateau_upper(tail, window) < lsig.PLATEAU_UPPER
        recent = lt.recent(window)
        if ctx.persist(flat):
            ctx.status("warning", imp, f"no gain over {window} steps at {recent:.3g}")
            ctx.fire(
                "plateau",
                "warning",
                f"loss flat at {recent:.3g} over the last {window} steps, "
                f"{100 * max(lt.improvement(), 0):.0f}% below its start at best",
                value=imp,
            )
        else:
            ctx.status("ok", imp, f"last {window} steps improved {100 * imp:.1f}%")
