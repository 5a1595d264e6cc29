"""Initial weight scale: std(W) * sqrt(fan_in) of every weight layer, read once before the first update."""

from __future__ import annotations

import math

from traindx.monitor.indicator import Indicator, Threshold
from traindx.signals import weights


class WeightInit(Indicator):
    """Out of the healthy band is ``poor_init``; below it only counts in a plain (normalisation-free) net.

    A small scale is a deliberate, healthy choice where normalisation restores the signal's scale (BatchNorm/
    LayerNorm make a layer's output invariant to its weight scale: Ioffe & Szegedy 2015) or where residual
    branches are scaled down on purpose (GPT-2's 0.02/sqrt(2 n_layer) residual projections, Radford et al. 2019;
    Fixup, Zhang et al. 2019), and for the output layer (fresh fine-tuning heads), so those are held to the upper
    bound only.
    """

    name = "weight_init"
    codes = {
        "poor_init": (
            "initial weight scale is far from the scale that keeps signals stable through depth",
            "use the framework default, He (ReLU) or Glorot (tanh/sigmoid) initialization",
        )
    }
    events = frozenset({"start"})
    thresholds = {
        "low": Threshold(weights.INIT_LOW, "signals.weights.INIT_LOW (He et al. 2015, Glorot & Bengio 2010)"),
        "high": Threshold(
            weights.INIT_HIGH, "signals.weights.INIT_HIGH (He et al. 2015, Glorot & Bengio 2010)"
        ),
    }

    def off_reason(self, model) -> str | None:
        return None if model.layers else "no Linear/Conv layers"

    def update(self, ctx, values) -> None:
        scales = values["init_scales"]
        if not scales:
            return
        last = scales[-1][0]
        low_ok = ctx.probe.normalized
        bad = [
            (n, s)
            for n, s in scales
            if s > self.t("high") or (s < self.t("low") and n != last and not low_ok)
        ]
        worst = max(scales, key=lambda ns: abs(math.log(max(ns[1], 1e-12) / 0.577)))
        if bad:
            n, s = max(bad, key=lambda ns: abs(math.log(max(ns[1], 1e-12))))
            ctx.status("warning", s, f"{n}: std*sqrt(fan_in) = {s:.3g}")
            ctx.fire(
                "poor_init",
                "warning",
                f"layer {n!r} starts with std*sqrt(fan_in) = {s:.3g} (healthy {self.t('low')}-{self.t('high')}; "
                f"PyTorch default 0.58, He 1.41); {len(bad)} layer(s) out of range",
                value=s,
                layer=n,
            )
        else:
            ctx.status("ok", worst[1], "std*sqrt(fan_in) at init, furthest layer")
