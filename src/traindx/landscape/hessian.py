"""Hessian spectrum of a model's loss: top eigenvalues and trace from Hessian-vector products.

The gradient graph of each batch is built once (``create_graph=True``) and reused by every Hessian-vector
product, so one product costs a single extra backward pass (Pearlmutter 1994; PyHessian, Yao et al. 2020).
The MD tree paper (Zhou et al., ICML 2024) computes both metrics on one batch of 200 training samples.

Example:
    >>> import torch
    >>> from torch import nn
    >>> torch.manual_seed(0) and None
    >>> model = nn.Linear(3, 2)
    >>> x, y = torch.randn(20, 3), torch.randint(0, 2, (20,))
    >>> top = hessian_top_eigenvalue(model, nn.functional.cross_entropy, (x, y))
    >>> trace = hessian_trace(model, nn.functional.cross_entropy, (x, y), seed=0)
    >>> 0 < top <= trace * 1.5
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from traindx.errors import InputError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def as_batches(batches) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Normalise ``(x, y)``, a list of such pairs or a DataLoader into a list of (inputs, targets) pairs.

    Example:
        >>> len(as_batches((torch.zeros(2, 3), torch.zeros(2))))
        1
    """
    if isinstance(batches, tuple) and len(batches) == 2 and isinstance(batches[0], torch.Tensor):
        out = [batches]
    else:
        try:
            out = [tuple(b)[:2] for b in batches]
        except TypeError as exc:
            raise InputError(
                "batches must be an (inputs, targets) pair of tensors or an iterable of such pairs; "
                "pass e.g. (x, y) or a DataLoader"
            ) from exc
    if not out:
        raise InputError("batches is empty; pass at least one (inputs, targets) batch")
    for x, y in out:
        if (
            not isinstance(x, torch.Tensor)
            or not isinstance(y, torch.Tensor)
            or len(x) != len(y)
            or not len(x)
        ):
            raise InputError(
                "each batch must be a pair of non-empty tensors with the same first dimension; "
                "pass (inputs, targets) tensors"
            )
    return out


def _params(model: nn.Module) -> list[torch.Tensor]:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise InputError("the model has no trainable parameters; unfreeze some (requires_grad=True)")
    return params


class _HessianOperator:
    """Hessian-vector products of the sample-weighted mean loss over the batches, graph built once."""

    def __init__(self, model: nn.Module, loss_fn: LossFn, batches) -> None:
        self.model = model
        self.params = _params(model)
        device = self.params[0].device
        data = as_batches(batches)
        total = sum(len(x) for x, _ in data)
        self.grads: list[tuple[torch.Tensor, ...]] = []
        for x, y in data:
            x, y = x.to(device), y.to(device)
            loss = loss_fn(model(x), y) * (len(x) / total)
            if not torch.isfinite(loss):
                raise InputError("the loss is not finite on the given batch; check the model and the data")
            self.grads.append(torch.autograd.grad(loss, self.params, create_graph=True))
        self.dim = sum(p.numel() for p in self.params)
        self.n_products = 0

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """H @ v for a flat vector v."""
        chunks = _unflatten(v, self.params)
        out = torch.zeros(self.dim, dtype=v.dtype, device=v.device)
        for grads in self.grads:
            dot = sum((g * c).sum() for g, c in zip(grads, chunks, strict=True))
            hv = torch.autograd.grad(dot, self.params, retain_graph=True, allow_unused=True)
            out += torch.cat(
                [
                    (h if h is not None else torch.zeros_like(p)).reshape(-1)
                    for h, p in zip(hv, self.params, strict=True)
                ]
            ).to(v.dtype)
        self.n_products += 1
        return out


def _unflatten(v: torch.Tensor, params: list[torch.Tensor]) -> list[torch.Tensor]:
    chunks, i = [], 0
    for p in params:
        chunks.append(v[i : i + p.numel()].view_as(p).to(p.dtype))
        i += p.numel()
    return chunks


class _EvalMode:
    """Evaluate in eval mode (fixed batch-norm statistics, no dropout), then restore the previous mode."""

    def __init__(self, model: nn.Module) -> None:
        self.model, self.was_training = model, model.training

    def __enter__(self):
        self.model.eval()

    def __exit__(self, *exc):
        self.model.train(self.was_training)


