"""The adaptive sampling schedule: what it charges against the budget and how it places samples."""

from __future__ import annotations

import pytest

from traindx.monitor.schedule import HEADROOM, MAX_PERIOD, MIN_PERIOD, Schedule


def _run(
    schedule: Schedule, steps: int, step_s: float, sample_s: float, after_s: float, fixed_s: float
) -> list:
    """Feed synthetic timings: a sampled step costs ``sample_s`` in the monitor (reads and hooks), the step
    after it ``after_s`` (the parameter comparison), every other step ``fixed_s``. Returns the sampled steps."""
    after, sampled_at = False, []
    for k in range(steps):
        sampled = schedule.due(k)
        cost = sample_s if sampled else (after_s if after else fixed_s)
        schedule.record(k, sampled, cost, step_s)
        after = sampled
        if sampled:
            sampled_at.append(k)
    return sampled_at


def test_every_mode_samples_a_fixed_period():
    s = Schedule(every=3)
    assert [s.due(k) for k in range(7)] == [True, False, False, True, False, False, True]


def test_long_run_stays_at_the_aim_and_charges_the_step_after_a_sample():
    cheap, costly = Schedule(), Schedule()
    n_cheap = len(_run(cheap, 5000, 1e-3, 1e-3, 0.0, 1e-6))
    n_costly = len(_run(costly, 5000, 1e-3, 1e-3, 2e-3, 1e-6))
    aim = HEADROOM * 0.05
    for s in (cheap, costly):
        assert aim * 0.8 <= s.overhead <= aim * 1.05
    assert n_cheap >= 2.5 * n_costly  # a sample that costs 3x is taken ~3x less often


def test_short_run_takes_its_first_sample_at_once_and_only_what_it_can_pay_for():
    s = Schedule()
    s.charge(2e-3)  # the constructor
    at = _run(s, 50, 2e-3, 2e-3, 1e-3, 1e-5)
    assert at[0] == 0 and len(at) <= 3
    assert s.overhead <= 0.06  # the unavoidable first sample and constructor: ~4% of this 50-step run


def test_fixed_per_step_cost_is_taken_off_the_budget():
    s = Schedule(budget=0.05)
    _run(s, 5000, 1e-3, 1e-3, 0.0, 1e-5)  # 1% of every step already goes to the monitor
    assert s.overhead <= 1.05 * HEADROOM * 0.05


def test_a_monitor_that_cannot_afford_its_fixed_cost_waits_the_longest():
    s = Schedule(budget=0.01)
    at = _run(s, 1000, 1e-3, 1e-3, 0.0, 1e-4)  # fixed cost alone is 10% of a step
    assert at[:3] == [0, MAX_PERIOD, 2 * MAX_PERIOD]


def test_epoch_work_is_charged():
    s = Schedule()
    _run(s, 500, 1e-3, 1e-3, 0.0, 0.0)
    before = s.overhead
    s.charge(0.05)
    assert s.overhead > before == pytest.approx(before)


def test_every_step_mode_caps_pauses_between_steps():
    """With every=1 no step is unsampled; pauses (other work between steps) still count as a few steps only,
    so they do not dilute the monitor's share."""
    paused, steady = Schedule(every=1), Schedule(every=1)
    for k in range(200):
        pause = 0.5 if k % 20 == 0 and k else 0.0  # half a second elsewhere every 20 steps
        paused.record(k, True, 1e-3, 2e-3 + pause)
        steady.record(k, True, 1e-3, 2e-3)
    assert paused.overhead == pytest.approx(steady.overhead, rel=0.15)
    assert steady.overhead == pytest.approx(1 / 3, rel=1e-6)


def test_the_step_after_an_epoch_end_counts_as_one_typical_step():
    s = Schedule(every=1)
    for k in range(50):
        s.record(k, True, 1e-3, 2e-3)
    before = s.overhead
    s.record(50, True, 1e-3, 5.0, resumed=True)  # evaluation or other work after epoch_end
    assert s.overhead == pytest.approx(before, rel=1e-3)


def test_work_before_a_sample_is_part_of_its_cost():
    """The parameter copy made on the step before a sample (``charge(..., cycle=True)``) paces the samples."""

    def samples(copy_s: float) -> int:
        s, n = Schedule(), 0
        for k in range(3000):
            sampled = s.due(k)
            n += sampled
            s.record(k, sampled, 1e-3 if sampled else 1e-6, 1e-3)
            if s.due(k + 1):
                s.charge(copy_s, cycle=True)
        assert s.overhead <= 1.05 * HEADROOM * 0.05
        return n

    assert samples(0.0) >= 2.5 * samples(2e-3)


def test_the_first_samples_slower_steps_are_charged_once_a_typical_step_is_known():
    """Before any unsampled step there is no typical step to compare with; the first sample's hooked step
    and the step after it are charged as soon as there is one, at most as much again as was measured."""
    s = Schedule(every=100)
    s.record(0, True, 1e-3, 3e-3)  # the first sample: its step trains 1 ms slower than a typical one
    s.record(1, False, 1e-5, 2.2e-3)  # and the step after it 0.2 ms slower
    assert s.overhead == pytest.approx(1.01e-3 / (1.01e-3 + 5.2e-3))
    for k in range(2, 10):
        s.record(k, False, 1e-5, 2e-3)
    monitor = 1.01e-3 + 8e-5 + 1.01e-3  # measured, plus the 1.2 ms excess capped at the 1.01 ms measured
    assert s.overhead == pytest.approx(monitor / (1.01e-3 + 8e-5 + 5.2e-3 + 16e-3))

    slow_start = Schedule(every=100)  # a first step 50x a later one (CUDA start-up) is not the monitor's
    slow_start.record(0, True, 1e-3, 0.1)
    for k in range(1, 10):
        slow_start.record(k, False, 1e-5, 2e-3)
    assert slow_start.overhead == pytest.approx((1e-3 + 9e-5 + 1.01e-3) / (1e-3 + 9e-5 + 0.1 + 18e-3))


def test_an_epoch_end_asks_for_one_steady_sample_when_the_budget_paid_for_none():
    from traindx.monitor.schedule import STEADY_STEP, Schedule

    s = Schedule(budget=1e-9)
    for k in range(STEADY_STEP - 1):
        s.record(k, k == 0, 1e-5, 1e-3)
    assert not s.wants_sample()  # within the optimizer's first steps: a sample there is not steady
    s.record(STEADY_STEP - 1, False, 1e-5, 1e-3)
    assert s.wants_sample()
    s.record(STEADY_STEP, True, 1e-3, 1e-3)
    assert not s.wants_sample()  # once per run
    assert not Schedule(every=1000).wants_sample()  # a fixed period is the user's choice


def test_one_slow_reference_step_does_not_make_samples_look_free():
    # the first untouched step is slow (a stall): before, every later sampled step read as faster than that
    # reference, the signed excess cancelled the samples' cost and every step of the run was sampled
    s = Schedule()
    after, at = False, []
    for k in range(300):
        sampled = s.due(k)
        touched = sampled or after
        step_s = 0.040 if k == 2 else (0.022 if touched else 0.020)  # hooks slow a touched step by 10%
        s.record(k, sampled, 5e-4 if sampled else 1e-5, step_s)
        after = sampled
        if sampled:
            at.append(k)
    gaps = [b - a for a, b in zip(at, at[1:], strict=False)]
    assert min(gaps) >= MIN_PERIOD  # an untouched step in every cycle keeps the reference honest
    true_cost = len(at) * (5e-4 + 2 * 0.002) + 300 * 1e-5
    assert true_cost / (true_cost + 300 * 0.020) <= 0.05
