"""Input scale: the model's float input is far from unit scale (e.g. raw 0-255 pixels)."""

from __future__ import annotations

from traindx.monitor.indicator import Indicator, Threshold
from traindx.signals import activations


class InputScale(Indicator):
    name = "input_scale"
    codes = {
        "input_scale": (
            "inputs are not normalized (e.g. raw 0-255 pixels), which scales every first-layer signal",
            "scale inputs to [0, 1] or standardize them to zero mean and unit variance",
        )
    }
    events = frozenset({"sample"})
    needs = frozenset({"input"})
    thresholds = {
        "rms": Threshold(
            activations.INPUT_RMS_LIMIT,
            "signals.activations.INPUT_RMS_LIMIT (LeCun et al. 1998, Efficient BackProp)",
        )
    }

    def update(self, ctx, values) -> None:
        in_rms = values["input_rms"]
        if not in_rms:
            ctx.status("off", None, "input is not a float tensor")
            return
        v = in_rms[0]
        ctx.record("input_rms", v)
        if v > self.t("rms"):
            ctx.status("warning", v, f"input RMS {v:.3g}")
            ctx.fire("input_scale", "warning", f"model input RMS is {v:.3g} (expected about 1)", value=v)
        else:
            ctx.status("ok", v, "input RMS")
