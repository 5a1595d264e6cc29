"""No update: parameters that receive gradients never change, or the optimizer holds none of them."""

from __future__ import annotations

from traindx.monitor.indicator import Indicator, Threshold


class NoUpdate(Indicator):
    name = "no_update"
    codes = {
        "no_update": (
            "parameters that should train do not change (optimizer built on other parameters, lr 0, or step not called)",
            "build the optimizer from model.parameters() of this model and call optimizer.step() after backward",
        )
    }
    events = frozenset({"start", "update"})
    needs = frozenset({"snapshot"})
    thresholds = {
        "checks": Threshold(
            3,
            "without an optimizer handle: 3 checks 10+ steps apart, longer than any accumulation cycle tried",
        )
    }

    def __init__(self) -> None:
        self._moved: set[str] = set()

    def update(self, ctx, values) -> None:
        if "missing_from_optimizer" in values:
            trainable, missing = values["trainable"], values["missing_from_optimizer"]
            if ctx.optimizer is not None and trainable and missing == trainable:
                ctx.status("critical", 0.0, "optimizer holds none of the model's parameters")
                ctx.fire(
                    "no_update",
                    "critical",
                    f"the optimizer holds none of the model's {trainable} trainable parameters",
                )
            return
        names, changed = values["names"], values["changed"]
        self._moved.update(n for n, c in zip(names, changed, strict=True) if c)
        # a wiring fault leaves a parameter unchanged from the start; one that moved before and now rests was
        # stopped by the schedule (lr decayed to 0) or the optimizer's own convergence test (L-BFGS)
        frozen = [n for n, c in zip(names, changed, strict=True) if not c and n not in self._moved]
        # a parameter the optimizer holds and steps at lr > 0, with an optimizer step counted since the copy,
        # that still did not move was stepped below float32 resolution (|lr * step| < 6e-8 |w|): the learning
        # rate is too small for it, which lr_too_low reports from the loss; it is not frozen by the wiring
        if values["with_optimizer"]:
            stepped = dict(zip(names, values["stepped"], strict=True))
            frozen = [n for n in frozen if not stepped[n]]
        if not frozen:
            ctx.status("ok", 1.0, "all trained parameters change")
            ctx.persist(False)
            return
        # with an optimizer handle each check follows a real optimizer step; without one, wait for several
        # checks spread over steps so gradient accumulation is not mistaken for a frozen model
        waiting = values["unchanged_checks"] < self.t("checks") or values["since_snapshot"] < 10
        if not values["with_optimizer"] and not any(changed) and waiting:
            return
        if ctx.persist(True):
            share = len(frozen) / len(names)
            severity = "critical" if share == 1.0 else "warning"
            ctx.status(severity, share, f"{len(frozen)} of {len(names)} parameters unchanged")
            ctx.fire(
                "no_update",
                severity,
                f"{len(frozen)} of {len(names)} parameters with nonzero gradients did not change (e.g. {frozen[0]!r})",
                value=share,
                layer=frozen[0],
            )
