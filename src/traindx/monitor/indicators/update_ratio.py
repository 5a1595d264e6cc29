"""Update ratio ||dW||/||W|| per optimizer step (median weight matrix), and its sum over the run, the weights'
growth from their init: the learning rate's visible effect."""

from __future__ import annotations

import math
import statistics

from traindx.monitor.indicator import Indicator, Threshold
from traindx.monitor.schedule import STEADY_STEP
from traindx.signals import loss as lsig
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
    is heading to. Never both, never "too low" on a climbing loss, and never "too low" once a schedule has
    brought the learning rate under a tenth of its peak (cosine and OneCycle end near zero on purpose: a run
    that learns nothing, random labels say, would otherwise read as a learning rate too low at its end).

    At each epoch end "too low" is judged again from the latest measured ratio and the losses of the epoch
    (read with ``epoch_end`` anyway), so a run whose budget affords few samples (a short MLP run) is still
    judged once its loss shows it is stuck. The ratio must come from a steady step (``STEADY_STEP`` on; the
    schedule takes one such sample at an epoch end if the budget paid for none), and it stands for the
    current steps only while the learning rate is unchanged (no warm-up or schedule since); only the
    stronger loss evidence counts then: not learned at all, at two epoch ends out of three.

    Too high can also leave no trace in a single step: schedules that start low (OneCycle, warm-up, RAdam's
    rectification) spread a learning rate far too high over many steps. Behind a normalisation layer a weight's
    scale does not change the output, so each update is orthogonal to the weight and its squared norm grows by
    ``lr^2 ||g||^2`` per step (van Laarhoven 2017; Hoffer et al. 2018; Li & Arora 2020): at a learning rate far
    too high the norms blow up early, the effective step ``lr / ||w||^2`` collapses and the loss freezes near
    its start. So at each epoch end the median weight layer's RMS is also read against its RMS before the first
    update (``layer_grads`` samples; layers that start below the healthy init band grow by design and are left
    out, and a line search picks its own step lengths): grown by ``grown`` while the epoch's training loss is
    still within ``STALLED_PROGRESS`` of the start, at two epoch ends out of three, is too high as well.
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
    events = frozenset({"start", "sample", "update", "epoch"})
    needs = frozenset({"snapshot", "layer_grads"})
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
        "grown": Threshold(
            weights.GROWTH_HIGH, "signals.weights.GROWTH_HIGH (measured on the realistic fault suite)"
        ),
        "learned": Threshold(lsig.STALLED_PROGRESS, "signals.loss.STALLED_PROGRESS"),
        "annealed": Threshold(
            0.1,
            "a learning rate under a tenth of the run's peak is a schedule's tail (the last tenth of a cosine "
            "or OneCycle, a step schedule's second decay): small steps there are by design",
        ),
    }

    def __init__(self) -> None:
        self._grown: set[str] = set()
        self._last: tuple[int, float, tuple[float, ...] | None] | None = None  # step, median ratio, lrs
        self._peak_lr = 0.0  # the largest learning rate seen at a sample
        self._init_rms: dict[str, float] = {}  # weight layer -> its RMS before the first update
        self._growth: float | None = None  # the median layer's RMS over its init RMS, at the latest sample

    def update(self, ctx, values) -> None:
        if "init_scales" in values:
            # weights that start below the healthy init band (a zero-initialized head, LoRA's B) take large
            # relative steps by design while they grow: they do not count for the one-step rule
            self._grown = {f"{n}.weight" for n, v in values["init_scales"] if v < weights.INIT_LOW}
            fans = {n: weights.fan_in(w.shape) for n, w in ctx.probe.layers if w.dim() >= 2}
            # init_scales carry std(W) * sqrt(fan_in); a fresh zero-mean init's RMS is its std
            self._init_rms = {
                n: v / math.sqrt(fans[n])
                for n, v in values["init_scales"]
                if v >= weights.INIT_LOW and n in fans
            }
            return
        if "layers" in values:
            self._measure_growth(ctx, values["layers"])
            return
        if "ratios" not in values:
            self._judge_epoch(ctx)
            self._judge_growth(ctx)
            return
        mats = [r for _, dim, r in values["ratios"] if dim >= 2 and math.isfinite(r)]
        judged = [
            r for n, dim, r in values["ratios"] if dim >= 2 and math.isfinite(r) and n not in self._grown
        ]
        if not mats:
            return
        med = statistics.median(mats)
        ctx.record("update_ratio", med)
        lrs = _learning_rates(ctx.optimizer)
        self._last = (ctx.step, med, lrs)
        if lrs:
            self._peak_lr = max(self._peak_lr, *lrs)
        annealed = self._annealed(lrs)
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
        low = ctx.persist(med < self.t("low") and slow and not climbing and not annealed, key="low")
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
        if self._annealed(lrs):
            return
        if ctx.has("lr_too_high"):
            return
        stuck = lt.stuck() and not (lt.rising() or lt.diverging())
        if ctx.persist(med < self.t("low") and stuck, key="epoch_low"):
            self._fire_low(ctx, med, f" (measured at step {step}, learning rate unchanged since)")

    def _measure_growth(self, ctx, layers) -> None:
        grown = [
            wnorm / math.sqrt(numel) / self._init_rms[name]
            for name, _g, numel, wnorm in layers
            if name in self._init_rms and numel > 0 and self._init_rms[name] > 0 and math.isfinite(wnorm)
        ]
        if grown:
            self._growth = statistics.median(grown)
            ctx.record("weight_growth", self._growth)

    def _judge_growth(self, ctx) -> None:
        """Epoch end: weights grown far beyond their init while the training loss is stuck at its start."""
        # a line search picks each step's length itself, so growth says nothing about a learning rate there
        # (L-BFGS fitting digits grows its weights 10x in a healthy run of the fault suite)
        if self._growth is None or _line_search(ctx.optimizer) or ctx.has("lr_too_high"):
            return
        tl = next((e["train_loss"] for e in reversed(ctx.epochs) if "train_loss" in e), None)
        base = ctx.loss.baseline()
        if tl is None or not base > 0:
            return
        level, g = tl / base, self._growth
        stalled = math.isfinite(level) and level > 1.0 - self.t("learned")
        if ctx.persist(g > self.t("grown") and stalled, k=2, n=3, key="grown"):
            ctx.status("warning", g, f"weights at {g:.1f}x their initial scale")
            ctx.fire(
                "lr_too_high",
                "warning",
                f"the weights grew to {g:.1f}x their initial scale (median layer; healthy runs stay under "
                f"{self.t('grown'):g}x) while the training loss is still at {100 * level:.0f}% of its start",
                value=g,
            )

    def _annealed(self, lrs: tuple[float, ...] | None) -> bool:
        """Whether a schedule has brought the learning rate down to its tail (``annealed`` x its peak so far)."""
        return bool(lrs) and max(lrs) < self.t("annealed") * self._peak_lr

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
