"""Which steps the monitor samples: a fixed period, or one paced at run time by an overhead budget.

The adaptive schedule keeps a budget account over the whole run. Everything the monitor costs is charged to
it, as measured: its constructor, the small fixed cost of every ``step()`` call, each sample's cycle (the
parameter copy on the step before it, its reads, the time its forward hooks take inside the sampled forward
pass, timed in the hooks), the extra training time of the sampled step and the one after it (above a typical
unsampled step's; for the first sample, which has no typical step before it, as soon as one is known) and
``epoch_end``. The run's own training time earns budget. The first sample is taken at step 0 (a run's
init-time faults and baseline are there; its parameter copy is the constructor's), and each next one as soon
as the account can pay for it: with ``M`` monitor seconds so far, ``T`` training seconds,
``c`` the measured cost of a sample cycle (a moving average), ``t`` the mean training step and ``f`` the fixed
cost per step, the next sample comes after ``d = ((M + c)(1 - a) - a T) / (a (t + f) - f)`` steps for an aim
``a``. So the period grows from measurements: a 50-step run gets the samples it can afford and no more, and a
long run settles at a period of about ``c / (a t)`` (Cockpit, NeurIPS 2021: every-step instruments cost
1.5-21x, every 16th step 1.04-2.2x).

Example:
    >>> s = Schedule(every=4)
    >>> [s.due(k) for k in range(6)]
    [True, False, False, False, True, False]
"""

from __future__ import annotations

import math
import statistics

#: Never wait longer than this many steps between samples: a NaN or a collapse is seen within it.
MAX_PERIOD = 200
#: Never sample sooner than this many steps after the last sample (adaptive schedule): a sample and the step
#: after it are touched, so a third step is the untouched one that says what a step costs without the
#: monitor. Without it a typical-step reference that read high (one slow step, 38.9 against 22 ms on the
#: benchmark's LSTM) made every sampled step look faster than typical, the signed excess cancelled the
#: samples' cost, and the schedule sampled every step of a 50-step run for ever after, with no untouched step
#: left to correct the reference (benchmarks/overhead.py, LSTM 50-step runs: 1.07-1.10x against an aim of 3.5%).
MIN_PERIOD = 3
#: The typical step is the median of this many recent untouched steps: one slow step (a data-loader stall,
#: the allocator growing) does not move it.
TYPICAL_OF = 5
#: A gap between two steps longer than this many typical steps (evaluation, checkpointing, other work in the
#: process) counts as this many steps only: otherwise pauses inflate the step-time estimate, and the budget
#: they "earn" is spent on dense sampling of the steps that follow (benchmarks/overhead.py, whose arms
#: interleave: 1.30x instead of 1.08x on an MLP). With ``every=1`` no step is unsampled, so the reference is
#: every step's time; without it the interleaved benchmark read 1.55x for a measured 2.25x (MLP).
GAP_CAP = 4.0
#: The budget is a ceiling on the wall-time ratio, so the schedule aims below it: a share of total time f
#: means a ratio of 1/(1-f), above 1+f, and what the timers cannot see (allocator and cache effects of the
#: sampled steps) still adds a little (benchmarks/overhead.py, "overhead" in benchmarks/RESULTS.md).
HEADROOM = 0.7
#: Touched steps before the first untouched one whose excess is charged late (the first sample's cycle is
#: two steps; a few more cover a second sample before any untouched step, as with ``every=2``).
UNREFERENCED = 4
#: An optimizer's first steps are not its steady steps: SGD's momentum buffer starts at one gradient (1 - 0.9^10
#: = 65% of its steady size after 10 steps at momentum 0.9), Adam's bias correction makes its first step
#: lr * sign(g), and RAdam (Liu et al., ICLR 2020) takes un-normalized momentum steps until its variance
#: rectification starts (rho_t > 4, about step 6 at beta2 = 0.999). A sample from this step on shows the
#: steady step; a run whose budget paid for none by an epoch end gets one there (see ``wants_sample``).
STEADY_STEP = 10


