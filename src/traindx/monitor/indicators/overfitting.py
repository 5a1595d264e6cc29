"""Overfitting: validation stops following training for several epochs in a row.

Three signs: a train-validation accuracy gap, a rising validation loss (Prechelt's UP_s), and validation
accuracy at chance while training accuracy leaves it. The last is the signature of labels the inputs do not
predict (random labels: Zhang et al., ICLR 2017, "Understanding deep learning requires rethinking
generalization": training accuracy climbs, test accuracy stays at chance). Chance is ``1/C`` for a model whose
output rows have ``C >= 2`` entries; "at chance" is within ``Z`` standard errors of a binomial proportion,
``Z * sqrt(p (1 - p) / n)`` for ``n`` validation examples (``Monitor.epoch_end(val_size=...)``), or for
:data:`N_VAL_ASSUMED` when the size is not given (a smaller assumed ``n`` is a wider margin, so fewer alarms).

Example:
    >>> round(chance_margin(0.1, 1000), 4)
    0.0285
"""

from __future__ import annotations

import math

from traindx.monitor.indicator import Indicator, Threshold
from traindx.signals import loss as lsig

#: Validation examples assumed when ``epoch_end`` is not told: 100, a conservative lower bound (a validation
#: set below it cannot tell 10-class chance, 0.10, from 0.19 at three standard errors, so is no basis for a rule).
N_VAL_ASSUMED = 100


def chance_margin(p: float, n: float, z: float = 3.0) -> float:
    """``z`` binomial standard errors of an accuracy ``p`` measured on ``n`` examples."""
    return z * math.sqrt(p * (1.0 - p) / n)


class Overfitting(Indicator):
    name = "overfitting"
    codes = {
        "overfitting": (
            "the model memorises the training set: training keeps improving while validation does not",
            "add data or augmentation, weight decay or dropout, or stop earlier",
        )
    }
    thresholds = {
        "acc_gap": Threshold(lsig.ACC_GAP, "signals.loss.ACC_GAP (3x LCDB val-test noise)"),
        "val_rise": Threshold(lsig.VAL_RISE, "signals.loss.VAL_RISE"),
        "epochs": Threshold(lsig.VAL_RISE_EPOCHS, "signals.loss.VAL_RISE_EPOCHS (Prechelt 1998, UP_s)"),
        "chance_z": Threshold(
            3.0, "three binomial standard errors of an accuracy at chance (0.3% two-sided)"
        ),
    }
    needs = frozenset({"output"})
    events = frozenset({"epoch", "sample"})

    def __init__(self) -> None:
        self._classes = 0

    def _at_chance(self, last: dict[str, float]) -> tuple[bool, str] | None:
        """Whether validation accuracy sits at chance while training accuracy is clearly above it."""
        if self._classes < 2 or "train_acc" not in last or "val_acc" not in last:
            return None
        p = 1.0 / self._classes
        m = chance_margin(p, last.get("val_size", N_VAL_ASSUMED), self.t("chance_z"))
        tr, va = last["train_acc"], last["val_acc"]
        # the training side has left chance, and by more than the noise of a validation accuracy beside it
        flag = va <= p + m and tr > p + m and tr - va > m
        return flag, f"val accuracy {va:.3f} at chance (1/{self._classes}) while train accuracy is {tr:.3f}"

    def _rise(self, ctx, vl: list[float]) -> float:
        """The relative rise of the validation loss over its best that counts: ``val_rise`` of the best, or of
        the progress made (start - best) where that is smaller. A token model's loss keeps a large irreducible
        part (a character model falls from ln(65) = 4.2 to about 3), so 10% of its best is 0.3 nats, more than a
        quarter of all it learned; 10% of the progress is the same share of what was learned as 10% of a
        classifier's near-zero best."""
        rise = self.t("val_rise")
        best, base = min(vl), ctx.loss.baseline()
        if best > 0 and math.isfinite(base) and base > best:
            return rise * min(1.0, (base - best) / best)
        return rise

    def update(self, ctx, values) -> None:
        if "output" in values:  # a sample: the model's output width gives the number of classes
            if values["output"]:
                self._classes = int(values["output"][0][1])
            return
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
            n = lsig.rising_epochs(vl, self._rise(ctx, vl))
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
        chance = self._at_chance(last)
        # all of the last VAL_RISE_EPOCHS epochs: a healthy slow starter may sit at chance on validation for
        # an epoch or two while its training accuracy moves first
        at_chance = chance is not None and ctx.persist(chance[0], k=int(self.t("epochs")), key="chance")
        if gap_flag is None and rising is None:
            if "val_acc" not in last and "val_loss" not in last:
                ctx.status("off", None, "needs validation metrics")
            return
        # both signs must last VAL_RISE_EPOCHS epochs in a row: a two-epoch excursion of validation metrics is
        # what an unstable optimizer produces too (RMSprop on digits in the held-out fault runs)
        gapped = ctx.persist(bool(gap_flag), k=int(self.t("epochs")))
        if at_chance:
            value, detail = last["val_acc"], chance[1]
        if gapped or rising or at_chance:
            ctx.status("warning", value, detail)
            ctx.fire("overfitting", "warning", f"{detail} at epoch {ctx.epoch}", value=value)
        else:
            ctx.status("ok", value, detail)