def hessian_top_eigenvalue(
    model: nn.Module,
    loss_fn: LossFn,
    batches,
    method: str = "power",
    max_iter: int = 100,
    tol: float = 1e-4,
    seed: int = 0,
) -> float:
    """Largest Hessian eigenvalue of the loss at the model's weights.

    ``method="power"`` is power iteration as in PyHessian and the MD tree paper: it converges to the
    eigenvalue of largest magnitude, which is the top one at a trained minimum. ``method="lanczos"``
    runs ARPACK's Lanczos (scipy ``eigsh``) for the largest *algebraic* eigenvalue. Both stop at relative
    change ``tol`` (1e-4 is PyHessian's default, enough for log-scale features).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> m = nn.Linear(2, 1, bias=False)
        >>> x = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
        >>> mse = lambda out, y: ((out - y) ** 2).sum()
        >>> round(hessian_top_eigenvalue(m, mse, (x, torch.zeros(2, 1))), 3)
        8.0
    """
    return float(
        hessian_eigenvalues(
            model, loss_fn, batches, k=1, method=method, max_iter=max_iter, tol=tol, seed=seed
        )[0]
    )


def hessian_eigenvalues(
    model: nn.Module,
    loss_fn: LossFn,
    batches,
    k: int = 1,
    method: str = "lanczos",
    max_iter: int = 100,
    tol: float = 1e-4,
    seed: int = 0,
) -> np.ndarray:
    """Top-``k`` Hessian eigenvalues, largest first (power iteration with deflation, or Lanczos).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> m = nn.Linear(2, 1, bias=False)
        >>> x = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
        >>> mse = lambda out, y: ((out - y) ** 2).sum()
        >>> hessian_eigenvalues(m, mse, (x, torch.zeros(2, 1)), k=2).round(3).tolist()
        [8.0, 2.0]
    """
    if method not in ("power", "lanczos"):
        raise InputError(f"unknown method {method!r}; use 'power' or 'lanczos'")
    if k < 1:
        raise InputError(f"k must be >= 1, got {k}")
    with _EvalMode(model):
        op = _HessianOperator(model, loss_fn, batches)
        if k > op.dim:
            raise InputError(f"k={k} exceeds the number of parameters ({op.dim}); lower k")
        if method == "lanczos":
            return _lanczos(op, k, max_iter, tol, seed)
        return _power(op, k, max_iter, tol, seed)


def _power(op: _HessianOperator, k: int, max_iter: int, tol: float, seed: int) -> np.ndarray:
    gen = torch.Generator().manual_seed(seed)
    device = op.params[0].device
    found_vals: list[float] = []
    found_vecs: list[torch.Tensor] = []
    for _ in range(k):
        v = torch.randn(op.dim, generator=gen).to(device)
        v /= v.norm()
        value = None
        for _ in range(max_iter):
            hv = op.matvec(v)
            for lam, u in zip(found_vals, found_vecs, strict=True):  # deflate the eigenpairs already found
                hv -= lam * (u @ v) * u
            new = float(v @ hv)
            norm = hv.norm()
            if norm == 0:
                value = 0.0
                break
            v = hv / norm
            if value is not None and abs(new - value) <= tol * (abs(value) + 1e-12):
                value = new
                break
            value = new
        found_vals.append(float(value))
        found_vecs.append(v)
    return np.array(found_vals)


def _lanczos(op: _HessianOperator, k: int, max_iter: int, tol: float, seed: int) -> np.ndarray:
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    device, dtype = op.params[0].device, op.params[0].dtype

    def mv(v: np.ndarray) -> np.ndarray:
        out = op.matvec(torch.as_tensor(np.asarray(v).ravel(), dtype=dtype, device=device))
        return out.detach().cpu().double().numpy()

    if op.dim <= k + 1:  # ARPACK needs k < n; tiny problems get the dense Hessian
        dense = np.stack([mv(e) for e in np.eye(op.dim)], axis=1)
        return np.sort(np.linalg.eigvalsh((dense + dense.T) / 2))[::-1][:k]
    rng = np.random.default_rng(seed)
    lin = LinearOperator((op.dim, op.dim), matvec=mv, dtype=np.float64)
    try:
        vals = eigsh(
            lin, k=k, which="LA", tol=tol, maxiter=max_iter, v0=rng.standard_normal(op.dim),
            return_eigenvectors=False,
        )  # fmt: skip
    except ArpackNoConvergence as exc:  # keep the Ritz values that did converge
        if not len(exc.eigenvalues):
            raise InputError(
                f"Lanczos did not converge in {max_iter} restarts; raise max_iter or tol"
            ) from exc
        vals = exc.eigenvalues
    return np.sort(vals)[::-1]


