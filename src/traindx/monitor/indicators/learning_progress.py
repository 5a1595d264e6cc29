"""How far the run has come: recent loss below its start, and towards the floor it is heading to (info)."""

from __future__ import annotations

import math

from traindx.monitor.indicator import Indicator


class LearningProgress(Indicator):
    name = "learning_progress"
    events = frozenset({"sample"})

    def update(self, ctx, values) -> None:
        lt = ctx.loss
        p = lt.progress()
        if math.isnan(p):
            return
        f = lt.floor()
        if math.isfinite(f):
            ctx.record("loss_floor", f)
        rem = lt.remaining()
        tail = (
            f"; {100 * (1 - rem):.0f}% of the way to its estimated floor {f:.3g}"
            if math.isfinite(rem)
            else ""
        )
        ctx.status("ok", p, f"loss {100 * p:.0f}% below its start{tail}")
