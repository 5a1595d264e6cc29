"""Update ratio ||dW||/||W|| per optimizer step (median weight matrix): the learning rate's visible effect."""

from __future__ import annotations

import math
import statistics

from traindx.monitor.indicator import Indicator, Threshold
from traindx.monitor.schedule import STEADY_STEP
from traindx.signals import weights


def _line_search(optimizer) -> bool:
    """Whether the optimizer picks its step length by a line search (torch's L-BFGS with
    ``line_search_fn``): a step it takes passed a sufficient-decrease test, so its size says nothing about
    the learning rate."""
    defaults = getattr(optimizer, "defaults", None) or {}
    return defaults.get("line_search_fn") is not None


def _learning_rates(optimizer) -> tuple[float, ...] | None:
    """The optimizer's learning rates as plain floats (None without an optimizer, or for tensor learning
    rates, whose read would be a host sync)."""
    groups = getattr(optimizer, "param_groups", None)
    if not groups:
        return None
    lrs = [g.get("lr") for g in groups]
    if not all(isinstance(lr, (int, float)) for lr in lrs):
        return None
    return tuple(float(lr) for lr in lrs)


class UpdateRatio(Indicator):
    """Too high: steps move the weights by a large fraction while the loss is stuck or climbing (or by half
    their norm whatever it does). Too low: tiny steps while the run is stuck, or still far from the floor it
    is heading to. Never both, and never "too low" on a climbing loss.

    At each epoch end "too low" is judged again from the latest measured ratio and the losses of the epoch
    (read with ``epoch_end`` anyway), so a run whose budget affords few samples (a short MLP run) is still
    judged once its loss shows it is stuck. The ratio must come from a steady step (``STEADY_STEP`` on; the
    schedule takes one such sample at an epoch end if the budget paid for none), and it stands for the
    current steps only while the learning rate is unchanged (no warm-up or schedule since); only the
    stronger loss evidence counts then: not learned at all, at two epoch ends out of three.
    """

    name = "update_ratio"
    codes = {
        "lr_too_high": (
            "each optimizer step changes the weights by a large fraction while the loss does not improve",
            "lower the learning rate 3-10x (or add warm-up)",
        ),
        "lr_too_low": (
            "each optimizer step barely changes the weights and the loss hardly moves",
            "raise the learning rate 10x (try a learning-rate range test)",
        ),
    }
    events = frozenset({"start", "update", "epoch"})
    needs = frozenset({"snapshot"})
    thresholds = {
        "high": Threshold(
            weights.UPDATE_HIGH, "signals.weights.UPDATE_HIGH (Karpathy, CS231n: ~1e-3 healthy)"
        ),
        "extreme": Threshold(
            weights.UPDATE_EXTREME, "signals.weights.UPDATE_EXTREME: one such step is enough to fire"
        ),
        "low": Threshold(weights.UPDATE_LOW, "signals.weights.UPDATE_LOW (10x under the CS231n band)"),
        "far_from_floor": Threshold(
            0.5, "over half of the improvement the run's own floor fit predicts is still ahead"
        ),
    }

    def __init__(self) -> None:
        self._grown: set[str] = set()
        self._last: tuple[int, float, tuple[float, ...] | None] | None = None  # step, median ratio, lrs

    def update(self, ctx, values) -> None:
        if "init_scales" in values:
            # weights that start below the healthy init band (a zero-initialized head, LoRA's B) take large
            # relative steps by design while they grow: they do not count for the one-step rule
            self._grown = {f"{n}.weight" for n, v in values["init_scales"] if v < weights.INIT_LOW}
            return
        if "ratios" not in values:
            self._judge_epoch(ctx)
            return
        mats = [r for _, dim, r in values["ratios"] if dim >= 2 and math.isfinite(r)]
        judged = [
            r for n, dim, r in values["ratios"] if dim >= 2 and math.isfinite(r) and n not in self._grown
        ]
        if not mats:
            return
        med = statistics.median(mats)
        ctx.record("update_ratio", med)
        self._last = (ctx.step, med, _learning_rates(ctx.optimizer))
        lt = ctx.loss
        climbing = lt.rising() or lt.diverging()
        # a step that moves the weights by half their norm has no healthy reading, so one is enough; a merely
        # large ratio needs a loss that does not improve, twice
        searched = _line_search(ctx.optimizer)
        extreme = bool(judged) and statistics.median(judged) > self.t("extreme") and not searched
        high = (
            ctx.persist(med > self.t("high") and lt.not_improving() and not searched, key="high") or extreme
        )
        rem = lt.remaining()
        slow = lt.stuck() or (math.isfinite(rem) and rem > self.t("far_from_floor"))
        low = ctx.persist(med < self.t("low") and slow and not climbing, key="low")
        if high:
            ctx.status("warning", med, f"steps change weights by {100 * med:.1f}%")
            ctx.fire(
                "lr_too_high",
                "warning",
                f"one step changed the weights by {100 * med:.2g}% of their norm (healthy ~0.1-1%)"
                if extreme
                else f"each step changes the weights by {100 * med:.2g}% (healthy ~0.1-1%) and the loss is not "
                "improving",
                value=med,
            )
        elif low:
            self._fire_low(ctx, med)
        else:
            ctx.status("ok", med, "||dW||/||W|| per step (median layer)")

    def _judge_epoch(self, ctx) -> None:
        """Epoch end: the latest measured ratio against the epoch's losses (see the class docstring)."""
        if self._last is None or self._last[2] is None:
            return
        step, med, lrs = self._last
        lt = ctx.loss
        if step < STEADY_STEP or lrs != _learning_rates(ctx.optimizer) or math.isnan(lt.improvement()):
            return
        if ctx.has("lr_too_high"):
            return
        stuck = lt.stuck() and not (lt.rising() or lt.diverging())
        if ctx.persist(med < self.t("low") and stuck, key="epoch_low"):
            self._fire_low(ctx, med, f" (measured at step {step}, learning rate unchanged since)")

    def _fire_low(self, ctx, med: float, when: str = "") -> None:
        imp = ctx.loss.improvement()
        gain = f"{100 * max(imp, 0):.1f}%" if math.isfinite(imp) else "nothing measurable yet"
        ctx.status("warning", med, f"steps change weights by {med:.1e}")
        ctx.fire(
            "lr_too_low",
            "warning",
            f"each step changes the weights by only {med:.1e} of their norm (healthy ~1e-3){when} and the "
            f"loss improved {gain}",
            value=med,
        )
