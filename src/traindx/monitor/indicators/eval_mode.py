"""Eval mode left on: the model trains with Dropout/BatchNorm in inference behaviour."""

from __future__ import annotations

from traindx.monitor.indicator import Indicator, Threshold


class EvalMode(Indicator):
    """The root module is in eval mode on a training step (gradients flow) and it has mode-dependent modules.

    Only the root counts: freezing some BatchNorm layers in eval mode during fine-tuning is deliberate and
    common (detection models), while ``model.eval()`` left on after validation flips the root too.
    """

    name = "eval_mode"
    codes = {
        "eval_mode": (
            "the model is in eval mode while it trains (model.eval() for validation without model.train() after): "
            "Dropout is off and BatchNorm uses frozen running statistics",
            "call model.train() before the training steps of every epoch",
        )
    }
    events = frozenset({"sample"})
    needs = frozenset({"modes", "grad_norm"})
    thresholds = {"samples": Threshold(2, "two of three samples: a mode is exact, two rule out a stray call")}

    def off_reason(self, model) -> str | None:
        return None if model.mode_dependent else "no Dropout/BatchNorm modules"

    def update(self, ctx, values) -> None:
        training = values["root_training"]
        bad = not training and values["n_grads"] > 0
        if ctx.persist(bad, k=int(self.t("samples"))):
            n = len(ctx.probe.mode_dependent)
            ctx.status("warning", 0.0, "model in eval mode while training")
            ctx.fire(
                "eval_mode",
                "warning",
                f"the model is in eval mode on training steps ({n} Dropout/BatchNorm modules behave as at inference)",
            )
        else:
            ctx.status("ok", 1.0 if training else 0.0, "train mode" if training else "eval mode")
