"""Reproducible data conditions: train-set size, class imbalance, label noise and test-time shifts.

Every function takes a numpy ``Generator`` (or a seed) so a run's data are fixed by its config and seed.

Example:
    >>> import numpy as np
    >>> from traindx.experiments.conditions import apply_shift
    >>> x = np.zeros((2, 1, 4, 4), dtype=np.float32)
    >>> float(apply_shift(x, "invert").min())
    1.0
"""

from __future__ import annotations

import numpy as np

from traindx.errors import InputError

# Default strength per shift. Noise: Gaussian std 0.3 on [0, 1] pixels (visible but legible, as in the study's
# noisy test set); invert: full inversion; blur: Gaussian sigma 1.0 pixel; rotate: 30 degrees; contrast: the
# image is scaled towards mid-grey by this fraction.
SHIFT_DEFAULTS: dict[str, float] = {
    "none": 0.0,
    "noise": 0.3,
    "invert": 1.0,
    "blur": 1.0,
    "rotate": 30.0,
    "contrast": 0.6,
}
SHIFTS = tuple(SHIFT_DEFAULTS)


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def class_weights(n_classes: int, imbalance: float, rng: int | np.random.Generator) -> np.ndarray:
    """Per-class sampling weights: half of the classes (drawn from ``rng``) are minority classes kept at
    ``imbalance`` times the rate of the others (1.0 = balanced).

    Example:
        >>> class_weights(4, 0.1, 0).round(2).tolist()
        [1.0, 1.0, 0.1, 0.1]
    """
    if not 0.0 < imbalance <= 1.0:
        raise InputError(f"imbalance={imbalance} is out of range; use a fraction in (0, 1], 1.0 = balanced")
    weights = np.ones(n_classes)
    if imbalance < 1.0:
        minority = _rng(rng).choice(n_classes, size=n_classes // 2, replace=False)
        weights[minority] = imbalance
    return weights


def stratified_sample(
    y: np.ndarray, n: int, rng: int | np.random.Generator, weights: np.ndarray | None = None
) -> np.ndarray:
    """Indices of ``n`` examples drawn without replacement, class counts proportional to ``weights``
    (default: to the class frequencies in ``y``, i.e. a stratified subset).

    Example:
        >>> import numpy as np
        >>> idx = stratified_sample(np.repeat(np.arange(2), 50), 10, 0)
        >>> np.bincount(np.repeat(np.arange(2), 50)[idx]).tolist()
        [5, 5]
    """
    rng = _rng(rng)
    classes, counts = np.unique(y, return_counts=True)
    if n > len(y):
        raise InputError(f"asked for {n} examples but only {len(y)} are available; lower n_train/val_size")
    share = counts.astype(float) if weights is None else counts * np.asarray(weights, float)[classes]
    quota = share / share.sum() * n
    take = np.minimum(np.floor(quota).astype(int), counts)
    # largest remainders first, so the total is exactly n
    for i in np.argsort(-(quota - take)):
        if take.sum() >= n:
            break
        if take[i] < counts[i]:
            take[i] += 1
    while take.sum() < n:  # a class ran out: fill from those with examples left
        i = int(np.argmax(counts - take))
        take[i] += 1
    picked = [
        rng.choice(np.flatnonzero(y == c), size=k, replace=False) for c, k in zip(classes, take, strict=True)
    ]
    out = np.concatenate(picked) if picked else np.empty(0, int)
    return rng.permutation(out)


def add_label_noise(
    y: np.ndarray, fraction: float, n_classes: int, rng: int | np.random.Generator
) -> np.ndarray:
    """Replace a ``fraction`` of labels by uniformly random classes (which may equal the true one).

    Example:
        >>> import numpy as np
        >>> (add_label_noise(np.zeros(100, int), 0.0, 10, 0) == 0).all()
        np.True_
    """
    if not 0.0 <= fraction <= 1.0:
        raise InputError(f"label_noise={fraction} is out of range; use a fraction in [0, 1]")
    rng = _rng(rng)
    y = y.copy()
    hit = rng.random(len(y)) < fraction
    y[hit] = rng.integers(0, n_classes, size=int(hit.sum()))
    return y


def apply_shift(
    x: np.ndarray, kind: str, strength: float | None = None, rng: int | np.random.Generator = 0
) -> np.ndarray:
    """Apply a test-time shift to inputs in [0, 1]: none, noise, invert, blur, rotate or contrast.

    ``strength`` defaults to :data:`SHIFT_DEFAULTS`; the result stays in [0, 1].

    Example:
        >>> import numpy as np
        >>> apply_shift(np.full((1, 1, 3, 3), 0.5, np.float32), "noise", 0.0).mean().item()
        0.5
    """
    if kind not in SHIFT_DEFAULTS:
        raise InputError(f"unknown shift {kind!r}; use one of {', '.join(SHIFTS)}")
    s = (
        SHIFT_DEFAULTS[kind]
        if strength is None or (isinstance(strength, float) and np.isnan(strength))
        else float(strength)
    )
    if kind == "none":
        return x
    from scipy import ndimage

    spatial = tuple(range(2, x.ndim))
    if kind == "noise":
        out = x + _rng(rng).normal(0.0, s, size=x.shape).astype(np.float32)
    elif kind == "invert":
        out = (1.0 - s) * x + s * (1.0 - x)
    elif kind == "blur":
        sigma = [0.0, 0.0] + [s] * len(spatial)
        out = ndimage.gaussian_filter(x, sigma=sigma)
    elif kind == "rotate":
        if len(spatial) != 2:
            raise InputError(
                f"shift 'rotate' needs 2-D images, got inputs shaped {x.shape[1:]}; use noise/blur"
            )
        out = ndimage.rotate(x, s, axes=(2, 3), reshape=False, order=1, mode="constant", cval=0.0)
    else:  # contrast
        out = 0.5 + (1.0 - s) * (x - 0.5)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
