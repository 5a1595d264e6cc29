"""Hessian eigenvalues and trace against the exact Hessian of tiny models."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call

from traindx.errors import InputError
from traindx.landscape import hessian_eigenvalues, hessian_top_eigenvalue, hessian_trace
from traindx.landscape.hessian import hessian_density


def _exact_hessian(model: nn.Module, loss_fn, x, y) -> torch.Tensor:
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss_of(w):
        params, i = {}, 0
        for n, s in zip(names, shapes, strict=True):
            params[n] = w[i : i + s.numel()].view(s)
            i += s.numel()
        return loss_fn(functional_call(model, params, (x,)), y)

    return torch.autograd.functional.hessian(loss_of, flat)


def _mlp_case():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))  # 51 parameters
    x, y = torch.randn(40, 4), torch.randint(0, 3, (40,))
    # a few training steps so the point is near a minimum, where the top eigenvalue dominates in magnitude
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(50):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model, x, y


def _logreg_case():
    torch.manual_seed(1)
    model = nn.Linear(5, 2)
    x, y = torch.randn(60, 5), torch.randint(0, 2, (60,))
    return model, x, y


@pytest.mark.parametrize("case", [_mlp_case, _logreg_case])
def test_top_eigenvalues_match_exact(case):
    model, x, y = case()
    loss = nn.functional.cross_entropy
    exact = torch.linalg.eigvalsh(_exact_hessian(model, loss, x, y).double())
    top = float(exact[-1])
    assert hessian_top_eigenvalue(model, loss, (x, y), method="lanczos") == pytest.approx(top, rel=1e-2)
    power = hessian_top_eigenvalue(model, loss, (x, y), method="power", max_iter=500, tol=1e-6)
    assert power == pytest.approx(float(exact.abs().max()), rel=1e-2)
    top3 = hessian_eigenvalues(model, loss, (x, y), k=3)
    assert top3 == pytest.approx(exact.flip(0)[:3].numpy(), rel=1e-2, abs=1e-6)


@pytest.mark.parametrize("case", [_mlp_case, _logreg_case])
def test_trace_matches_exact(case):
    model, x, y = case()
    loss = nn.functional.cross_entropy
    exact = float(torch.trace(_exact_hessian(model, loss, x, y)))
    dim = sum(p.numel() for p in model.parameters())
    # Hutch++ with a sketch as large as the space is exact: the check of the estimator's algebra
    assert hessian_trace(model, loss, (x, y), method="hutch++", max_probes=3 * dim) == pytest.approx(
        exact, rel=1e-2
    )
    # Hutchinson is unbiased: with many probes it lands within a few standard errors
    est = hessian_trace(model, loss, (x, y), tol=1e-3, max_probes=3000, min_probes=3000)
    assert est == pytest.approx(exact, rel=0.05)


def test_batches_are_weighted_like_one_batch():
    model, x, y = _logreg_case()
    loss = nn.functional.cross_entropy
    whole = hessian_top_eigenvalue(model, loss, (x, y), method="lanczos")
    split = hessian_top_eigenvalue(model, loss, [(x[:20], y[:20]), (x[20:], y[20:])], method="lanczos")
    assert split == pytest.approx(whole, rel=1e-4)


def test_density_weights_sum_to_one_and_cover_top():
    model, x, y = _mlp_case()
    loss = nn.functional.cross_entropy
    nodes, weights = hessian_density(model, loss, (x, y), n_iter=60)
    exact = torch.linalg.eigvalsh(_exact_hessian(model, loss, x, y).double())
    assert float(weights.sum()) == pytest.approx(1.0, abs=1e-6)
    assert float(nodes.max()) == pytest.approx(float(exact[-1]), rel=1e-2)


def test_bad_input_is_named():
    model, x, y = _logreg_case()
    with pytest.raises(InputError, match="batches"):
        hessian_trace(model, nn.functional.cross_entropy, [])
    with pytest.raises(InputError, match="method"):
        hessian_top_eigenvalue(model, nn.functional.cross_entropy, (x, y), method="qr")
