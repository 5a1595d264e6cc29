"""Contract tests over every entry of the indicator registry, and the diagnosis built from their findings."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

import traindx as tdx
from traindx.monitor import CODES, INDICATORS
from traindx.monitor.diagnosis import CONFLICTS, EXPLAINS, RANK, diagnose
from traindx.monitor.findings import Finding
from traindx.monitor.indicator import EVENTS, SAMPLED, Indicator, Threshold
from traindx.monitor.indicators import REGISTRY


def _everything() -> nn.Module:
    """A model every indicator applies to: Linear, ReLU, Tanh, BatchNorm and Dropout."""
    return nn.Sequential(
        nn.Linear(8, 16),
        nn.BatchNorm1d(16),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Linear(16, 16),
        nn.Tanh(),
        nn.Linear(16, 3),
    )


def _train(mon: tdx.Monitor, model: nn.Module, opt, steps: int = 40, epochs: int = 2) -> None:
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for _ in range(steps // epochs):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(
                model(torch.randn(16, 8, generator=g)), torch.randint(0, 3, (16,), generator=g)
            )
            loss.backward()
            opt.step()
            mon.step(loss)
        mon.epoch_end(train_loss=1.0, val_loss=1.1, train_acc=0.5, val_acc=0.5)


@pytest.mark.parametrize("cls", REGISTRY, ids=lambda c: c.name)
def test_indicator_contract(cls):
    assert issubclass(cls, Indicator) and re.fullmatch(r"[a-z][a-z0-9_]*", cls.name)
    assert cls.events and cls.events <= EVENTS, "events must be among " + ", ".join(sorted(EVENTS))
    assert cls.needs <= set(SAMPLED), "needs must be keys of indicator.SAMPLED"
    for code, (cause, advice) in cls.codes.items():
        assert code in CODES
        assert len(cause) > 20 and len(advice) > 20, f"{code} needs a cause and concrete advice"
    if cls.codes:
        assert cls.thresholds, f"{cls.name} fires findings, so its thresholds must be declared"
    for key, th in cls.thresholds.items():
        assert isinstance(th, Threshold) and len(th.source) > 10, f"{cls.name}.{key} needs a source"
    assert (cls.__doc__ or __import__(cls.__module__).__doc__ or "").strip() or cls.__module__


def test_registry_names_and_codes_are_unique():
    names = [c.name for c in REGISTRY]
    assert len(names) == len(set(names)) and list(INDICATORS) == names
    owned = [code for c in REGISTRY for code in c.codes]
    assert len(owned) == len(set(owned)), "each code belongs to exactly one indicator"
    assert set(owned) | {"indicator_disabled"} == set(CODES)


@pytest.mark.parametrize("cls", REGISTRY, ids=lambda c: c.name)
def test_failing_indicator_says_so_once(cls, monkeypatch):
    torch.manual_seed(0)
    model = _everything()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    calls = []

    def boom(self, ctx, values):
        calls.append(1)
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(cls, "update", boom)
    mon = tdx.Monitor(model, opt, every=1)
    _train(mon, model, opt)
    mon.close()
    disabled = [f for f in mon.findings if f.code == "indicator_disabled"]
    assert calls, f"{cls.name} was never asked to update on a model it applies to"
    assert len(disabled) == 1 and disabled[0].count == 1 and cls.name in disabled[0].message
    assert {s.name: s for s in mon.status()}[cls.name].level == "off"
    assert len(calls) == 1  # never called again once off


def test_a_new_indicator_is_one_class_and_one_registry_line(monkeypatch):
    class LossAboveTen(Indicator):
        name = "loss_above_ten"
        codes = {"plateau": ("a loss above ten, for the test", "make the loss smaller, for the test")}
        events = frozenset({"loss"})
        thresholds = {"limit": Threshold(10.0, "a number chosen for this test only")}

        def update(self, ctx, values):
            if values["loss"] > self.t("limit"):
                ctx.fire("plateau", "warning", f"loss {values['loss']}", step=values["step"])

    import traindx.monitor.monitor as mm

    monkeypatch.setattr(mm, "REGISTRY", (LossAboveTen,))
    mon = tdx.Monitor(nn.Linear(2, 2), every=1)
    for v in (1.0, 11.0, 2.0):
        mon.step(v)
    mon.close()
    (f,) = mon.findings
    assert (
        f.step == 1
        and f.advice.startswith("make the loss")
        and [s.name for s in mon.status()] == ["loss_above_ten"]
    )


def _f(code, step=10, last=None, severity="warning"):
    return Finding(code, severity, step, 0, "m", "a", last_step=last)


def test_diagnosis_picks_one_primary_and_drops_contradictions():
    found = [
        _f("loss_spike", 50),
        _f("divergence", 40, 90, "critical"),
        _f("dead_relu", 60),
        _f("plateau", 80),
        _f("lr_too_low", 30),
        _f("overfitting", 100),
    ]
    (d, *rest) = diagnose(found)
    assert d.primary.code == "divergence" and d.primary.primary and d.primary.caused_by is None
    assert {s.code for s in d.symptoms} == {"loss_spike", "dead_relu", "overfitting"}
    assert all(not s.primary and s.caused_by == "divergence" for s in d.symptoms)
    codes = {c for x in [d, *rest] for c in x.codes}
    assert not codes & {"lr_too_low", "plateau"}  # contradict divergence: never shown together
    for pair in CONFLICTS:
        assert len(pair) == 2


def test_missing_zero_grad_explains_the_gradient_blowup():
    (d,) = diagnose(
        [
            _f("exploding_gradients", 20),
            _f("missing_zero_grad", 25, severity="critical"),
            _f("divergence", 30),
        ]
    )
    assert d.primary.code == "missing_zero_grad" and set(d.codes) == {
        "missing_zero_grad",
        "exploding_gradients",
        "divergence",
    }


def test_every_shipped_code_is_ranked_for_the_diagnosis():
    # a new code works unranked (it sorts last and explains nothing); the shipped ones all take part
    assert set(CODES) <= set(RANK)


def test_explains_only_points_down_the_ranking():
    for cause, symptoms in EXPLAINS.items():
        for s in symptoms:
            assert RANK.index(cause) < RANK.index(s), (cause, s)


def test_vanishing_gradients_is_not_the_root_of_a_stuck_loss_under_an_adaptive_optimizer():
    found = [_f("vanishing_gradients", 20), _f("lr_too_low", 30), _f("plateau", 60)]
    (sgd,) = diagnose(found)
    assert sgd.primary.code == "vanishing_gradients" and set(sgd.codes) == {c.code for c in found}
    first, *rest = diagnose(found, adaptive=True)
    assert first.primary.code == "lr_too_low" and "plateau" in first.codes
    assert [d.primary.code for d in rest] == ["vanishing_gradients"] and not rest[0].symptoms


class _Ctx:
    grad_scaler = None

    def __init__(self) -> None:
        self.fired: list[tuple[str, str]] = []

    def status(self, level, value, detail) -> None:
        pass

    def fire(self, code, severity, symptom, **kw) -> None:
        self.fired.append((code, symptom))


def test_missing_zero_grad_explains_a_gradient_norm_that_turns_non_finite():
    from traindx.monitor.indicators.missing_zero_grad import MissingZeroGrad

    def run(kept: bool, peak: float) -> list:
        ind, ctx = MissingZeroGrad(), _Ctx()
        ind.update(ctx, {"grad_norm": 2.0, "n_grads": 4})
        # the kept sum changed by more than half its norm (fresh gradients outgrew it): no finding yet
        ind.update(ctx, {"grad_reused": (kept, 1.2)})
        ind.update(ctx, {"grad_norm": peak, "n_grads": 4})
        assert not ctx.fired
        ind.update(ctx, {"grad_norm": float("nan"), "n_grads": 4})
        return ctx.fired

    (fired,) = run(kept=True, peak=40.0)
    assert fired[0] == "missing_zero_grad" and "20x" in fired[1]
    assert not run(kept=False, peak=40.0)  # a fresh tensor each step: zero_grad is called, the lr blew up
    assert not run(kept=True, peak=4.0)  # no growth before the NaN: nothing points at summed gradients


class _GrowthCtx(_Ctx):
    """What UpdateRatio's growth rule reads: the probe's layers, the loss track, the epochs, persistence."""

    def __init__(self, optimizer) -> None:
        from traindx.monitor.loss_track import LossTrack

        super().__init__()
        layer = nn.Linear(64, 64)
        self.probe = type("Probe", (), {"layers": [("fc", layer.weight)]})()
        self.optimizer, self.step, self.epochs, self.loss = optimizer, 0, [], LossTrack()
        self.loss.extend([2.3] * 40)
        self._ev: list[bool] = []

    def record(self, *args, **kw) -> None:
        pass

    def has(self, code) -> bool:
        return any(c == code for c, _ in self.fired)

    def persist(self, flag, k=2, n=3, key="") -> bool:
        self._ev = (self._ev + [bool(flag)])[-n:]
        return sum(self._ev) >= k


@pytest.mark.parametrize(
    ("growth", "level", "line_search", "fires"),
    [(8.0, 0.97, False, True), (8.0, 0.5, False, False), (2.0, 0.97, False, False), (8.0, 0.97, True, False)],
)
def test_weights_grown_far_beyond_their_init_on_a_stuck_loss_is_lr_too_high(
    growth, level, line_search, fires
):
    from traindx.monitor.indicators.update_ratio import UpdateRatio

    model = nn.Linear(2, 2)
    opt = (
        torch.optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe")
        if line_search
        else torch.optim.SGD(model.parameters(), lr=1.0)
    )
    ind, ctx = UpdateRatio(), _GrowthCtx(opt)
    ind.update(ctx, {"init_scales": [("fc", 0.58)]})  # PyTorch's default init: RMS 0.58 / sqrt(64)
    rms0 = 0.58 / 8
    for _ in range(3):  # three epoch ends, each after a sample of the weight layer's norm
        ind.update(ctx, {"layers": [("fc", 1.0, 4096, growth * rms0 * 64)]})
        ctx.epochs.append({"train_loss": level * 2.3})
        ind.update(ctx, {"train_loss": level * 2.3})
    assert [c for c, _ in ctx.fired] == (["lr_too_high"] if fires else [])
    if fires:
        assert f"{growth:.1f}x their initial scale" in ctx.fired[0][1]


@pytest.mark.parametrize(("lr_now", "fires"), [(2e-3, True), (1e-5, False)])
def test_tiny_steps_in_a_schedule_tail_are_not_lr_too_low(lr_now, fires):
    from traindx.monitor.indicators.update_ratio import UpdateRatio

    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=1e-2)
    ind, ctx = UpdateRatio(), _GrowthCtx(opt)  # a loss stuck at its start
    ind.update(ctx, {"ratios": [("fc.weight", 2, 1e-3)]})  # the schedule's peak, healthy steps
    opt.param_groups[0]["lr"] = (
        lr_now  # 1e-5: a cosine's last thousandth; a fifth of the peak is still judged
    )
    for step in (20, 40, 60):
        ctx.step = step
        ind.update(ctx, {"ratios": [("fc.weight", 2, 1e-6)]})
    assert ("lr_too_low" in [c for c, _ in ctx.fired]) is fires
