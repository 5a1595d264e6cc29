"""The run's loss as the rules judge it: its start, its best, its recent level and trend, its floor.

Every loss rule is relative to the run itself, so the same rule holds for a classifier that drives its
cross-entropy to 0.01 and for a language model whose loss cannot go below a large irreducible part:

- ``baseline``: where the run started (median of the first steps, or the first loss if lower);
- ``best``: the lowest smoothed loss so far (median over ``WINDOW`` steps, so one lucky batch is not a best);
- ``recent``: the median of the last ``WINDOW`` steps;
- ``floor``: the loss the run is heading to, from a fitted decay of its running minimum
  (:func:`traindx.signals.loss.loss_floor`).

Example:
    >>> lt = LossTrack()
    >>> lt.extend([2.0] * 10 + [1.0] * 30)
    >>> lt.baseline(), lt.best, lt.stuck(), lt.rising()
    (2.0, 1.0, False, False)
"""

from __future__ import annotations

import math

from traindx.signals import loss as lsig

#: Losses used for the run's baseline (the median of its first steps) and for "recent" loss.
BASELINE_STEPS = 10
WINDOW = 20
#: "Has it learned" is judged only after this many losses (earlier, only a climb above the start counts).
MIN_STEPS = 30


class LossTrack:
    """Running summaries of one run's step losses (host floats)."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.best = math.inf
        self.best_step = -1
        self.low, self.high = math.inf, -math.inf  # lowest and highest finite step loss so far
        self._base: float | None = None
        self._mins: list[tuple[int, float]] = []  # (end step of window, window median)

    def __len__(self) -> int:
        return len(self.values)

    def extend(self, values: list[float]) -> None:
        """Append the next steps' losses (one per step)."""
        for v in values:
            self.values.append(v)
            if math.isfinite(v):
                self.low, self.high = min(self.low, v), max(self.high, v)
            n = len(self.values)
            if n % WINDOW == 0:
                med = lsig.baseline(self.values[-WINDOW:])
                if math.isfinite(med):
                    self._mins.append((n, med))
                    if med < self.best:
                        self.best, self.best_step = med, n - 1

    def baseline(self) -> float:
        """Where the run started; ``nan`` before the first loss."""
        if self._base is not None:
            return self._base
        if len(self.values) < BASELINE_STEPS:
            return lsig.baseline(self.values[:1]) if self.values else float("nan")
        # the first loss is the untrained model's; the median guards against one unlucky batch, the min
        # against a run that blew up within its first steps
        self._base = min(lsig.baseline(self.values[:1]), lsig.baseline(self.values[:BASELINE_STEPS]))
        return self._base

    def recent(self, n: int = WINDOW) -> float:
        """Median of the last ``n`` losses (finite ones)."""
        return lsig.baseline(self.values[-n:]) if self.values else float("nan")

    def progress(self) -> float:
        """Relative decrease of the recent loss below the baseline; ``nan`` until ``MIN_STEPS`` losses."""
        if len(self.values) < MIN_STEPS:
            return float("nan")
        b = self.baseline()
        return 1.0 - self.recent() / b if b > 0 else float("nan")

    def improvement(self) -> float:
        """Relative decrease of the best smoothed loss below the baseline (``nan`` until ``MIN_STEPS``)."""
        b = self.baseline()
        if len(self.values) < MIN_STEPS or not (b > 0 and math.isfinite(self.best)):
            return float("nan")
        return 1.0 - self.best / b

    def stuck(self) -> bool:
        """Not learned at all: the best smoothed loss is within ``STALLED_PROGRESS`` of the start.

        Before ``MIN_STEPS`` losses: whether the loss already climbed 1.5x above its start.
        """
        imp = self.improvement()
        if not math.isnan(imp):
            return imp < lsig.STALLED_PROGRESS
        if len(self.values) < 2:
            return False
        return self.recent(3) > lsig.SPIKE_OVER_BASELINE * lsig.baseline(self.values[:1])

    def lost_share(self) -> float:
        """Share of the progress made (baseline - best) that the recent loss gave back; ``nan`` early on."""
        b, r = self.baseline(), self.recent()
        if not (math.isfinite(self.best) and b > self.best):
            return float("nan")
        return (r - self.best) / (b - self.best) if math.isfinite(r) else math.inf

    def rising(self) -> bool:
        """Learned, then the recent loss climbed to ``RISE_OVER_BEST`` x its best, giving back at least
        ``RISE_LOST_SHARE`` of the progress (a near-zero loss's relative noise is no rise)."""
        imp = self.improvement()
        if math.isnan(imp) or imp < lsig.STALLED_PROGRESS:
            return False
        return self.recent() >= lsig.RISE_OVER_BEST * self.best and self.lost_share() >= lsig.RISE_LOST_SHARE

    def diverging(self) -> bool:
        """Loss well above its best after progress (lost ``DIVERGE_LOST_GAINS`` of it), or 1.5x above its start."""
        b, r = self.baseline(), self.recent()
        if len(self.values) < BASELINE_STEPS or not (b > 0):
            return False
        if not math.isfinite(r) or r > lsig.SPIKE_OVER_BASELINE * b:
            return True
        return self.rising() and self.lost_share() >= lsig.DIVERGE_LOST_GAINS

    def not_improving(self) -> bool:
        """Stuck at the start or climbing away from the best: gradient symptoms then mean a fault."""
        return self.stuck() or self.rising() or self.diverging()

    def window(self) -> int:
        """The window the flatness tests use: ``WINDOW`` steps, or a tenth of the run (at most 1000)."""
        return max(WINDOW, min(len(self.values) // 10, 1000))

    def flat(self) -> bool:
        """Confidently not improving: even the upper end of the last window's ~95% improvement interval over
        the best earlier window is under ``PLATEAU_UPPER``; False before three windows."""
        w = self.window()
        if len(self.values) < 3 * w:
            return False
        return lsig.plateau_upper(self.values[-10 * w :], w) < lsig.PLATEAU_UPPER

    def floor(self) -> float:
        """The loss the run is heading to (fitted decay of the running minimum); ``nan`` early on."""
        if len(self._mins) < 4:
            return float("nan")
        steps, meds = zip(*self._mins, strict=True)
        return lsig.loss_floor(steps, meds)

    def remaining(self) -> float:
        """Share of the reachable improvement (baseline -> floor) still ahead of the recent loss."""
        b, f, r = self.baseline(), self.floor(), self.recent()
        if not (math.isfinite(f) and b - f > 0):
            return float("nan")
        return (r - f) / (b - f)
