"""Which steps the monitor samples: a fixed period, or one adapted at run time to an overhead budget.

The adaptive schedule measures what a sample costs and what a training step costs, and samples every
``ceil(cost / (budget * step_time))`` steps, so the monitor's share of wall time stays near ``budget``
(Cockpit, NeurIPS 2021: every-step instruments cost 1.5-21x, every 16th step 1.04-2.2x). The first samples
come densely (every step up to ``warmup`` samples) so that a run's baseline and its init-time faults are
seen at once; while the measured share is above budget the period stretches until it is paid back.

Example:
    >>> s = Schedule(every=4)
    >>> [s.due(k) for k in range(6)]
    [True, False, False, False, True, False]
"""

from __future__ import annotations

import math

#: Never wait longer than this many steps between samples: a NaN or a collapse is seen within it.
MAX_PERIOD = 200
#: A gap between two steps longer than this many typical steps (evaluation, checkpointing, other work in the
#: process) counts as this many steps only: otherwise pauses inflate the step-time estimate, and the budget
#: they "earn" is spent on dense sampling of the steps that follow (benchmarks/overhead.py, whose arms
#: interleave: 1.30x instead of 1.08x on an MLP).
GAP_CAP = 4.0
#: The budget is a ceiling on the wall-time ratio, so the schedule aims below it: its timers miss costs of
#: sampling (hook dispatch, caches refilled after a parameter snapshot) and a share of total time f means a
#: ratio of 1/(1-f), above 1+f (measured: at 1.0x the budget the MLP ran at 1.07x, benchmarks/overhead.py).
HEADROOM = 0.8
#: Samples taken densely at the start: enough for an early baseline of every signal.
WARMUP = 4
#: Over-budget time is paid back only after this many steps, so the first part of a run (where most faults
#: are already visible) is sampled at the steady rate rather than starved by the warm-up's cost.
PAYBACK_AFTER = 100


class Schedule:
    """Decides whether step ``k`` is sampled; ``record`` feeds measured costs to the adaptive mode."""

    def __init__(self, every: int | None = None, budget: float = 0.05, warmup: int = WARMUP) -> None:
        self.every = every
        self.budget = budget
        self.warmup = warmup
        self.period = 1 if every is None else every
        self.samples = 0
        self._next = 0
        self._monitor_time = 0.0
        self._train_time = 0.0
        self._cycle = 0.0
        self._cost: float | None = None
        self._startup = 0.0
        self._typical: float | None = None

    def due(self, step: int) -> bool:
        """Whether step ``step`` (0-based) should be sampled."""
        if self.every is not None:
            return step % self.every == 0
        return step >= self._next

    def record(self, step: int, sampled: bool, monitor_s: float, train_s: float) -> None:
        """Account one step: monitor seconds spent on it and training seconds outside the monitor."""
        if self._typical is not None:
            train_s = min(train_s, GAP_CAP * self._typical)
        if train_s > 0:
            self._typical = train_s if self._typical is None else 0.9 * self._typical + 0.1 * train_s
        self._monitor_time += monitor_s
        self._train_time += train_s
        self._cycle += monitor_s
        if not sampled or self.every is not None:
            return
        self.samples += 1
        cost, self._cycle = self._cycle, 0.0
        if self.samples < self.warmup:
            # the first samples are cold (allocations, first calls): a one-time cost, not the steady one
            self._startup += cost
        else:
            # a fresh low reading wins at once (warm-up is over); a high one moves the average gradually
            self._cost = cost if self._cost is None else min(cost, 0.7 * self._cost + 0.3 * cost)
        if self.samples < self.warmup or self._cost is None:
            self._next = step + 1
            return
        mean_step = self._train_time / max(step + 1, 1)
        if mean_step <= 0:
            self.period = MAX_PERIOD
        else:
            target = HEADROOM * self.budget
            period = self._cost / (target * mean_step)
            # over budget so far (the dense start, a slow sample): stretch the period until it is paid back
            # (the cold first sample is a one-time cost that long runs amortise; it is not paid back)
            steady = (self._monitor_time - self._startup) / max(self._monitor_time + self._train_time, 1e-12)
            if step >= PAYBACK_AFTER:
                period *= max(1.0, steady / target)
            self.period = int(min(MAX_PERIOD, max(1, math.ceil(period))))
        self._next = step + self.period

    @property
    def overhead(self) -> float:
        """Measured monitor time as a fraction of the total (monitor + training)."""
        total = self._monitor_time + self._train_time
        return self._monitor_time / total if total > 0 else 0.0
