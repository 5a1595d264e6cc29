"""The adaptive sampling schedule: what it charges a sample and how it sizes the period."""

from __future__ import annotations

import pytest

from traindx.monitor.schedule import HEADROOM, Schedule


def _run(
    schedule: Schedule, steps: int, step_s: float, sample_s: float, slow_s: float, fixed_s: float
) -> None:
    """Feed synthetic timings: a sampled step costs ``sample_s`` in the monitor and makes its own and the next
    training step ``slow_s`` slower; every other step costs ``fixed_s`` in the monitor."""
    after = False
    for k in range(steps):
        sampled = schedule.due(k)
        train = step_s + (slow_s if sampled or after else 0.0)
        schedule.record(k, sampled, sample_s if sampled else fixed_s, train)
        after = sampled


def test_every_mode_samples_a_fixed_period():
    s = Schedule(every=3)
    assert [s.due(k) for k in range(7)] == [True, False, False, True, False, False, True]


def test_slower_training_steps_count_as_monitor_time():
    plain, slowed = Schedule(), Schedule()
    _run(plain, 3000, 1e-3, 1e-3, 0.0, 0.0)
    _run(slowed, 3000, 1e-3, 1e-3, 1e-3, 0.0)
    # a sample that also slows two training steps by a step each costs 3x as much: sampled ~3x less often
    assert slowed.period >= 2.5 * plain.period
    assert slowed.overhead == pytest.approx(plain.overhead, rel=0.35)


def test_fixed_per_step_cost_is_taken_off_the_budget():
    s = Schedule(budget=0.05)
    _run(s, 5000, 1e-3, 1e-3, 0.0, 1e-5)  # 1% of every step already goes to the monitor
    target = HEADROOM * 0.05
    assert s.overhead <= 1.15 * target
    assert s.period >= 1e-3 / ((target - 0.01) * 1e-3) * 0.8


def test_epoch_work_is_charged():
    s = Schedule()
    _run(s, 500, 1e-3, 1e-3, 0.0, 0.0)
    before = s.overhead
    s.charge(0.05)
    assert s.overhead > before
