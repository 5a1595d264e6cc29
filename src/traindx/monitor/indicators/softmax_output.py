"""Probabilities fed to a loss that expects logits: the model's output rows already sum to one.

``nn.CrossEntropyLoss`` applies log-softmax itself. Given probabilities p (a softmax already applied), its
loss -log softmax(p)_y cannot go below ``log(1 + (C - 1) / e)`` (p one-hot: 1.46 nats for 10 classes) and its
gradients shrink by the softmax's Jacobian, so the run creeps towards that bound and stays there. A model
that outputs probabilities on purpose and takes their log itself (NLLLoss on log p, Keras' from_logits=False)
goes below the bound, so the finding needs the loss to stay at or above it and flatten there.
"""

from __future__ import annotations

import math

from traindx.monitor.indicator import Indicator, Threshold
from traindx.monitor.loss_track import WINDOW
from traindx.signals import loss as lsig


def probability_floor(n_classes: int) -> float:
    """Lowest cross-entropy reachable when the "logits" are probabilities: ``log(1 + (C - 1) / e)``.

    Example:
        >>> round(probability_floor(10), 3)
        1.461
    """
    return math.log1p((n_classes - 1) / math.e)


class SoftmaxOutput(Indicator):
    name = "softmax_output"
    codes = {
        "softmax_before_loss": (
            "the model outputs probabilities (a softmax layer) and the loss applies softmax again "
            "(nn.CrossEntropyLoss expects raw logits), so the loss cannot fall below log(1 + (C-1)/e)",
            "remove the final softmax and pass the raw logits to CrossEntropyLoss (or use NLLLoss on log-softmax)",
        )
    }
    events = frozenset({"sample"})
    needs = frozenset({"output"})
    thresholds = {
        "near_floor": Threshold(
            0.97,
            "the loss never goes 3% below log(1+(C-1)/e) in this fault (a bound, not a fit); 3% for noise",
        ),
        "at_floor": Threshold(1.05, "within 5% above the bound: the run is pinned against it"),
    }

    def update(self, ctx, values) -> None:
        out = values["output"]
        if not out:
            return
        simplex, width = out[0]
        lt = ctx.loss
        if width < 2 or len(lt) < 3 * WINDOW:
            return
        bound = probability_floor(int(width))
        recent, best = lt.recent(), lt.best
        window = max(WINDOW, min(len(lt) // 10, 1000))
        tail = lt.values[-10 * window :]
        flat = lsig.plateau_upper(tail, window) < lsig.PLATEAU_UPPER
        pinned = best >= self.t("near_floor") * bound and (flat or recent <= self.t("at_floor") * bound)
        if ctx.persist(simplex > 0.5 and pinned, k=3, n=3):
            ctx.status(
                "warning", recent, f"outputs are probabilities; loss {recent:.3g} >= bound {bound:.3g}"
            )
            ctx.fire(
                "softmax_before_loss",
                "warning",
                f"the model's outputs are probability vectors over {int(width)} classes and the loss stays at "
                f"{recent:.3g}, above the {bound:.3g} that cross-entropy on probabilities cannot go below",
                value=recent,
            )
        else:
            ctx.status("ok", simplex, "outputs are probabilities" if simplex > 0.5 else "outputs are logits")
