"""Loss signals: non-finite values, spikes, progress, plateaus, oscillation and the train/validation gap.

Every threshold is relative: to the run's own early loss (its "baseline", the median of the first steps),
to a running average, or between train and validation metrics, so they hold for any loss scale.

Example:
    >>> progress([2.0, 2.0, 2.2], [0.5, 0.5])
    0.75
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import numpy as np

#: A loss spike: a step loss above both 3x its running average and 1.5x the early baseline. The second
#: condition keeps normal minibatch noise late in training (0.05 -> 0.3) from counting: a loss that jumps
#: back above where the run started has undone its learning.
SPIKE_OVER_EMA, SPIKE_OVER_BASELINE = 3.0, 1.5
#: "Has not learned": the best smoothed loss is still above 90% of the baseline (less than 10% progress).
#: Any run that learns passes this within its first few hundred steps, whatever its irreducible loss (a
#: char-level LM drops from ln(65) = 4.2 to the unigram entropy ~3.3, 21%, within ~100 steps; an MNIST MLP
#: 60-90% within one epoch), while a stuck run (dead net, no updates, random labels) stays within noise.
STALLED_PROGRESS = 0.10
#: "Rising": the recent loss (median of the last steps) at least 1.25x its own best smoothed loss, after
#: learning. Measured on the shipped corpus's curves (benchmarks/thresholds.py; 786 runs at ordinary learning
#: rates): the epoch training loss's largest rise over its best so far is <= 1.07x / 1.19x at the 95th
#: percentile (MNIST / Fashion-MNIST), 1.15x / 2.1x at the 99th, the latter only where the loss is near zero.
RISE_OVER_BEST = 1.25
#: ... and it gave back at least 5% of the progress it made (recent - best >= 0.05 (baseline - best)), so a
#: loss near zero whose relative noise doubles it (L-BFGS on digits near 0.01) does not rise. Measured on the
#: many-task corpus's epoch training losses (5,775 runs over 45 tasks, ``tasks_causes``; command in
#: benchmarks/RESULTS.md): of 2,883 runs at the design's own learning rate, 2 rise 1.25x above their best
#: after learning, giving back 1.2% and 1.8% of their progress; with this share 0 of them count, against 145
#: of 804 runs at 100x the learning rate and 17 of 624 at 10x.
RISE_LOST_SHARE = 0.05
#: Divergence: the loss lost at least 30% of the progress it made (recent - best >= 0.3 (baseline - best))
#: and sits 1.25x above its best, or it climbed to 1.5x above where it started (the spike limit below). The
#: share of lost progress keeps a near-zero loss's relative noise from counting: with both conditions the
#: rule fires on 0 of the 786 ordinary-lr corpus runs (benchmarks/thresholds.py).
DIVERGE_LOST_GAINS = 0.3
#: A plateau: the last window's mean is within 1% of the best earlier window, and that is not minibatch
#: noise: even the upper end of the improvement's ~95% interval (improvement + 2 standard errors, from the
#: spread of the step losses in both windows) stays under 2% per window. Without the interval a slowly but
#: steadily improving run (2-3% per window, step-loss spread ~15%) read as flat in the fault benchmark's
#: fine-tuning controls; a stuck run's loss barely varies, so its interval is narrow. A flat loss is only a
#: plateau while the run has not learned (``STALLED_PROGRESS``): a run that learned and then flattened has
#: converged, whatever its loss level.
PLATEAU_TOL, PLATEAU_UPPER = 0.01, 0.02
#: Oscillation: window means alternate direction in >= 75% of consecutive pairs with a swing >= 30% of
#: their mean, and no net progress.
OSC_SIGN_CHANGES, OSC_SWING = 0.75, 0.3
#: Overfitting: train accuracy exceeds validation accuracy by >= 0.15 (3x the val-test noise seen on LCDB
#: curves, where val - test > 0.05 for only 6% of points), or validation loss >= 10% above its minimum (or 10%
#: of the progress made below the run's start, where that is less: a token model's irreducible loss)
#: while training loss keeps falling, either of them for 3 epochs in a row. Requiring successive epochs
#: follows Prechelt's "UP_s" criterion (Early Stopping - But When?, 1998): one or two epochs of worse
#: validation metrics are common under SGD with momentum or RMSprop (seen on healthy MNIST, Fashion-MNIST
#: and digits controls, which then reached new bests); a trend that lasts is what over-training looks like.
ACC_GAP, VAL_RISE, VAL_RISE_EPOCHS = 0.15, 0.10, 3
#: Underfitting: the epoch training loss flattened (< 2% better over the last epoch, twice) while the run has
#: not learned at all (see ``STALLED_PROGRESS``). How far above zero the loss sits is no evidence: token and
#: character models keep a large irreducible loss (a healthy char-level LM ends at 30-40% of its start).
UNDERFIT_FLAT = 0.02
#: Power-law exponents tried by :func:`loss_floor` (learning curves of neural nets follow L + A t^-a with a in
#: roughly 0.1-1: Hestness et al. 2017, Kaplan et al. 2020; 2 covers fast exponential-like early drops).
FLOOR_EXPONENTS = (0.1, 0.25, 0.5, 1.0, 2.0)


def nonfinite(values: Sequence[float]) -> bool:
    """Whether any value is NaN or infinite.

    Example:
        >>> nonfinite([1.0, float("nan")])
        True
    """
    return any(not math.isfinite(float(v)) for v in values)


def baseline(values: Sequence[float]) -> float:
    """The run's reference loss: the median of its first values (finite ones only).

    Example:
        >>> baseline([2.3, 2.2, 9.0])
        2.3
    """
    finite = [float(v) for v in values if math.isfinite(float(v))]
    return float(statistics.median(finite)) if finite else float("nan")


def progress(early: Sequence[float], recent: Sequence[float]) -> float:
    """Relative decrease of the recent median loss below the early median: 0 no progress, 1 loss to zero.

    Example:
        >>> round(progress([2.0, 2.0], [1.0]), 2)
        0.5
    """
    b, r = baseline(early), baseline(recent)
    if not (b > 0 and math.isfinite(r)):
        return float("nan")
    return round(1.0 - r / b, 6)


def is_spike(value: float, ema: float, base: float) -> bool:
    """Whether ``value`` jumps above both 3x its running average ``ema`` and 1.5x the baseline.

    Example:
        >>> is_spike(9.0, 0.5, 2.3), is_spike(0.4, 0.1, 2.3)
        (True, False)
    """
    return value > SPIKE_OVER_EMA * ema and value > SPIKE_OVER_BASELINE * base


def window_means(values: Sequence[float], window: int) -> np.ndarray:
    """Means of consecutive non-overlapping windows (the last partial window dropped).

    Example:
        >>> window_means([1, 1, 3, 3, 5], 2).tolist()
        [1.0, 3.0]
    """
    a = np.asarray(values, dtype=float)
    n = len(a) // window
    return a[: n * window].reshape(n, window).mean(axis=1) if n else np.empty(0)


def plateau(values: Sequence[float], window: int) -> float:
    """Relative improvement of the last window's mean over the best earlier window's mean (small: flat).

    Example:
        >>> plateau([2.0, 2.0, 2.0, 2.0], 2)
        0.0
    """
    m = window_means(values, window)
    if len(m) < 2 or not m[:-1].min() > 0:
        return float("nan")
    return float(1.0 - m[-1] / m[:-1].min())


def plateau_upper(values: Sequence[float], window: int) -> float:
    """Upper end of the ~95% interval (estimate + 2 standard errors) of :func:`plateau`'s improvement.

    The standard error comes from the spread of the individual values inside the last window and the
    best earlier window, so a noisy loss needs a longer flat stretch before it counts as a plateau.

    Example:
        >>> plateau_upper([2.0, 2.0, 2.0, 2.0], 2)
        0.0
        >>> plateau_upper([1.0, 3.0, 1.0, 3.0], 2) > 0.5
        True
    """
    a = np.asarray(values, dtype=float)
    n = len(a) // window
    if n < 2:
        return float("nan")
    w = a[: n * window].reshape(n, window)
    m = w.mean(axis=1)
    best = int(np.argmin(m[:-1]))
    if not m[best] > 0:
        return float("nan")
    var = (w[-1].var(ddof=1) + w[best].var(ddof=1)) / window
    return float(1.0 - m[-1] / m[best] + 2.0 * math.sqrt(var) / m[best])


def rising_epochs(val_losses: Sequence[float], rise: float = VAL_RISE) -> int:
    """How many of the latest epochs in a row sit ``rise`` (relative) above the best validation loss before.

    Example:
        >>> rising_epochs([0.5, 0.3, 0.36, 0.4, 0.35])
        3
        >>> rising_epochs([0.5, 0.3, 0.36, 0.29])
        0
    """
    v = [float(x) for x in val_losses if math.isfinite(float(x))]
    run = 0
    for i in range(len(v) - 1, 0, -1):
        best = min(v[:i])
        if not (best > 0 and v[i] >= (1.0 + rise) * best):
            break
        run += 1
    return run


def oscillation(values: Sequence[float], window: int) -> tuple[float, float]:
    """(share of direction changes between window means, mean swing relative to the mean level).

    Example:
        >>> oscillation([1, 1, 3, 3, 1, 1, 3, 3], 2)
        (1.0, 1.0)
    """
    m = window_means(values, window)
    if len(m) < 4 or not np.all(np.isfinite(m)):
        return float("nan"), float("nan")
    d = np.diff(m)
    changes = float(np.mean(np.sign(d[1:]) != np.sign(d[:-1])))
    swing = float(np.mean(np.abs(d)) / max(float(np.mean(np.abs(m))), 1e-12))
    return changes, swing


def acc_gap(train_acc: float, val_acc: float) -> float:
    """Train minus validation accuracy.

    Example:
        >>> round(acc_gap(0.99, 0.80), 2)
        0.19
    """
    return float(train_acc) - float(val_acc)


def val_rise(val_losses: Sequence[float]) -> float:
    """How far the latest validation loss sits above the minimum so far, relative to that minimum.

    Example:
        >>> round(val_rise([0.5, 0.4, 0.48]), 2)
        0.2
    """
    v = [float(x) for x in val_losses if math.isfinite(float(x))]
    if len(v) < 2 or not min(v) > 0:
        return float("nan")
    return v[-1] / min(v) - 1.0


def running_min(values: Sequence[float]) -> np.ndarray:
    """The lowest value seen so far at every position (non-finite values do not count).

    Example:
        >>> running_min([3.0, 2.0, 2.5, 1.0]).tolist()
        [3.0, 2.0, 2.0, 1.0]
    """
    a = np.asarray(values, dtype=float)
    a = np.where(np.isfinite(a), a, np.inf)
    return np.minimum.accumulate(a) if len(a) else a


def loss_floor(steps: Sequence[float], values: Sequence[float]) -> float:
    """The loss the run is heading to: ``L`` of a fitted decay ``L + A * t^-a`` of its running minimum.

    ``steps`` are positive positions (e.g. the end step of each smoothing window) and ``values`` the smoothed
    loss there. Exponents come from :data:`FLOOR_EXPONENTS`; ``L`` is kept within [0, lowest value] and ``A``
    non-negative, and the fit with the smallest squared error wins. ``nan`` with fewer than 4 points.

    Example:
        >>> t = np.arange(1, 50)
        >>> round(loss_floor(t, 1.5 + 3.0 / t), 2)
        1.5
    """
    t = np.asarray(steps, dtype=float)
    r = running_min(values)
    ok = np.isfinite(r) & (t > 0)
    t, r = t[ok], r[ok]
    if len(r) < 4:
        return float("nan")
    lo = float(r.min())
    best_err, best_floor = math.inf, lo
    for a in FLOOR_EXPONENTS:
        x = t**-a
        xm, rm = x.mean(), r.mean()
        var = float(((x - xm) ** 2).sum())
        amp = max(float(((x - xm) * (r - rm)).sum()) / var, 0.0) if var > 0 else 0.0
        floor = min(max(rm - amp * xm, 0.0), lo)
        amp = max(float(((r - floor) * x).sum()) / float((x * x).sum()), 0.0)
        err = float(((floor + amp * x - r) ** 2).sum())
        if err < best_err:
            best_err, best_floor = err, floor
    return float(best_floor)
