"""The scale-free rules on tiny runs: lost progress, one extreme step, softmax before the loss (in the model
and in the loop), the input-scale limit, parameters that stop moving, a receding validation rise."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import traindx as tdx
from traindx.errors import InputError
from traindx.monitor.indicators.softmax_output import probability_ceiling, probability_floor
from traindx.monitor.loss_track import LossTrack


def _blobs(n: int = 512, d: int = 16, c: int = 10, seed: int = 0):
    """Well separated Gaussian classes: a linear model learns them in a few dozen steps."""
    g = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(c, d, generator=g)
    y = torch.randint(0, c, (n,), generator=g)
    return centres[y] + torch.randn(n, d, generator=g), y


def _fit(model, opt, steps=90, softmax=False, every=1, x_scale=1.0, batch=32, on_step=None):
    x, y = _blobs()
    x = x * x_scale
    mon = tdx.Monitor(model, opt, every=every)
    for k in range(steps):
        i = (k * batch) % len(x)
        opt.zero_grad()
        out = model(x[i : i + batch])
        loss = F.cross_entropy(F.softmax(out, dim=-1) if softmax else out, y[i : i + batch])
        loss.backward()
        if on_step is not None:
            on_step(k)
        opt.step()
        mon.step(loss)
    mon.close()
    return mon


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 10))


def test_a_near_zero_loss_that_doubles_is_not_rising_but_lost_progress_is():
    lt = LossTrack()
    lt.extend([2.3] * 10 + [0.01] * 40 + [0.03] * 40)  # 3x its best, but 1% of the progress given back
    assert lt.improvement() > 0.9 and lt.recent() >= 1.25 * lt.best
    assert not lt.rising() and not lt.diverging()
    lt.extend([0.5] * 40)  # 21% of the progress given back: rising, not yet divergence (30%)
    assert lt.rising() and not lt.diverging()
    lt.extend([1.2] * 40)
    assert lt.diverging()


def test_cross_entropy_on_probabilities_is_confined_to_its_band():
    g = torch.Generator().manual_seed(0)
    for c in (2, 10, 65):
        p = F.softmax(5 * torch.randn(4096, c, generator=g), dim=-1)
        losses = F.cross_entropy(p, torch.randint(0, c, (4096,), generator=g), reduction="none")
        assert probability_floor(c) * (1 - 1e-6) <= losses.min() and losses.max() <= probability_ceiling(c)


def test_softmax_in_the_training_loop_is_found_through_the_output_gradient():
    # the softmax's Jacobian shrinks the gradient ~C-fold, so SGD at 0.01 barely moves the loss
    model = _mlp()
    mon = _fit(model, torch.optim.SGD(model.parameters(), lr=0.01), softmax=True)
    codes = {f.code for f in mon.findings}
    assert "softmax_before_loss" in codes
    assert mon.diagnosis[0].primary.code == "softmax_before_loss"
    ratio = mon.history.query("name == 'output_grad_ratio'")["value"]
    assert len(ratio) and ratio.max() < 0.5  # ~1/C through the softmax's Jacobian


def test_plain_cross_entropy_meets_the_exact_output_gradient_bound_and_is_silent():
    model = _mlp()
    mon = _fit(model, torch.optim.SGD(model.parameters(), lr=0.05))
    assert [f.code for f in mon.findings] == []
    ratio = mon.history.query("name == 'output_grad_ratio'")["value"]
    assert len(ratio) and ratio.min() >= 1.0 - 1e-4  # exact lower bound for cross-entropy on logits


def test_softmax_as_the_model_last_layer_is_found():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 10), nn.Softmax(dim=-1))
    mon = _fit(model, torch.optim.Adam(model.parameters(), lr=1e-2), steps=120)
    assert "softmax_before_loss" in {f.code for f in mon.findings}


def test_a_loss_that_applies_softmax_to_probabilities_has_gradient_rows_summing_to_zero():
    """The exact test behind the model-output softmax rule, on the monitor's own capture: CE on probability
    outputs ignores a constant added to a row (row sums 0); NLL on their log does not (row sum = -1/p_y)."""
    x, y = _blobs(64)
    for loss_fn, invariant in ((F.cross_entropy, True), (lambda p, t: F.nll_loss(torch.log(p), t), False)):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 10), nn.Softmax(dim=-1))
        mon = tdx.Monitor(model, every=1)
        probe = mon._probe
        loss_fn(model(x), y).backward()
        grad, shift = float(probe.capture.output_grad[0]), float(probe.capture.output_shift[0])
        mon.close()
        assert (shift / grad < 1e-3) is invariant, (shift, grad)


def test_one_extreme_step_is_lr_too_high_but_a_line_search_step_is_not():
    model = _mlp()
    mon = _fit(model, torch.optim.Adam(model.parameters(), lr=1.0), steps=12, every=4)
    assert "lr_too_high" in {f.code for f in mon.findings}
    assert any(f.primary and f.code in {"lr_too_high", "divergence", "nan_inf"} for f in mon.findings)

    model = _mlp()
    opt = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=3, line_search_fn="strong_wolfe")
    x, y = _blobs()
    mon = tdx.Monitor(model, opt, every=2)
    for _ in range(20):

        def closure():
            opt.zero_grad()
            lo = F.cross_entropy(model(x), y)
            lo.backward()
            return lo

        mon.step(opt.step(closure))
    mon.close()
    assert "lr_too_high" not in {f.code for f in mon.findings}


@pytest.mark.parametrize(("scale", "fires"), [(1.0, False), (16.0, True)])
def test_input_scale_limit_catches_raw_0_16_digits(scale, fires):
    from traindx.experiments.datasets import load

    ds = load("digits")
    x = torch.from_numpy(ds.x_train[:64]).reshape(64, -1) * scale  # raw digits are 0-16
    model = nn.Linear(64, 10)
    mon = tdx.Monitor(model, every=1)
    F.cross_entropy(model(x), torch.from_numpy(ds.y_train[:64]).long()).backward()
    mon.step(1.0)
    mon.close()
    assert ("input_scale" in {f.code for f in mon.findings}) is fires


def test_parameters_that_stop_moving_after_training_are_not_no_update():
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)

    def decay_to_zero(k):  # a schedule that ends at lr 0 (linear decay, as the HF Trainer's default)
        for group in opt.param_groups:
            group["lr"] = 0.05 * max(0.0, 1 - k / 60)

    mon = _fit(model, opt, steps=90, on_step=decay_to_zero)
    assert "no_update" not in {f.code for f in mon.findings}
    # a head that never moves (the optimizer was built before it was replaced) still is
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    model[2] = nn.Linear(32, 10)
    mon = _fit(model, opt, steps=30)
    assert "no_update" in {f.code for f in mon.findings}


def test_a_receding_validation_rise_is_not_overfitting():
    mon = tdx.Monitor(nn.Linear(2, 2))
    rows = [(1.0, 0.30), (0.5, 0.20), (0.4, 0.25), (0.35, 0.27), (0.3, 0.23), (0.25, 0.19)]
    for tl, vl in rows:  # three epochs 10%+ above the best, but already falling back: L-BFGS-like noise
        mon.step(tl)
        mon.epoch_end(train_loss=tl, val_loss=vl)
    mon.close()
    assert "overfitting" not in {f.code for f in mon.findings}


def test_vanishing_gradients_needs_a_loss_that_is_stuck_and_flat():
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for i in range(8):
        layers += [nn.Linear(16 if i == 0 else 32, 32), nn.Sigmoid()]
    deep = nn.Sequential(*layers, nn.Linear(32, 10))
    mon = _fit(deep, torch.optim.SGD(deep.parameters(), lr=0.01), steps=120, every=3)
    assert "vanishing_gradients" in {f.code for f in mon.findings}
    # the gate: just past the first judged steps a fast-learning run can still be within 10% of its start
    # (stuck), but its loss is falling (not flat), so a tiny first-layer gradient share is no finding there
    early = LossTrack()
    early.extend([0.69 - 0.001 * i for i in range(60)])  # 9% below its start after 60 steps, still falling
    assert early.stuck() and not early.flat()
    stuck = LossTrack()
    stuck.extend([2.3026 + 0.001 * ((-1) ** i) for i in range(90)])
    assert stuck.stuck() and stuck.flat()


def test_a_zero_initialized_head_growing_is_not_an_extreme_step():
    # fine-tuning: features frozen, a fresh head initialized at zero (relative steps are huge while it grows)
    model = _mlp()
    for p in model[0].parameters():
        p.requires_grad_(False)
    nn.init.zeros_(model[2].weight)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    mon = _fit(model, opt, steps=40, every=2)
    assert "lr_too_high" not in {f.code for f in mon.findings}
    ratios = mon.history.query("name == 'update_ratio'")["value"]
    assert (
        ratios.max() > 0.5
    )  # the steps were extreme relative to the head's norm: the exemption is what held


def _epochs(model, opt, epochs=4, steps=30, on_epoch=None):
    """Train on the blobs with ``epoch_end`` calls under a budget that pays for no sample after the first
    (a short run on a loaded machine)."""
    x, y = _blobs()
    mon = tdx.Monitor(model, opt, budget=1e-9)
    for e in range(epochs):
        for k in range(steps):
            i = (k * 32) % len(x)
            opt.zero_grad()
            loss = F.cross_entropy(model(x[i : i + 32]), y[i : i + 32])
            loss.backward()
            opt.step()
            mon.step(loss)
        if on_epoch is not None:
            on_epoch(e)
        mon.epoch_end(train_loss=float(loss.detach()))
    mon.close()
    return mon


def test_epoch_ends_judge_the_update_ratio_when_the_budget_paid_for_no_steady_sample():
    model = _mlp()
    mon = _epochs(model, torch.optim.SGD(model.parameters(), lr=1e-5))
    # the first sample, and the one steady sample the first epoch end asked for
    assert set(mon.history.query("name == 'update_ratio'")["step"]) == {0, 30}
    assert "lr_too_low" in {f.code for f in mon.findings}
    model = _mlp()
    mon = _epochs(model, torch.optim.SGD(model.parameters(), lr=0.05))  # a healthy run: learns, silent
    assert not mon.findings


def test_a_ratio_measured_before_the_learning_rate_changed_is_not_judged_at_epoch_end():
    # warm-up from a tiny learning rate: the first step's ratio says nothing about the steps after it
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=1e-5)

    def warm(_epoch):
        for g in opt.param_groups:
            g["lr"] *= 1.0001

    mon = _epochs(model, opt, on_epoch=warm)
    assert "lr_too_low" not in {f.code for f in mon.findings}


def _chance_run(rows, val_size=None):
    """A 10-class model seen on one sampled step, then epoch ends of (train_acc, val_acc)."""
    torch.manual_seed(0)
    net = nn.Linear(4, 10)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    mon = tdx.Monitor(net, opt, every=1)
    loss = nn.functional.cross_entropy(net(torch.randn(8, 4)), torch.randint(0, 10, (8,)))
    loss.backward()
    opt.step()
    mon.step(loss)
    for tr, va in rows:
        mon.epoch_end(train_acc=tr, val_acc=va, val_size=val_size)
    mon.close()
    return {f.code for f in mon.findings}


def test_validation_at_chance_while_training_accuracy_rises_is_overfitting():
    # random labels (Zhang et al. 2017): train accuracy leaves 1/10, validation stays within noise of it
    rising = [(0.10, 0.11), (0.135, 0.075), (0.167, 0.113), (0.196, 0.116), (0.22, 0.119)]
    assert "overfitting" in _chance_run(rising, val_size=1000)
    # the same numbers on an unknown validation size (100 assumed, a margin of 0.09): within noise, silent
    assert "overfitting" not in _chance_run(rising)
    # a slow starter: two epochs at chance, then validation follows training: silent
    slow = [(0.15, 0.10), (0.2, 0.11), (0.45, 0.40), (0.6, 0.58), (0.7, 0.68)]
    assert "overfitting" not in _chance_run(slow, val_size=1000)
    with pytest.raises(InputError, match="val_size"):
        _chance_run([(0.5, 0.5)], val_size=0)


def _sparse_run(zero_grad: bool) -> set[str]:
    """Adam on a fixed batch; the budget samples step 0 only (a loaded machine), then an epoch end asks for one."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    mon = tdx.Monitor(net, opt)
    mon._schedule.due = lambda k: k == 0
    x, y = torch.randn(32, 8), torch.randint(0, 4, (32,))
    for i in range(14):
        if zero_grad:
            opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        mon.step(loss)
        if i == 11:
            mon.epoch_end(train_loss=float(loss))
    mon.close()
    return {f.code for f in mon.findings}


