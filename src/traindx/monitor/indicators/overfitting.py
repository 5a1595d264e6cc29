"""Overfitting: validation stops following training for several epochs in a row."""

from __future__ import annotations

from traindx.monitor.indicator import Indicator, Threshold
from traindx.signals import loss as lsig


class Overfitting(Indicator):
    name = "overfitting"
    codes = {
        "overfitting": (
            "the model memorises the training set: training keeps improving while validation does not",
            "add data or augmentation, weight decay or dropout, or stop earlier",
        )
    }
    events = frozenset({"epoch"})
    thresholds = {
        "acc_gap": Threshold(lsig.ACC_GAP, "signals.loss.ACC_GAP (3x LCDB val-test noise)"),
        "val_rise": Threshold(lsig.VAL_RISE, "signals.loss.VAL_RISE"),
        "epochs": Threshold(lsig.VAL_RISE_EPOCHS, "signals.loss.VAL_RISE_EPOCHS (Prechelt 1998, UP_s)"),
    }

    def update(self, ctx, values) -> None:
        ep = ctx.epochs
        last = ep[-1]
        gap_flag = rising = None
        if "train_acc" in last and "val_acc" in last:
            gap = lsig.acc_gap(last["train_acc"], last["val_acc"])
            gap_flag = gap >= self.t("acc_gap")
            value, detail = gap, f"train-val accuracy gap {gap:.3f}"
        vl = [e["val_loss"] for e in ep if "val_loss" in e]
        tl = [e["train_loss"] for e in ep if "train_loss" in e]
        if len(vl) >= 2 and len(tl) >= 2:
            n = lsig.rising_epochs(vl)
            # a rising val loss while val accuracy still reaches new bests is over-confidence, not lost
            # generalization
            va = [e["val_acc"] for e in ep if "val_acc" in e]
            acc_stuck = n == 0 or len(va) <= n or max(va[-n:]) <= max(va[:-n])
            # and the rise is not receding: Prechelt's UP_s counts successive increases, so a validation loss
            # that already falls back towards its best (L-BFGS's noisy one on digits) is no trend
            receding = n >= 2 and vl[-1] < vl[-n]
            rising = (
                n >= self.t("epochs") and tl[-1] < tl[-1 - min(n, len(tl) - 1)] and acc_stuck and not receding
            )
            if gap_flag is None or rising:
                rise = lsig.val_rise(vl)
                value, detail = rise, f"val loss {100 * rise:.0f}% above its best for {n} epochs"
        if gap_flag is None and rising is None:
            if "val_acc" not in last and "val_loss" not in last:
                ctx.status("off", None, "needs validation metrics")
            return
        # both signs must last VAL_RISE_EPOCHS epochs in a row: a two-epoch excursion of validation metrics is
        # what an unstable optimizer produces too (RMSprop on digits in the held-out fault runs)
        if ctx.persist(bool(gap_flag), k=int(self.t("epochs"))) or rising:
            ctx.status("warning", value, detail)
            ctx.fire("overfitting", "warning", f"{detail} at epoch {ctx.epoch}", value=value)
        else:
            ctx.status("ok", value, detail)