def hessian_trace(
    model: nn.Module,
    loss_fn: LossFn,
    batches,
    method: str = "hutchinson",
    tol: float = 1e-3,
    max_probes: int = 200,
    min_probes: int = 10,
    seed: int = 0,
) -> float:
    """Trace of the Hessian: Hutchinson's estimator with Rademacher probes, or Hutch++.

    Hutchinson (1989) averages ``v^T H v`` over random +-1 probes and stops once the standard error of the mean
    falls below ``tol`` times its magnitude (PyHessian's stopping rule), or after ``max_probes`` probes.
    ``method="hutch++"`` (Meyer et al., SOSA 2021) spends a third of ``max_probes`` products on a sketch of the
    top subspace, whose trace is exact, and the rest on Hutchinson for the remainder: much lower variance when
    a few eigenvalues dominate, as in trained networks (Ghorbani et al., ICML 2019).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> m = nn.Linear(2, 1, bias=False)
        >>> x = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
        >>> mse = lambda out, y: ((out - y) ** 2).sum()
        >>> round(hessian_trace(m, mse, (x, torch.zeros(2, 1))), 3)
        10.0
    """
    if method not in ("hutchinson", "hutch++"):
        raise InputError(f"unknown method {method!r}; use 'hutchinson' or 'hutch++'")
    if max_probes < 1 or min_probes < 1:
        raise InputError("max_probes and min_probes must be >= 1")
    with _EvalMode(model):
        op = _HessianOperator(model, loss_fn, batches)
        gen = torch.Generator().manual_seed(seed)
        device = op.params[0].device

        def rademacher(n: int) -> torch.Tensor:
            return (torch.randint(0, 2, (op.dim, n), generator=gen) * 2 - 1).to(device, op.params[0].dtype)

        if method == "hutch++":
            m = max(3, max_probes // 3)
            hs = torch.stack([op.matvec(c) for c in rademacher(m).T], dim=1)
            q, _ = torch.linalg.qr(hs)
            hq = torch.stack([op.matvec(c) for c in q.T], dim=1)
            exact = float(torch.trace(q.T @ hq))
            g = rademacher(m)
            g = g - q @ (q.T @ g)
            rest = sum(float(c @ op.matvec(c)) for c in g.T) / m
            return exact + rest
        samples: list[float] = []
        for _ in range(max_probes):
            v = rademacher(1)[:, 0]
            samples.append(float(v @ op.matvec(v)))
            n = len(samples)
            if n >= min_probes:
                mean = sum(samples) / n
                sem = float(np.std(samples, ddof=1)) / math.sqrt(n)
                if sem <= tol * abs(mean):
                    break
        return float(np.mean(samples))


def hessian_density(
    model: nn.Module, loss_fn: LossFn, batches, n_iter: int = 60, n_probes: int = 1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalue density by stochastic Lanczos quadrature: Ritz values and their weights (sum 1 per probe).

    Ghorbani et al. (ICML 2019): ``n_iter`` Lanczos steps from a random unit probe; the eigen-decomposition of
    the tridiagonal matrix gives nodes (Ritz values) and weights (squared first components). Smooth the
    returned nodes with a Gaussian kernel to plot a density.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> m = nn.Linear(2, 1, bias=False)
        >>> x = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
        >>> mse = lambda out, y: ((out - y) ** 2).sum()
        >>> nodes, weights = hessian_density(m, mse, (x, torch.zeros(2, 1)), n_iter=2)
        >>> sorted(nodes.round(3).tolist()), round(float(weights.sum()), 3)
        ([2.0, 8.0], 1.0)
    """
    with _EvalMode(model):
        op = _HessianOperator(model, loss_fn, batches)
        gen = torch.Generator().manual_seed(seed)
        steps = min(n_iter, op.dim)
        all_nodes, all_weights = [], []
        for _ in range(n_probes):
            v = torch.randn(op.dim, generator=gen, dtype=torch.float64)
            v /= v.norm()
            basis = [v]
            alphas, betas = [], []
            w = op.matvec(v.to(op.params[0].dtype)).double()
            for j in range(steps):
                alpha = float(w @ basis[-1])
                alphas.append(alpha)
                w = w - alpha * basis[-1] - (betas[-1] * basis[-2] if j > 0 else 0)
                for b in basis:  # full reorthogonalisation keeps Ritz values from duplicating
                    w = w - (w @ b) * b
                beta = float(w.norm())
                if j == steps - 1 or beta < 1e-10:
                    break
                betas.append(beta)
                basis.append(w / beta)
                w = op.matvec(basis[-1].to(op.params[0].dtype)).double()
            tri = (
                np.diag(alphas) + np.diag(betas[: len(alphas) - 1], 1) + np.diag(betas[: len(alphas) - 1], -1)
            )
            nodes, vecs = np.linalg.eigh(tri)
            all_nodes.append(nodes)
            all_weights.append(vecs[0] ** 2 / n_probes)
        return np.concatenate(all_nodes), np.concatenate(all_weights)