def test_the_epoch_end_sample_checks_that_gradients_reset():
    # the only sample after step 0 is the one an epoch end asks for: it carries the kept-gradient check
    assert "missing_zero_grad" in _sparse_run(zero_grad=False)
    assert "missing_zero_grad" not in _sparse_run(zero_grad=True)


def test_a_bias_that_batchnorm_cancels_is_not_no_update():
    # the bias of a layer right before BatchNorm gets only round-off as gradient, and an SGD step on it rounds
    # to nothing: that is the architecture, not a frozen parameter
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    mon = _fit(model, opt, steps=40)
    assert "no_update" not in {f.code for f in mon.findings}


def test_weights_stepped_below_float_resolution_are_not_no_update():
    # lr 1e-9: every step rounds to nothing in float32, but the optimizer holds and steps the parameters; the
    # learning rate is the fault, not the wiring (a parameter the optimizer does not hold still is, above)
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=1e-9)
    mon = _fit(model, opt, steps=30)
    assert "no_update" not in {f.code for f in mon.findings}
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0 moves nothing by construction
    mon = _fit(model, opt, steps=30)
    assert "no_update" in {f.code for f in mon.findings}


class _StackedLSTM(nn.Module):
    """Two stacked LSTM layers with the module's own dropout between them (no nn.Dropout anywhere)."""

    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.rnn = nn.LSTM(16, 32, num_layers=2, dropout=dropout, batch_first=True)
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        return self.head(self.rnn(x.unsqueeze(1))[0][:, -1])


