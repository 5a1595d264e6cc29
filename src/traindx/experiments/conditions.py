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
from traindx.experiments.vocabulary import SHIFT_DEFAULTS, SHIFTS, SHIFTS_BY_MODALITY

__all__ = ["SHIFTS", "SHIFT_DEFAULTS", "add_label_noise", "apply_shift", "class_weights", "stratified_sample"]


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


# A test split whose class priors are within this total-variation distance of uniform counts as balanced:
# a prior change of total variation d moves an accuracy by at most d, and 0.05 is the smallest val - test gap
# the dataset_shift rule calls (traindx.curves.labels), so a smaller difference cannot make it fire alone.
BALANCED_TV = 0.05


def validation_weights(y_rest: np.ndarray, y_test: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-class weights for :func:`stratified_sample` on ``y_rest`` so a validation set follows the test
    split's class priors: equal counts per class when the test split is balanced (within
    :data:`BALANCED_TV`), the test split's own proportions when the task is naturally imbalanced.

    Example:
        >>> import numpy as np
        >>> rest = np.repeat([0, 1], [300, 300])
        >>> w = validation_weights(rest, np.repeat([0, 1], [80, 20]), 2)  # an 80/20 task
        >>> np.bincount(rest[stratified_sample(rest, 50, 0, w)]).tolist()
        [40, 10]
        >>> w = validation_weights(rest, np.repeat([0, 1], [51, 49]), 2)  # balanced: equal counts
        >>> np.bincount(rest[stratified_sample(rest, 50, 0, w)]).tolist()
        [25, 25]
    """
    left = np.bincount(y_rest, minlength=n_classes).astype(float)
    prior = np.bincount(y_test, minlength=n_classes) / max(len(y_test), 1)
    if 0.5 * np.abs(prior - 1.0 / n_classes).sum() <= BALANCED_TV:
        prior = np.ones(n_classes)
    return np.divide(prior, left, out=np.zeros_like(left), where=left > 0)


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


def check_shift(kind: str, modality: str) -> None:
    """Raise a clear error when shift ``kind`` is unknown or does not apply to ``modality``.

    Example:
        >>> check_shift("rotate", "tabular")
        Traceback (most recent call last):
        ...
        traindx.errors.InputError: shift 'rotate' does not apply to tabular tasks; use one of none, noise, scale, missing, subpopulation
    """
    if kind not in SHIFT_DEFAULTS:
        raise InputError(f"unknown shift {kind!r}; use one of {', '.join(SHIFTS)}")
    allowed = SHIFTS_BY_MODALITY[modality]
    if kind not in allowed:
        raise InputError(
            f"shift {kind!r} does not apply to {modality} tasks; use one of {', '.join(allowed)}"
        )


def apply_shift(
    x: np.ndarray,
    kind: str,
    strength: float | None = None,
    rng: int | np.random.Generator = 0,
    modality: str = "image",
    bounded: bool = True,
    vocab_size: int = 0,
) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
    """Apply a test-time shift suited to ``modality`` (see :data:`~traindx.experiments.vocabulary.SHIFT_DEFAULTS`).

    Image shifts expect inputs in [0, 1] and keep them there (``bounded``); ``subpopulation`` returns the kept
    rows' inputs and their indices, ``(x, rows)``; every other shift returns the shifted inputs.

    Example:
        >>> import numpy as np
        >>> apply_shift(np.full((1, 1, 3, 3), 0.5, np.float32), "noise", 0.0).mean().item()
        0.5
    """
    check_shift(kind, modality)
    s = (
        SHIFT_DEFAULTS[kind]
        if strength is None or (isinstance(strength, float) and np.isnan(strength))
        else float(strength)
    )
    if kind == "none":
        return x
    if modality == "text":
        return _shift_tokens(x, kind, s, _rng(rng), vocab_size)
    if kind in ("scale", "missing", "subpopulation", "warp", "offset"):
        return _shift_numeric(x, kind, s, _rng(rng))
    return _shift_image(x, kind, s, rng, bounded)


def _shift_tokens(
    x: np.ndarray, kind: str, s: float, rng: np.random.Generator, vocab_size: int
) -> np.ndarray:
    hit = (rng.random(x.shape) < s) & (x > 0)
    if kind == "typos":  # a misspelt word is out of vocabulary; a mistyped character is another character
        repl = 1 if vocab_size > 200 else rng.integers(2, max(vocab_size, 3), size=x.shape)
        return np.where(hit, repl, x).astype(x.dtype)
    out = np.zeros_like(x)  # word dropout: delete the hit tokens and close the gaps
    for i, row in enumerate(x):
        kept = row[(row > 0) & ~hit[i]]
        out[i, : len(kept)] = kept
    return out


def _shift_numeric(x: np.ndarray, kind: str, s: float, rng: np.random.Generator):
    flat = x.reshape(len(x), -1)
    if kind == "scale":  # a random half of the features measured in other units
        cols = rng.random(flat.shape[1]) < 0.5
        out = flat * np.where(cols, 1.0 + s, 1.0)
    elif kind == "missing":  # entries lost and imputed with the training mean (0 after standardisation)
        out = np.where(rng.random(flat.shape) < s, 0.0, flat)
    elif kind == "subpopulation":  # one side of a random hyperplane through the test mean
        proj = (flat - flat.mean(0)) @ rng.normal(size=flat.shape[1])
        rows = np.flatnonzero(proj >= np.median(proj))
        return x[rows], rows
    elif kind == "offset":
        out = flat + s
    else:  # warp: resample time by a smooth monotone map, t -> t + s * L * sin(pi t / L) (random sign)
        length = x.shape[-1]
        t = np.arange(length, dtype=float)
        warped = np.clip(
            t + rng.choice([-1, 1]) * s * length * np.sin(np.pi * t / length) / np.pi, 0, length - 1
        )
        lo = np.floor(warped).astype(int)
        hi = np.minimum(lo + 1, length - 1)
        frac = warped - lo
        out = (x[..., lo] * (1 - frac) + x[..., hi] * frac).reshape(len(x), -1)
    return out.reshape(x.shape).astype(np.float32)


def _shift_image(x: np.ndarray, kind: str, s: float, rng, bounded: bool) -> np.ndarray:
    from scipy import ndimage

    spatial = tuple(range(2, x.ndim))
    if kind == "noise":
        out = x + _rng(rng).normal(0.0, s, size=x.shape).astype(np.float32)
    elif kind == "invert":
        out = (1.0 - s) * x + s * (1.0 - x)
    elif kind == "blur":
        sigma = [0.0, 0.0] + [s] * len(spatial) if x.ndim > 2 else [0.0, 0.0]
        out = ndimage.gaussian_filter(x, sigma=sigma)
    elif kind == "rotate":
        if len(spatial) != 2:
            raise InputError(
                f"shift 'rotate' needs 2-D images, got inputs shaped {x.shape[1:]}; use noise/blur"
            )
        out = ndimage.rotate(x, s, axes=(2, 3), reshape=False, order=1, mode="constant", cval=0.0)
    else:  # contrast
        out = 0.5 + (1.0 - s) * (x - 0.5)
    return (np.clip(out, 0.0, 1.0) if bounded else out).astype(np.float32)