class Schedule:
    """Decides whether step ``k`` is sampled; ``record`` and ``charge`` feed it measured costs.

    A sample's cycle is the work done for it before it (``charge(..., cycle=True)``: the parameter copy,
    made by the constructor for the sample at step 0), its own step and the step after it.
    """

    def __init__(self, every: int | None = None, budget: float = 0.05) -> None:
        self.every = every
        self.budget = budget
        self.period = 1 if every is None else every
        self.samples = 0
        self._next = 0
        self._monitor_time = 0.0
        self._train_time = 0.0
        self._steps = 0
        self._cycle = 0.0  # the open cycle's cost so far
        self._cycle_of = 0  # the step whose sample the open cycle belongs to
        self._cost: float | None = None
        self._typical: float | None = None  # training time of a step the monitor did not touch
        self._recent: list[float] = []  # the last TYPICAL_OF untouched steps' training times
        self._any: float | None = None  # training time of any step (the reference for gaps when every<=2)
        self._fixed: float | None = None
        self._after_sample = False
        self._last_sample = 0
        # touched steps seen before any untouched one (the first sample's): their excess over a typical step
        # is charged as soon as a typical step is known, (cycle, monitor s, train s) each
        self._unreferenced: list[tuple[int, float, float]] = []

    def due(self, step: int) -> bool:
        """Whether step ``step`` (0-based) should be sampled."""
        if self.every is not None:
            return step % self.every == 0
        return step >= self._next

    def record(
        self, step: int, sampled: bool, monitor_s: float, train_s: float, resumed: bool = False
    ) -> None:
        """Account one step: monitor seconds (its ``step()`` call plus hook time) and the training seconds
        before it (since the previous ``step()`` returned, hook time taken out). On a sampled step and the
        one after it, training time above the typical unsampled step's counts as monitor time. ``resumed``:
        the first step after an ``epoch_end``, whose gap (evaluation, a new data-loader pass) counts as one
        typical step."""
        ref = self._typical if self._typical is not None else self._any
        if ref is not None:
            train_s = min(train_s, (1.0 if resumed else GAP_CAP) * ref)
        touched = sampled or self._after_sample
        referenced = False
        # the same cap on the monitor's side: on a loaded machine a 30 us call is sometimes descheduled for
        # 10-25 ms (measured at load average 10 on 2 cores), and one such pause would cost a short run its
        # next samples although the monitor did not spend it (a CPU clock would tell, but reading one costs
        # 0.25-8 ms in a sandboxed process, more than the call it would time)
        if not touched and self._fixed is not None:
            monitor_s = min(monitor_s, GAP_CAP * self._fixed)
        elif sampled and self._cost is not None:
            monitor_s = min(monitor_s, GAP_CAP * self._cost)
        if touched and self._typical is None and len(self._unreferenced) < UNREFERENCED:
            self._unreferenced.append((step if sampled else self._cycle_of, monitor_s, train_s))
        if touched and self._typical is not None:
            # what the timers cannot see: a sampled step's forward/backward and the step after it run slower
            # than a typical one (hooks take the slow call path, the sample's reductions evict caches), found
            # by comparison with unsampled steps; signed, so that timing noise averages out instead of
            # adding up. With every=1 or 2 there are no unsampled steps, and this part is missing
            excess = max(train_s - self._typical, -monitor_s)
            monitor_s, train_s = monitor_s + excess, train_s - excess
        if train_s > 0:
            self._any = train_s if self._any is None else 0.9 * self._any + 0.1 * train_s
            if not touched:
                referenced = self._typical is None
                self._recent = [*self._recent[-(TYPICAL_OF - 1) :], train_s]
                self._typical = statistics.median(self._recent)
                self._fixed = monitor_s if self._fixed is None else 0.9 * self._fixed + 0.1 * monitor_s
        self._after_sample = sampled
        self._monitor_time += monitor_s
        self._train_time += train_s
        self._steps += 1
        if sampled:
            self._open(step)
            self.samples += 1
            self._last_sample = step
        if touched:
            self._cycle += monitor_s
        if referenced:
            self._charge_unreferenced()
        if self.every is not None:
            return
        if sampled or referenced or self._next <= step + 1:
            self._plan(step)

    def _charge_unreferenced(self) -> None:
        """The first typical step is known: charge the excess of the touched steps before it (the run's
        first sample: its hooked forward pass and the step after it), as ``record`` does for later ones, but
        at most as much again as was measured on those steps: a run's first steps are slower without a
        monitor too (allocator, lazy initialisation; on CUDA often many times a later step), which is not its
        cost. On a 2.3 ms MLP step the first sample's hooked step ran 0.5-0.9 ms over a typical one, against
        1.0-1.5 ms measured in its ``step()`` call (thread CPU time, benchmarks/RESULTS.md "overhead")."""
        measured = sum(m for _, m, _ in self._unreferenced)
        excess = sum(max(t - self._typical, -m) for _, m, t in self._unreferenced)
        excess = min(excess, measured)
        self._monitor_time += excess
        self._train_time -= excess
        if self._unreferenced and self._unreferenced[0][0] == self._cycle_of:
            self._cycle += excess  # the first sample's cycle is still open: its cost paces the next
        self._unreferenced.clear()

    def _open(self, step: int) -> None:
        """Start the cycle of the sample at ``step``; the previous one is complete, its cost paces the rest."""
        if self._cycle_of == step:
            return
        if self.samples and self._cycle > 0:
            self._cost = self._cycle if self._cost is None else 0.7 * self._cost + 0.3 * self._cycle
        self._cycle, self._cycle_of = 0.0, step

    def _plan(self, step: int) -> None:
        """Place the next sample where the budget account can pay for it."""
        a = HEADROOM * self.budget
        t = self._train_time / max(self._steps, 1)
        f = self._fixed or 0.0
        # before the first cycle is complete, its running part stands in (a lower bound)
        c = self._cost if self._cost is not None else self._cycle
        earn = a * (t + f) - f
        if earn <= 0:
            d = MAX_PERIOD
        else:
            owed = (self._monitor_time + c) * (1 - a) - a * self._train_time
            d = int(min(MAX_PERIOD, max(1, math.ceil(owed / earn))))
        self._next = min(max(step + d, self._last_sample + MIN_PERIOD), self._last_sample + MAX_PERIOD)
        self.period = self._next - self._last_sample

    def wants_sample(self) -> bool:
        """At an epoch end: whether the next step should be sampled although the budget has not paid for it,
        because no sample since ``STEADY_STEP`` exists yet (a short run whose budget affords only its first
        sample). At most once per run, and never with a fixed ``every``: the cost is one sample cycle,
        charged to the account like any other, so later samples wait for it."""
        return self.every is None and self._steps >= STEADY_STEP and self._last_sample < STEADY_STEP

    def charge(self, monitor_s: float, cycle: bool = False) -> None:
        """Count monitor work done outside ``record`` (constructor, ``epoch_end``, the work after a step)
        against the budget; ``cycle``: work for the next step's sample (after ``record`` of the step
        before it), part of that sample's cost."""
        self._monitor_time += monitor_s
        if cycle:
            self._open(self._steps)
            self._cycle += monitor_s

    @property
    def overhead(self) -> float:
        """Measured monitor time as a fraction of the total (monitor + training)."""
        total = self._monitor_time + self._train_time
        return self._monitor_time / total if total > 0 else 0.0