@pytest.mark.parametrize("dropout", [0.3, 0.0])
def test_eval_mode_left_on_is_found_through_a_recurrent_layer_own_dropout(dropout):
    torch.manual_seed(0)
    model = _StackedLSTM(dropout)
    model.eval()  # left on after a validation pass: the LSTM's inter-layer dropout is off while it trains
    mon = _fit(model, torch.optim.Adam(model.parameters(), lr=1e-3), steps=60, every=1)
    codes = {f.code for f in mon.findings}
    if dropout:
        assert "eval_mode" in codes
    else:  # nothing in the model depends on the mode: the indicator is off, and says so
        assert "eval_mode" not in codes
        assert next(s for s in mon.status() if s.name == "eval_mode").level == "off"


@pytest.mark.parametrize(
    ("val", "fires"),
    [
        # a character model: from ln(65) = 4.2 to a best of 2.91, then 0.14 nats (11% of what it learned) back
        ([3.0, 2.906, 2.93, 3.044, 3.046, 3.054], True),
        # the same curve, back by 0.05 nats only (4% of the progress): noise, not over-training
        ([3.0, 2.906, 2.93, 2.95, 2.955, 2.958], False),
    ],
)
def test_a_token_model_validation_rise_is_judged_against_the_progress_made(val, fires):
    model = _mlp()
    mon = tdx.Monitor(model, torch.optim.SGD(model.parameters(), lr=0.1))
    for e, v in enumerate(val):
        for _ in range(20):
            mon.step(4.2 if e == 0 else 3.0 - 0.1 * e)
        mon.epoch_end(train_loss=3.0 - 0.1 * e, val_loss=v)
    mon.close()
    assert ("overfitting" in {f.code for f in mon.findings}) is fires


def test_a_blow_up_in_the_last_epoch_is_divergence_even_without_a_sample_in_it():
    model = _mlp()
    mon = tdx.Monitor(model, torch.optim.SGD(model.parameters(), lr=0.1), budget=1e-9)
    for level in [2.3, 1.0, 50.0]:  # learns, then the loss leaves for 20x its start
        for _ in range(30):
            mon.step(level)
        mon.epoch_end(train_loss=level)
    mon.close()
    assert "divergence" in {f.code for f in mon.findings}
    assert mon.diagnosis[0].primary.code == "divergence"
