"""All MD tree features of one trained torch classifier, in the units of the released tables.

Training/test error (%) and loss; ``hessian_e`` / ``hessian_t``: natural logs of the top Hessian eigenvalue
and trace (exact for models within the product budget, else power iteration and Hutch++; see
``traindx.landscape.hessian``), on one batch of 200 training samples as in the MD tree paper
(Zhou et al., ICML 2024). With a second model of the same architecture (another seed): ``CKA`` between the
two models' outputs on mixup inputs (Zhang et al., ICLR 2018, alpha = 1; token ids are mixed position by
position) and ``mode_connectivity`` /
``mode_connectivity_peak`` along a trained 3-bend Bezier curve. Without one, those three are NaN and the tree
follows its training-majority branch.

Example:
    >>> import torch
    >>> from torch import nn
    >>> torch.manual_seed(0) and None
    >>> x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    >>> m = model_diagnosis_metrics(nn.Linear(4, 2), (x, y), (x, y))
    >>> sorted(k for k, v in m.items() if v != v)
    ['CKA', 'mode_connectivity', 'mode_connectivity_peak']
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from traindx.errors import InputError
from traindx.landscape.cka import cka
from traindx.landscape.connectivity import mode_connectivity
from traindx.landscape.hessian import LossFn, hessian_top_eigenvalue, hessian_trace


def _log(value: float) -> float:
    return math.log(value) if value > 0 else float("nan")


@torch.no_grad()
def _error_and_loss(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn
) -> tuple[float, float]:
    was = model.training
    model.eval()
    wrong, loss = 0.0, 0.0
    for i in range(0, len(x), 500):
        out = model(x[i : i + 500])
        wrong += float((out.argmax(dim=1) != y[i : i + 500]).sum())
        loss += float(loss_fn(out, y[i : i + 500])) * len(out)
    model.train(was)
    return 100.0 * wrong / len(x), loss / len(x)


def _pair(data, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        x, y = data
        x, y = torch.as_tensor(x), torch.as_tensor(y, dtype=torch.long)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputError(f"{name} must be an (inputs, labels) pair of arrays or tensors") from exc
    if x.is_floating_point():
        x = x.float()
    elif x.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
        x = x.long()  # token ids (text models embed them): kept as integers
    else:
        raise InputError(f"{name} inputs must be floats or integer token ids, got {x.dtype}")
    if len(x) != len(y) or len(x) < 2:
        raise InputError(
            f"{name} needs at least 2 examples with one label each; got {len(x)} inputs, {len(y)} labels"
        )
    return x, y


def model_diagnosis_metrics(
    model: nn.Module,
    train,
    test,
    model2: nn.Module | None = None,
    loss_fn: LossFn = nn.functional.cross_entropy,
    hessian_samples: int = 200,
    trace_probes: int = 100,
    max_eval: int = 10_000,
    connectivity_steps: int = 300,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Compute the MD tree feature row of ``model`` (and ``model2``, a second seed, when given).

    ``train`` and ``test`` are (inputs, labels) pairs; the trace spends at most ``trace_probes`` Hessian-vector
    products (PyHessian's default cap; exact when the model has no more parameters, else Hutch++ stopping
    earlier at 1 % standard error); errors are measured on at most ``max_eval`` examples
    of each, the curve is trained and evaluated on at most 2,000 training examples. ``progress`` is called with
    the name of each step before it runs (for a progress bar).
    """

    def step(name: str) -> None:
        if progress is not None:
            progress(name)

    xtr, ytr = _pair(train, "train")
    xte, yte = _pair(test, "test")
    gen = torch.Generator().manual_seed(seed)
    # one random subset serves every metric, so only that subset is copied
    idx = torch.randperm(len(xtr), generator=gen)[: max(max_eval, hessian_samples, 2000)]
    xtr, ytr = xtr[idx], ytr[idx]
    row: dict[str, float] = {}
    step("training and test error")
    row["train_error"], row["train_loss"] = _error_and_loss(model, xtr[:max_eval], ytr[:max_eval], loss_fn)
    row["test_error"], row["test_loss"] = _error_and_loss(model, xte[:max_eval], yte[:max_eval], loss_fn)
    row["train_acc"], row["test_acc"] = 100 - row["train_error"], 100 - row["test_error"]
    row["generalization_gap"] = row["train_acc"] - row["test_acc"]
    batch = (xtr[:hessian_samples], ytr[:hessian_samples])
    step("top Hessian eigenvalue")
    # 1e-3 relative precision is 0.001 in log units, far below the spread between seeds
    row["hessian_e"] = _log(hessian_top_eigenvalue(model, loss_fn, batch, tol=1e-3, seed=seed))
    step("Hessian trace")
    row["hessian_t"] = _log(
        hessian_trace(model, loss_fn, batch, tol=1e-2, max_probes=trace_probes, seed=seed)
    )
    row["CKA"] = row["mode_connectivity"] = row["mode_connectivity_peak"] = float("nan")
    if model2 is not None:
        step("CKA between seeds")
        n = min(len(xtr), 1000)
        perm = torch.randperm(n, generator=gen)
        if xtr.is_floating_point():
            lam = torch.distributions.Beta(1.0, 1.0).sample((n,)).view(-1, *[1] * (xtr.dim() - 1))
            mixed = lam * xtr[:n] + (1 - lam) * xtr[:n][perm]
        else:
            # token ids cannot be averaged: mix sequences position by position, each token taken from one of
            # the two texts with probability lambda (the discrete analogue of mixup)
            lam = torch.distributions.Beta(1.0, 1.0).sample((n, 1))
            take = torch.rand(xtr[:n].shape, generator=gen) < lam
            mixed = torch.where(take, xtr[:n], xtr[:n][perm])
        with torch.no_grad():
            was = (model.training, model2.training)
            model.eval(), model2.eval()
            out_a, out_b = model(mixed), model2(mixed)
            # a collapsed model (constant outputs) has no representation to align: CKA is undefined there
            collapsed = any(float(o.std(dim=0).max()) == 0.0 for o in (out_a, out_b))
            row["CKA"] = float("nan") if collapsed else cka(out_a, out_b)
            model.train(was[0]), model2.train(was[1])
        step("mode connectivity (Bezier curve)")
        n = min(len(xtr), 2000)
        batches = [(xtr[i : i + 100], ytr[i : i + 100]) for i in range(0, n, 100)]
        conn = mode_connectivity(model, model2, loss_fn, batches, steps=connectivity_steps, seed=seed)
        row["mode_connectivity"], row["mode_connectivity_peak"] = conn.mc, conn.peak
    return {k: float(v) if v is not None else float("nan") for k, v in row.items()}


__all__ = ["model_diagnosis_metrics"]
