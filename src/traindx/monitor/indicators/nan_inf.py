"""Non-finite loss, gradient norm or epoch metric: the run has broken numerically."""

from __future__ import annotations

import math

from traindx.monitor.indicator import Indicator, Threshold


class NanInf(Indicator):
    """Fires on the first NaN/inf loss, gradient norm (outside AMP's skipped steps) or epoch metric."""

    name = "nan_inf"
    codes = {
        "nan_inf": (
            "the optimisation diverged (learning rate too high) or the data/loss produced inf (log(0), x/0)",
            "lower the learning rate 3-10x, clip gradients (clip_grad_norm_ 1.0), check inputs for NaN",
        )
    }
    events = frozenset({"loss", "sample", "epoch"})
    needs = frozenset({"grad_norm"})
    thresholds = {"finite": Threshold(math.inf, "IEEE 754: any NaN or inf value is a failure, no tuning")}

    def update(self, ctx, values) -> None:
        if "loss" in values:
            step, v = values["step"], values["loss"]
            if math.isfinite(v):
                if ctx.level() == "pending":
                    ctx.status("ok", 0.0, "loss and gradients finite")
                return
            ctx.status("critical", v, f"loss {v} at step {step}")
            ctx.fire("nan_inf", "critical", f"loss is {v} at step {step}", step=step, value=v)
        elif "grad_norm" in values:
            gn = values["grad_norm"]
            if not values["n_grads"] or math.isfinite(gn) or ctx.grad_scaler is not None:
                return  # AMP: the scaler skips this step and lowers its scale; that is its normal work
            ctx.status("critical", gn, f"gradient norm {gn} at step {ctx.step}")
            ctx.fire("nan_inf", "critical", f"gradient norm is {gn} at step {ctx.step}", value=gn)
        else:
            bad = [k for k, v in values.items() if not math.isfinite(v)]
            if bad:
                ctx.fire("nan_inf", "critical", f"epoch metric(s) {bad} are not finite")
