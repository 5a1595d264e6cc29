"""Probabilities fed to a loss that expects logits: a softmax before ``CrossEntropyLoss``.

``nn.CrossEntropyLoss`` applies log-softmax itself. Given probabilities p (a softmax already applied), its
loss -log softmax(p)_y is confined to a band: it cannot go below ``log(1 + (C - 1) / e)`` (p one-hot on the
label: 1.46 nats for 10 classes) nor above ``log(e + C - 1)`` (one-hot on another class: 2.48), for every
batch, whatever the model does. Its gradients shrink by the softmax's Jacobian, so the run creeps towards
the lower bound (or, for a language model whose next token is uncertain, settles inside the band) and stays.

Two ways to see it:

- the softmax is the model's last layer: the output rows are probability vectors, and the loss is pinned at
  or above the lower bound (a model that outputs probabilities on purpose and takes their log itself, NLLLoss
  on log p or Keras' ``from_logits=False``, goes below the bound). Before the loss is pinned, its gradient
  tells: a loss that applies a softmax of its own ignores a constant added to an output row, so each row of
  its gradient sums to zero (``softmax(p) - onehot``), while NLL on ``log p`` gives ``-onehot / p_y`` (row
  sum as large as the row's norm). Probability outputs, every loss inside the band and gradient rows that
  sum to zero: the softmax runs twice;
- the softmax is applied in the training loop, after the model: the model's output looks like logits, but
  every step's loss stayed inside the band, it has flattened there, and the outputs are confident (mean
  largest softmax probability >= 0.9). A run trained with cross-entropy on those logits that is that sure of
  its answers is right on most rows (a right row costs <= -log 0.9 = 0.11 nats), so its loss falls far below
  ``log(1 + (C - 1) / e)``; one whose loss is capped by the band cannot. Before the outputs grow confident,
  the gradient tells: for cross-entropy on logits z (mean over N rows) the gradient of row i is
  ``(softmax(z_i) - onehot(y_i)) / N``, whose norm is at least ``1 - max softmax(z_i)``, so the ratio
  ``N * sum ||dL/dz_i|| / sum (1 - max softmax(z_i))`` is >= 1 (exact). A softmax in between multiplies the
  gradient by its Jacobian, ``(I - 1 1^T / C) / C`` near uniform outputs, so the ratio drops to about 1 / C.
  Below 0.5, with every step's loss inside the band and no progress made, it is the softmax. A loss divided
  by its accumulation steps before backward shrinks the gradient too: the framework callbacks set
  ``Monitor.grad_accumulation`` so the ratio is rescaled; a plain loop that divides its loss by k >= 2 without
  setting it can see this finding on a run stuck inside the band (one that learns nothing either way).

At each epoch end the latest sample's output values are judged again against the losses of the epoch (read
with ``epoch_end`` anyway): where the output is is fixed by the code, so a run whose budget affords few
samples (a short L-BFGS run) is still judged once its loss has settled.
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


def probability_ceiling(n_classes: int) -> float:
    """Highest cross-entropy reachable when the "logits" are probabilities: ``log(e + C - 1)``.

    Example:
        >>> round(probability_ceiling(10), 3)
        2.461
    """
    return math.log(math.e + n_classes - 1)


class SoftmaxOutput(Indicator):
    name = "softmax_output"
    codes = {
        "softmax_before_loss": (
            "a softmax runs before the loss (the model's last layer, or in the training loop) and "
            "nn.CrossEntropyLoss applies softmax again (it expects raw logits), so the loss cannot fall below "
            "log(1 + (C-1)/e)",
            "remove the softmax and pass the raw logits to CrossEntropyLoss (or use NLLLoss on log-softmax)",
        )
    }
    events = frozenset({"sample", "epoch"})
    needs = frozenset({"output"})
    thresholds = {
        "near_floor": Threshold(
            0.97,
            "the loss never goes 3% below log(1+(C-1)/e) in this fault (a bound, not a fit); 3% for noise",
        ),
        "at_floor": Threshold(1.05, "within 5% above the bound: the run is pinned against it"),
        "band": Threshold(
            1e-3, "every step's loss inside [log(1+(C-1)/e), log(e+C-1)]: exact bounds, 0.1% for rounding"
        ),
        "grad_ratio": Threshold(
            0.5, "output gradient / its cross-entropy minimum: >= 1 exact on logits, ~1/C through a softmax"
        ),
        "shift": Threshold(
            0.01,
            "|row sum| / norm of the output gradient: 0 exact for a loss that applies softmax itself "
            "(float32 rounding ~1e-6), 1 for NLL on log-probabilities (its row is -e_y / p_y)",
        ),
        "confident": Threshold(
            0.9, "mean largest softmax probability: a right row then costs <= 0.11 nats (module docstring)"
        ),
    }

    def __init__(self) -> None:
        self._last: dict | None = None  # the latest sample's output values

    def update(self, ctx, values) -> None:
        if "output" not in values:  # epoch end
            if self._last is not None:
                self._judge(ctx, self._last, key="epoch", record=False)
            return
        if not values["output"]:
            return
        self._last = {k: values.get(k) for k in ("output", "output_grad_ratio", "output_shift_ratio")}
        self._judge(ctx, self._last)

    def _judge(self, ctx, values, key: str = "", record: bool = True) -> None:
        out = values["output"]
        simplex, width, confidence = out[0]
        lt = ctx.loss
        if width < 2 or len(lt) < 3 * WINDOW:
            return
        c = int(width)
        bound = probability_floor(c)
        recent, best = lt.recent(), lt.best
        window = max(WINDOW, min(len(lt) // 10, 1000))
        tail = lt.values[-10 * window :]
        flat = lsig.plateau_upper(tail, window) < lsig.PLATEAU_UPPER
        eps = self.t("band")
        inside = lt.low >= (1 - eps) * bound and lt.high <= (1 + eps) * probability_ceiling(c)
        if simplex > 0.5:
            # probabilities for certain; a loss that takes their log (NLLLoss) leaves the band below, and its
            # gradient rows do not sum to zero
            shift = (values.get("output_shift_ratio") or [math.nan])[0]
            invariant = shift < self.t("shift")
            pinned = inside and best >= self.t("near_floor") * bound
            pinned = pinned and (flat or recent <= self.t("at_floor") * bound or invariant)
            where = "the model's outputs are probability vectors" + (
                " and the loss ignores a constant added to them (it applies a softmax of its own)"
                if invariant
                else ""
            )
        else:
            ratio = values.get("output_grad_ratio") or [math.nan]
            if record:
                ctx.record("output_confidence", confidence)
                if math.isfinite(ratio[0]):
                    ctx.record("output_grad_ratio", ratio[0])
            confident = inside and flat and confidence >= self.t("confident")
            shrunk = inside and ratio[0] < self.t("grad_ratio") and lt.stuck()
            pinned = confident or shrunk
            where = (
                f"the model's outputs are confident logits (mean top probability {confidence:.2f}), yet every "
                "step's loss stayed inside the band that cross-entropy on probabilities is confined to"
                if confident
                else f"the gradient reaching the model's outputs is {ratio[0]:.2g}x the least that cross-entropy "
                "on them gives (a softmax's Jacobian in between), and every step's loss stayed inside the band "
                "that cross-entropy on probabilities is confined to"
            )
        if ctx.persist(pinned, key=key):
            ctx.status("warning", recent, f"loss {recent:.3g} held above the bound {bound:.3g}")
            ctx.fire(
                "softmax_before_loss",
                "warning",
                f"{where} over {c} classes, and the loss stays at {recent:.3g}, never below the {bound:.3g} "
                "that cross-entropy on probabilities cannot go under",
                value=recent,
            )
        else:
            ctx.status("ok", simplex, "outputs are probabilities" if simplex > 0.5 else "outputs are logits")
