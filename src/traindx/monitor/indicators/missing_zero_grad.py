"""Missing ``optimizer.zero_grad()``: gradients accumulate across optimizer steps.

After ``zero_grad()`` (``set_to_none=True``, PyTorch's default since 2.0) every backward pass leaves a new
gradient tensor; without it, backward adds into the same tensor in place. So the check is exact and cheap: on
the step after a sample, is the last layer's gradient still the very same tensor, and does it still hold the
sampled gradient (it changed by less than half its norm: a fresh gradient replaces it)? A gradient norm that
grew since the run's start must agree, which keeps ``zero_grad(set_to_none=False)`` users with a slowly
changing full-batch gradient from alarming. Only checked when each ``Monitor.step`` follows exactly one
optimizer step (gradient accumulation keeps gradients on purpose).

A sum of gradients can also blow up before any check sees it "kept": once fresh gradients outgrow the sum,
each step changes it by more than half its norm. So when the gradient norm turns non-finite, the earlier
evidence is enough: the same tensor at a clean check (``set_to_none=True`` would have replaced it) and the
norm grown by ``growth`` first. The non-finite value is then the consequence, and this finding its cause.
"""

from __future__ import annotations

import math

from traindx.monitor.indicator import Indicator, Threshold


class MissingZeroGrad(Indicator):
    name = "missing_zero_grad"
    codes = {
        "missing_zero_grad": (
            "gradients are never reset: optimizer.zero_grad() is missing, so every step adds to the sum of all "
            "past gradients",
            "call optimizer.zero_grad() once per step, before loss.backward()",
        )
    }
    events = frozenset({"sample", "update"})
    needs = frozenset({"grad_norm", "snapshot"})
    thresholds = {
        "kept": Threshold(
            0.5, "a fresh gradient differs from the last by ~its norm (cos < 0.9); a kept sum by 1/steps"
        ),
        "growth": Threshold(
            3.0, "accumulated gradients grow with the steps summed; healthy norms stay within 3x early"
        ),
    }

    def __init__(self) -> None:
        self._early: list[float] = []
        self._norm = math.nan
        self._peak = math.nan  # largest finite gradient norm sampled
        self._kept_seen = False  # the gradient tensor survived a clean check (not replaced by zero_grad)
        self._replaced = False  # a clean check saw a fresh tensor: zero_grad(set_to_none=True) is called

    def update(self, ctx, values) -> None:
        if "grad_norm" in values:
            gn = values["grad_norm"]
            if values["n_grads"] and math.isfinite(gn):
                self._norm = gn
                self._peak = gn if math.isnan(self._peak) else max(self._peak, gn)
                if len(self._early) < 3:
                    self._early.append(gn)
            elif values["n_grads"] and ctx.grad_scaler is None:
                self._judge_non_finite(ctx)
            return
        reused = values.get("grad_reused")
        if reused is None:
            return
        same, change = reused
        self._kept_seen |= same
        self._replaced |= not same
        grown = bool(self._early) and self._norm >= self.t("growth") * min(self._early)
        bad = same and change < self.t("kept") and grown
        # one check is enough: the same tensor still holding the old sum, with a grown norm, has no healthy reading
        if bad:
            ctx.status("critical", change, "gradients carry over between steps")
            ctx.fire(
                "missing_zero_grad",
                "critical",
                "the gradient after an optimizer step is the previous gradient plus the new one (same tensor, "
                f"changed by {100 * change:.0f}% of its norm), and the gradient norm grew "
                f"{self._norm / min(self._early):.0f}x since the start",
                value=change,
            )
        else:
            ctx.status(
                "ok", change, "gradients reset between steps" if not same else "gradient tensor reused"
            )

    def _judge_non_finite(self, ctx) -> None:
        """A non-finite gradient norm after kept tensors and grown norms: the sum, not the lr, blew up."""
        grown = bool(self._early) and self._peak >= self.t("growth") * min(self._early)
        if self._kept_seen and not self._replaced and grown:
            ctx.status("critical", None, "gradients carried over, then became non-finite")
            ctx.fire(
                "missing_zero_grad",
                "critical",
                "the gradient norm became non-finite after the gradient tensor was carried over between "
                f"optimizer steps and its norm grew {self._peak / min(self._early):.0f}x: gradients are summed, "
                "never reset",
            )
