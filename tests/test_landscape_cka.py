"""Linear CKA: invariances, identity, and a direct formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from traindx.errors import InputError
from traindx.landscape import cka


def _hsic_cka(x: np.ndarray, y: np.ndarray) -> float:
    """CKA via centred Gram matrices (Kornblith et al. 2019, eq. 3 with linear kernels)."""
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    k, m = h @ (x @ x.T) @ h, h @ (y @ y.T) @ h
    return float(np.sum(k * m) / np.sqrt(np.sum(k * k) * np.sum(m * m)))


def test_identity_orthogonal_and_scale_invariance():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 6))
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    assert cka(x, x) == pytest.approx(1.0)
    assert cka(x, x @ q) == pytest.approx(1.0)
    assert cka(x, 7.5 * x) == pytest.approx(1.0)
    y = rng.normal(size=(80, 3))
    assert cka(x, y) == pytest.approx(cka(x @ q * 2.0, y))
    assert cka(x, y) < 0.5


def test_matches_gram_formula_and_accepts_tensors():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(50, 5)), rng.normal(size=(50, 4))
    y[:, 0] += x[:, 0]
    assert cka(torch.tensor(x), torch.tensor(y)) == pytest.approx(_hsic_cka(x, y), rel=1e-9)


def test_bad_shapes():
    with pytest.raises(InputError, match="rows"):
        cka(np.ones((5, 2)), np.ones((6, 2)))
    with pytest.raises(InputError, match="constant"):
        cka(np.ones((5, 2)), np.random.default_rng(0).normal(size=(5, 2)))
