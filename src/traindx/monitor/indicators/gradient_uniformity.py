"""mean|g|/std(g) of the last layer's gradient: how uniform its magnitudes are (info, never a finding)."""

from __future__ import annotations

import math

from traindx.monitor.indicator import Indicator


class GradientUniformity(Indicator):
    name = "gradient_uniformity"
    events = frozenset({"sample"})
    needs = frozenset({"grad_uniformity"})

    def off_reason(self, model) -> str | None:
        return None if model.layers else "no Linear/Conv layers"

    def update(self, ctx, values) -> None:
        u = values["grad_uniformity"]
        if u and math.isfinite(u[0]):
            ctx.record("grad_mean_abs_over_std", u[0])
            ctx.status("ok", u[0], "mean|g|/std(g), last layer (one batch; not GSNR)")
