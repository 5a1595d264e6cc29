"""Divergence: the loss climbed well above its own best after progress, or above where it started."""

from __future__ import annotations

import math

from traindx.monitor.indicator import Indicator, Threshold
from traindx.signals import loss as lsig


class Divergence(Indicator):
    """Judged on the run's own best smoothed loss and start, whatever the optimizer or loss scale, at each
    sample and again at each epoch end (the epoch's losses are on the host then anyway), so a blow-up late in
    a run whose budget affords few samples is still seen; there an epoch mean above ``over_start`` x the
    start confirms a diverging recent loss at once."""

    name = "divergence"
    codes = {
        "divergence": (
            "the training loss climbed back up after learning: the optimizer steps overshoot (learning rate too "
            "high for this stage, momentum or Adam state gone bad) or gradients accumulate across steps",
            "lower the learning rate 3-10x or add a decay schedule, clip gradients at norm 1.0, check that "
            "optimizer.zero_grad() runs every step",
        )
    }
    events = frozenset({"sample", "epoch"})
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
        if "grad_norm" in values:  # a sample
            fire = ctx.persist(bad)
        else:
            # an epoch end reads the recent window the last sample read, so it adds no persistence of its
            # own (counted twice, one transient spike of a BatchNorm CNN read as divergence); the whole
            # epoch is the second reading instead: its mean training loss above the start's blow-up bound
            tl = values.get("train_loss")
            fire = bad and tl is not None and base > 0 and not tl <= self.t("over_start") * base
        if fire:
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
