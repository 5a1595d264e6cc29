"""Hessian eigenvalues and trace against the exact Hessian of tiny models."""

from __future__ import annotations

import pickle

import numpy as np
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
    return _fit(model, x, y, torch.optim.SGD(model.parameters(), lr=0.5), steps=50)


def _fit(model: nn.Module, x, y, opt: torch.optim.Optimizer, steps: int):
    for _ in range(steps):
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


def _tanh_83():
    """An 83-parameter tanh network (4-10-3): 200 Hutchinson probes leave a ~4 % standard error on its trace."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 10), nn.Tanh(), nn.Linear(10, 3))
    x, y = torch.randn(200, 4), torch.randint(0, 3, (200,))
    return model, x, y


def _medium_case():
    """A 547-parameter ReLU MLP, beyond the default budget of 200 products, trained a little."""
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(13, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
    x, y = torch.randn(200, 13), torch.randint(0, 3, (200,))
    return _fit(model, x, y, torch.optim.Adam(model.parameters(), lr=0.01), steps=100)


def test_defaults_are_exact_within_the_budget():
    model, x, y = _tanh_83()
    loss = nn.functional.cross_entropy
    hess = _exact_hessian(model, loss, x, y).double()
    trace = hessian_trace(model, loss, (x, y))
    assert trace.method == "exact" and trace.n_products == 83 and trace.bound == 0.0
    assert trace == pytest.approx(float(torch.trace(hess)), rel=1e-5)
    top = hessian_top_eigenvalue(model, loss, (x, y), max_iter=100)
    assert top.method == "exact"
    assert top == pytest.approx(float(torch.linalg.eigvalsh(hess)[-1]), rel=1e-5)
    top3 = hessian_eigenvalues(model, loss, (x, y), k=3)
    assert top3 == pytest.approx(torch.linalg.eigvalsh(hess).flip(0)[:3].numpy(), rel=1e-5)
    # one product fewer than parameters is beyond the budget: the estimator takes over and says so
    assert hessian_trace(model, loss, (x, y), max_probes=82).method == "hutch++"
    assert hessian_top_eigenvalue(model, loss, (x, y), max_iter=82).method == "power"


def test_hutchpp_is_unbiased_with_lower_variance_than_hutchinson():
    model, x, y = _mlp_case()  # 51 parameters; 30 products each, so neither is exact
    loss = nn.functional.cross_entropy
    exact = float(torch.trace(_exact_hessian(model, loss, x, y)))
    runs = {
        method: np.array(
            [
                hessian_trace(model, loss, (x, y), method=method, tol=0, max_probes=30, min_probes=30, seed=s)
                for s in range(20)
            ]
        )
        for method in ("hutchinson", "hutch++")
    }
    for values in runs.values():  # unbiased: the mean over seeds lies within 3 standard errors of the truth
        assert abs(values.mean() - exact) <= 3 * values.std(ddof=1) / np.sqrt(len(values))
    assert runs["hutch++"].std() < 0.5 * runs["hutchinson"].std()


def test_stated_bounds_cover_the_truth_on_a_medium_model():
    model, x, y = _medium_case()
    loss = nn.functional.cross_entropy
    hess = _exact_hessian(model, loss, x, y).double()
    exact, top = float(torch.trace(hess)), float(torch.linalg.eigvalsh(hess)[-1])
    estimates = [hessian_trace(model, loss, (x, y), seed=s) for s in range(10)]
    assert {e.method for e in estimates} == {"hutch++"}
    assert all(0 < e.stderr < e.bound < 0.05 * abs(exact) for e in estimates)
    covered = [abs(e - exact) <= e.bound for e in estimates]
    assert sum(covered) >= 8  # 95 % intervals: 8 or more of 10 cover with probability 0.99
    assert abs(estimates[0] - exact) < 0.01 * abs(exact)  # the acceptance: within 1 % at the defaults
    power = hessian_top_eigenvalue(model, loss, (x, y))
    assert power.method == "power" and abs(power - top) <= power.bound
    assert power == pytest.approx(top, rel=1e-2)
    lanczos = hessian_top_eigenvalue(model, loss, (x, y), method="lanczos")
    assert abs(lanczos - top) <= lanczos.bound and lanczos == pytest.approx(top, rel=1e-3)


def test_estimate_is_a_float_that_keeps_its_fields():
    model, x, y = _logreg_case()
    est = hessian_trace(model, nn.functional.cross_entropy, (x, y), method="hutchinson", max_probes=20)
    assert isinstance(est, float) and est.method == "hutchinson" and est.n_products == 20
    back = pickle.loads(pickle.dumps(est))
    assert back == est and (back.method, back.stderr, back.bound) == (est.method, est.stderr, est.bound)
    assert "hutchinson" in est.describe() and est.interval[0] < est < est.interval[1]


def test_exact_eigenvalues_of_a_large_model_are_refused_with_the_fix():
    model = nn.Linear(64, 64)  # 4,160 parameters
    x, y = torch.randn(8, 64), torch.randint(0, 64, (8,))
    with pytest.raises(InputError, match="method='power'"):
        hessian_top_eigenvalue(model, nn.functional.cross_entropy, (x, y), method="exact")


def test_layers_without_double_backward_fall_back_to_gradient_differences():
    """EmbeddingBag has no double backward: products come from differences of float64 gradients, which match
    the autograd products where both exist (an MLP) and give a finite spectrum for a text model."""
    from traindx.experiments.models import build_model
    from traindx.landscape.hessian import _HessianOperator

    torch.manual_seed(0)
    mlp = build_model("mlp", (6,), 3, width=8)
    x, y = torch.randn(40, 6), torch.randint(0, 3, (40,))
    op = _HessianOperator(mlp, nn.functional.cross_entropy, (x, y))
    v = torch.randn(op.dim)
    exact = op.matvec(v)
    assert not op.finite_difference
    assert float((op._matvec_difference(v) - exact).norm() / exact.norm()) < 1e-5
    bag = build_model("embbag", (12,), 3, width=8, vocab_size=30)
    tokens = torch.randint(0, 30, (40, 12))
    top = hessian_top_eigenvalue(bag, nn.functional.cross_entropy, (tokens, y))
    trace = hessian_trace(bag, nn.functional.cross_entropy, (tokens, y), max_probes=20)
    assert np.isfinite(float(top)) and top > 0 and np.isfinite(float(trace))
