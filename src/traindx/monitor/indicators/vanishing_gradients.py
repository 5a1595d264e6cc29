"""Vanishing gradients: the early weight layers get a tiny share of the last layer's gradient."""

from __future__ import annotations

import math

from traindx.monitor.indicator import Indicator, Threshold
from traindx.signals import gradients


class VanishingGradients(Indicator):
    """At each epoch end the latest measured ratio is judged again against the epoch's losses: the ratio is
    a property of the architecture and its init (Glorot & Bengio 2010 measure it at init), so a run whose
    budget affords few samples is judged once its loss shows it is stuck and flat."""

    name = "vanishing_gradients"
    codes = {
        "vanishing_gradients": (
            "early layers get almost no gradient (deep sigmoid/tanh stack or too small init)",
            "use ReLU/GELU activations with He init, add BatchNorm/LayerNorm or residual connections",
        )
    }
    events = frozenset({"sample", "epoch"})
    needs = frozenset({"layer_grads"})
    thresholds = {"ratio": Threshold(gradients.VANISHING_RATIO, "signals.gradients.VANISHING_RATIO")}

    def off_reason(self, model) -> str | None:
        return None if model.layers else "no Linear/Conv layers"

    def __init__(self) -> None:
        self._last: tuple[float, str, str] | None = None  # ratio, first and last layer of the latest sample

    def update(self, ctx, values) -> None:
        if "layers" not in values:  # epoch end
            if self._last is not None and not math.isnan(ctx.loss.progress()):
                self._judge(ctx, *self._last, key="epoch")
            return
        layer_vals = values["layers"]
        if len(layer_vals) < 2:
            ctx.status("off", None, "needs >= 2 layers with gradients")
            return
        ratio = gradients.vanishing_ratio([gradients.rms(g, numel) for _, g, numel, _ in layer_vals])
        if math.isnan(ratio):
            return
        ctx.record("vanishing_ratio", ratio)
        self._last = (ratio, layer_vals[0][0], layer_vals[-1][0])
        if math.isnan(ctx.loss.progress()):
            ctx.status("pending", ratio, f"early/last layer grad RMS {ratio:.2g}")
            return
        self._judge(ctx, *self._last)

    def _judge(self, ctx, ratio: float, first: str, last: str, key: str = "") -> None:
        # stuck and flat: right after the first judged steps a fast-learning run can still be within 10% of
        # its start (a BERT whose first attention layer gets 1e-5 of the head's gradient by design)
        bad = ratio < self.t("ratio") and ctx.loss.stuck() and ctx.loss.flat()
        if ctx.persist(bad, key=key):
            severity = "critical" if ratio < self.t("ratio") ** 2 else "warning"
            ctx.status(severity, ratio, f"early layers get {ratio:.1e} of {last}'s gradient")
            ctx.fire(
                "vanishing_gradients",
                severity,
                f"the early layers (from {first!r}) get at most {ratio:.1e}x the last layer's gradient RMS "
                "while the loss is stuck",
                value=ratio,
                layer=first,
            )
        else:
            ctx.status("ok", ratio, "early/last layer gradient RMS")
