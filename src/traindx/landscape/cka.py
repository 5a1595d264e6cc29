"""Linear centered kernel alignment (CKA) between two sets of features of the same examples.

Kornblith et al., "Similarity of neural network representations revisited" (ICML 2019), eq. 5:
``CKA(X, Y) = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)`` on column-centred X and Y. It is invariant to
orthogonal transforms and isotropic scaling of either side, and 1 for identical features.

Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(50, 4))
    >>> round(cka(x, x), 6)
    1.0
"""

from __future__ import annotations

import numpy as np

from traindx.errors import InputError


def _as_matrix(features, name: str) -> np.ndarray:
    if hasattr(features, "detach"):
        features = features.detach().cpu().numpy()
    arr = np.asarray(features, dtype=np.float64)
    if arr.ndim < 2:
        raise InputError(
            f"{name} must be shaped (examples, features...), got shape {arr.shape}; add a feature axis"
        )
    arr = arr.reshape(len(arr), -1)
    if not np.isfinite(arr).all():
        raise InputError(f"{name} contains NaN or infinite values; check the model outputs")
    return arr


def cka(features_a, features_b) -> float:
    """Linear CKA in [0, 1] between two (n_examples, ...) arrays or tensors with the same rows.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(100, 5))
        >>> round(cka(x, 3 * x @ np.linalg.qr(np.random.default_rng(1).normal(size=(5, 5)))[0]), 6)
        1.0
    """
    x = _as_matrix(features_a, "features_a")
    y = _as_matrix(features_b, "features_b")
    if len(x) != len(y):
        raise InputError(
            f"features_a has {len(x)} rows but features_b has {len(y)}; compute both on the same examples"
        )
    if len(x) < 2:
        raise InputError("CKA needs at least 2 examples; pass more rows")
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    denom = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    if denom == 0:
        raise InputError("one of the feature sets is constant across examples; CKA is undefined for it")
    return float(np.linalg.norm(y.T @ x) ** 2 / denom)
