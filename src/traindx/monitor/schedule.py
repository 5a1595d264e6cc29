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
#: The budget is a ceiling on the wall-time ratio, so the schedule aims below it: a share of total time f
#: means a ratio of 1/(1-f), above 1+f, and the timers still miss a little (measured on an idle machine with
#: benchmarks/overhead.py: aiming at 0.8x the budget, the MLP reported 4.4% for itself and ran at 1.053x).
HEADROOM = 0.7
#: Samples taken densely at the start: enough for an early baseline of every signal.
WARMUP = 4
#: Over-budget time is paid back only after this many steps, so the first part of a run (where most faults
#: are already visible) is sampled at the steady rate rather than starved by the warm-up's cost.
PAYBACK_AFTER = 100


class Schedule:
    """Decides whether step ``k`` is sampled; ``record`` feeds measured costs to the adaptive mode.

    A sample costs more than the monitor's own code: the hooked forward pass of the sampled step runs
    slower, and the step after it compares parameters with their snapshot. Both show up as training time
    above the typical step's, so the schedule charges a sample with its monitor time plus that excess
    (on the sampled step and the one after). It also charges the small fixed cost of every unsampled
    ``step()`` call against the budget before sizing the period.
    """

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
        self._fixed: float | None = None
        self._after_sample = False

    def due(self, step: int) -> bool:
        """Whether step ``step`` (0-based) should be sampled."""
        if self.every is not None:
            return step % self.every == 0
        return step >= self._next

    def record(self, step: int, sampled: bool, monitor_s: float, train_s: float) -> None:
        """Account one step: seconds spent in the monitor's ``step()`` and training seconds before it
        (since the previous ``step()`` returned), which on a sampled step include its forward hooks."""
        if self._typical is not None:
            train_s = min(train_s, GAP_CAP * self._typical)
        touched = sampled or self._after_sample
        excess = 0.0
        if touched:
            if self._typical is not None:
                excess = max(0.0, train_s - self._typical)
        elif train_s > 0:
            self._typical = train_s if self._typical is None else 0.9 * self._typical + 0.1 * train_s
            self._fixed = monitor_s if self._fixed is None else 0.9 * self._fixed + 0.1 * monitor_s
        self._after_sample = sampled
        self._monitor_time += monitor_s + excess
        self._train_time += train_s - excess
        if touched:
            self._cycle += monitor_s + excess
        if not sampled or self.every is not None:
            return
        self.samples += 1
        # the step after this one still belongs to the previous sample's cycle until it is recorded, so
        # a sample's cost is complete when the next sample starts
        cost, self._cycle = self._cycle, 0.0
        if self.samples <= self.warmup:
            # the first samples are cold (allocations, first calls): a one-time cost, not the steady one
            self._startup += cost
        elif cost > 0:
            # a moving average, not the lowest recent reading: keeping the minimum under-estimated the mean
            # cost and sampled too often (own estimate 4.5-5.2% against a 4% aim; benchmarks/overhead.py)
            self._cost = cost if self._cost is None else 0.7 * self._cost + 0.3 * cost
        if self.samples < self.warmup or self._cost is None:
            self._next = step + 1
            return
        mean_step = self._train_time / max(step + 1, 1)
        if mean_step <= 0:
            self.period = MAX_PERIOD
        else:
            target = HEADROOM * self.budget
            # what the fixed per-step cost leaves of the budget (at least a quarter of it, so that a model
            # whose steps are barely longer than the monitor's bookkeeping is still sampled now and then)
            spare = max(target - (self._fixed or 0.0) / mean_step, 0.25 * target)
            period = self._cost / (spare * mean_step)
            # over budget so far (the dense start, a slow sample): stretch the period until it is paid back
            # (the cold first samples are a one-time cost that long runs amortise; they are not paid back)
            steady = (self._monitor_time - self._startup) / max(self._monitor_time + self._train_time, 1e-12)
            if step >= PAYBACK_AFTER:
                period *= max(1.0, steady / target)
            self.period = int(min(MAX_PERIOD, max(1, math.ceil(period))))
        self._next = step + self.period

    def charge(self, monitor_s: float) -> None:
        """Count monitor work done outside ``step()`` (``epoch_end``) against the budget."""
        self._monitor_time += monitor_s

    @property
    def overhead(self) -> float:
        """Measured monitor time as a fraction of the total (monitor + training), counting the slower
        training steps that sampling causes as monitor time."""
        total = self._monitor_time + self._train_time
        return self._monitor_time / total if total > 0 else 0.0
