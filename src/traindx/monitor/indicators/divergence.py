"""Divergence: the loss climbed well above its own best after progress, or above where it started."""

from __future__ import annotations

import math

from traindx.monitor.indicator import Indicator, Threshold
from traindx.signals import loss as lsig


class Divergence(Indicator):
    """Judged on the run's own best smoothed loss and start, whatever the optimizer or loss scale."""

    name = "divergence"
    codes = {
        "divergence": (
            "the training loss climbed back up after learning: the optimizer steps overshoot (learning rate too "
            "high for this stage, momentum or Adam state gone bad) or gradients accumulate across steps",
            "lower the learning rate 3-10x or add a decay schedule, clip gradients at norm 1.0, check that "
            "optimizer.zero_grad() runs every step",
        )
    }
    events = frozenset({"sample"})
    thresholds = {
        "rise_over_best": Threshold(lsig.RISE_OVER_BEST, "signals.loss.RISE_OVER_BEST (corpus measurement)"),
        "lost_gains": Threshold(
            lsig.DIVERGE_LOST_GAINS, "signals.loss.DIVERGE_LOST_GAINS (corpus measurement)"
        ),
        "over_start": Threshold(lsig.SPIKE_OVER_BASELINE, "signals.loss.SPIKE_OVER_BASELINE"),
    }

    def update(self, ctx, values) -> None:
        lt = ctx.loss
        if len(lt) < 10:
            return
        r, best, base = lt.recent(), lt.best, lt.baseline()
        bad = lt.diverging()
        if ctx.persist(bad):
            critical = not math.isfinite(r) or r > lsig.SPIKE_OVER_BASELINE * base
            where = (
                f"{r:.3g} is {r / best:.2f}x its best {best:.3g}"
                if math.isfinite(best) and best > 0 and math.isfinite(r)
                else f"{r:.3g} against a start of {base:.3g}"
            )
            ctx.status("critical" if critical else "warning", r, where)
            ctx.fire(
                "divergence",
                "critical" if critical else "warning",
                f"training loss diverges: recent {where} (start {base:.3g})",
                value=r,
            )
        else:
            ctx.status(
                "ok", r, f"recent loss {r:.3g}" + (f", best {best:.3g}" if math.isfinite(best) else "")
            )
