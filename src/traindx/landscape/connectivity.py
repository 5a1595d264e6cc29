"""Mode connectivity between two trained models (e.g. two seeds): linear path or a trained Bezier curve.

A Bezier curve ``phi(t) = sum_i C(n, i) t^i (1-t)^(n-i) w_i`` with fixed ends ``w_0 = model_a`` and
``w_n = model_b`` and trainable middle bends is fitted by minimising the loss at random ``t ~ U(0, 1)``
(Garipov et al., NeurIPS 2018). Along the path we measure the training error (%) and report:

- ``peak``: minus the peak training error along the path (the MD tree's ``mode_connectivity_peak``);
- ``mc``: ``(err(a) + err(b)) / 2 - err(phi(t*))`` with ``t*`` the point farthest from the endpoints' mean
  (Yang et al., NeurIPS 2021; the MD tree's ``mode_connectivity``): negative for a barrier, positive for a
  path that dips below the ends;
- ``barrier``: the largest excess of the path's error over the straight line between the ends' errors
  (Frankle et al., ICML 2020).

Example:
    >>> import torch
    >>> from torch import nn
    >>> m = nn.Linear(3, 2)
    >>> x, y = torch.randn(30, 3), torch.randint(0, 2, (30,))
    >>> r = mode_connectivity(m, m, nn.functional.cross_entropy, (x, y), curve="linear")
    >>> r.barrier
    0.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from traindx.errors import InputError
from traindx.landscape.hessian import LossFn, as_batches


@dataclass
class Connectivity:
    """Training error (%) and loss along a path between two models, and the summaries derived from them."""

    ts: list[float]
    errors: list[float]
    losses: list[float]
    curve: str
    bends: int
    steps: int
    peak: float = field(init=False)
    mc: float = field(init=False)
    barrier: float = field(init=False)

    def __post_init__(self) -> None:
        err = np.asarray(self.errors)
        ends = np.interp(self.ts, [self.ts[0], self.ts[-1]], [err[0], err[-1]])
        self.peak = -float(err.max())
        mid = (err[0] + err[-1]) / 2
        self.mc = float(mid - err[int(np.argmax(np.abs(mid - err)))])
        self.barrier = float(max(0.0, (err - ends).max()))


def _check_pair(model_a: nn.Module, model_b: nn.Module) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    pa, pb = dict(model_a.named_parameters()), dict(model_b.named_parameters())
    if pa.keys() != pb.keys() or any(pa[k].shape != pb[k].shape for k in pa):
        raise InputError(
            "model_a and model_b have different architectures; connect two trainings of the same model"
        )
    return {k: (pa[k].detach(), pb[k].detach()) for k in pa}


def _bernstein(t: float, n: int) -> list[float]:
    return [math.comb(n, i) * t**i * (1 - t) ** (n - i) for i in range(n + 1)]


def _point(pairs, middles, t: float) -> dict[str, torch.Tensor]:
    n = len(middles) + 1
    coef = _bernstein(t, n)
    out = {}
    for k, (a, b) in pairs.items():
        w = coef[0] * a + coef[-1] * b
        for i, mid in enumerate(middles, start=1):
            w = w + coef[i] * mid[k]
        out[k] = w
    return out


@torch.no_grad()
def _evaluate(model, params, loss_fn, batches) -> tuple[float, float]:
    wrong, loss, total = 0.0, 0.0, 0
    for x, y in batches:
        out = functional_call(model, params, (x,))
        loss += float(loss_fn(out, y)) * len(x)
        wrong += float((out.argmax(dim=1) != y).sum())
        total += len(x)
    return 100.0 * wrong / total, loss / total


def mode_connectivity(
    model_a: nn.Module,
    model_b: nn.Module,
    loss_fn: LossFn,
    batches,
    curve: str = "bezier",
    bends: int = 3,
    steps: int = 200,
    lr: float = 1e-2,
    n_points: int = 11,
    seed: int = 0,
) -> Connectivity:
    """Connect two models of the same architecture and measure the training error along the path.

    ``curve="linear"`` evaluates the straight line (no training; cheap). ``curve="bezier"`` trains the
    ``bends - 2`` middle control points (``bends=3``, a quadratic curve as in the MD tree paper) with Adam for
    ``steps`` mini-batch steps cycling over ``batches``, starting from the line's midpoint. Errors are measured on
    ``batches`` at ``n_points`` evenly spaced ``t``. ``loss_fn`` must be a mean classification loss on logits.
    Batch-norm buffers are taken from ``model_a``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> torch.manual_seed(0) and None
        >>> a, b = nn.Linear(3, 2), nn.Linear(3, 2)
        >>> x, y = torch.randn(40, 3), torch.randint(0, 2, (40,))
        >>> r = mode_connectivity(a, b, nn.functional.cross_entropy, (x, y), steps=20)
        >>> len(r.errors), r.peak <= 0
        (11, True)
    """
    if curve not in ("linear", "bezier"):
        raise InputError(f"unknown curve {curve!r}; use 'linear' or 'bezier'")
    if curve == "bezier" and bends < 3:
        raise InputError(f"a Bezier curve needs bends >= 3 (the two ends and a middle point), got {bends}")
    if n_points < 2:
        raise InputError(f"n_points must be >= 2 to include both ends, got {n_points}")
    pairs = _check_pair(model_a, model_b)
    device = next(iter(pairs.values()))[0].device
    data = [(x.to(device), y.to(device)) for x, y in as_batches(batches)]
    buffers = {k: v.detach() for k, v in model_a.named_buffers()}
    was_training = model_a.training
    middles: list[dict[str, torch.Tensor]] = []
    if curve == "bezier":
        gen = torch.Generator().manual_seed(seed)
        n = bends - 1
        middles = [
            {k: ((1 - i / n) * a + (i / n) * b).clone().requires_grad_(True) for k, (a, b) in pairs.items()}
            for i in range(1, n)
        ]
        opt = torch.optim.Adam([p for m in middles for p in m.values()], lr=lr)
        model_a.train()
        for step in range(steps):
            x, y = data[step % len(data)]
            t = float(torch.rand(1, generator=gen))
            opt.zero_grad()
            loss = loss_fn(functional_call(model_a, {**buffers, **_point(pairs, middles, t)}, (x,)), y)
            loss.backward()
            opt.step()
    model_a.eval()
    ts = np.linspace(0.0, 1.0, n_points).tolist()
    errors, losses = [], []
    with torch.no_grad():
        for t in ts:
            err, loss = _evaluate(model_a, {**buffers, **_point(pairs, middles, t)}, loss_fn, data)
            errors.append(err)
            losses.append(loss)
    model_a.train(was_training)
    return Connectivity(
        ts=ts,
        errors=errors,
        losses=losses,
        curve=curve,
        bends=bends if middles else 2,
        steps=steps if middles else 0,
    )
