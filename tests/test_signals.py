"""Signals on synthetic tensors with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from traindx.signals import activations, gradients, weights
from traindx.signals import loss as lsig


def test_fan_in_reads_the_input_axis():
    assert weights.fan_in(nn.Linear(784, 10).weight.shape) == 784  # stored (out, in)
    assert weights.fan_in(nn.Conv2d(3, 16, 5).weight.shape) == 75
    with pytest.raises(ValueError):
        weights.fan_in((5,))


@pytest.mark.parametrize("layer", [nn.Linear(784, 128), nn.Linear(64, 512), nn.Conv2d(16, 32, 3)])
def test_fresh_default_init_scores_healthy(layer):
    torch.manual_seed(0)
    scale = weights.init_scale(layer.weight)
    assert scale == pytest.approx(1 / math.sqrt(3), rel=0.1)  # PyTorch default kaiming_uniform(a=sqrt(5))
    assert weights.INIT_LOW <= scale <= weights.INIT_HIGH


def test_he_and_huge_init_scales():
    torch.manual_seed(0)
    he = nn.init.kaiming_normal_(torch.empty(256, 400))
    assert weights.init_scale(he) == pytest.approx(math.sqrt(2), rel=0.05)
    huge = nn.init.normal_(torch.empty(128, 784), std=1.0)
    assert weights.init_scale(huge) > weights.INIT_HIGH


def test_update_ratio_known_value():
    before = [torch.full((10,), 2.0)]
    after = [torch.full((10,), 2.02)]
    assert weights.update_ratios(before, after)[0].item() == pytest.approx(0.01, rel=1e-4)
    assert weights.update_ratios([], []) == []


def test_dead_fraction_per_unit_over_batch_and_space():
    x = torch.zeros(8, 4, 3, 3)
    x[0, 1, 2, 2] = 1.0  # one activation keeps channel 1 alive
    assert activations.dead_fraction(x).item() == pytest.approx(0.75)
    assert activations.dead_fraction(torch.relu(torch.randn(64, 100))).item() == 0.0


def test_saturation_fractions():
    t = torch.tensor([0.995, -0.999, 0.5, 0.0])
    assert activations.saturated_fraction(t, "tanh").item() == pytest.approx(0.5)
    s = torch.tensor([0.001, 0.5, 0.999, 0.6])
    assert activations.saturated_fraction(s, "sigmoid").item() == pytest.approx(0.5)
    with pytest.raises(ValueError):
        activations.saturated_fraction(t, "relu")


def test_input_rms():
    assert activations.input_rms(torch.full((4, 4), 3.0)).item() == pytest.approx(3.0)


def test_gradient_norms_and_vanishing_ratio():
    assert gradients.global_norm([torch.tensor([3.0]), torch.tensor([4.0])]).item() == pytest.approx(5.0)
    assert [n.item() for n in gradients.layer_norms([torch.ones(4)])] == [2.0]
    assert gradients.rms(2.0, 4) == 1.0
    assert gradients.vanishing_ratio([1e-6, 1e-2]) == pytest.approx(1e-4)
    assert math.isnan(gradients.vanishing_ratio([1.0]))
    assert gradients.growth(40.0, 2.0) == 20.0


def test_gsnr_is_per_parameter_over_samples():
    rng = np.random.default_rng(0)
    signal = rng.normal(1.0, 0.1, size=(500, 1))  # strong signal
    noise = rng.normal(0.0, 1.0, size=(500, 1))  # pure noise
    g = gradients.gsnr(np.hstack([signal, noise]))
    assert g[0] > 50 and g[1] < 0.05
    with pytest.raises(ValueError):
        gradients.gsnr(np.ones((1, 3)))
    assert gradients.mean_abs_over_std(torch.tensor([1.0, -1.0, 1.0, -1.0])) == pytest.approx(
        math.sqrt(3) / 2
    )


def test_loss_signals():
    assert lsig.nonfinite([1.0, float("inf")]) and not lsig.nonfinite([1.0, 2.0])
    assert lsig.baseline([2.3, 2.2, 9.0]) == 2.3
    assert lsig.progress([2.0, 2.0], [0.5]) == pytest.approx(0.75)
    assert lsig.is_spike(10.0, 0.3, 2.3) and not lsig.is_spike(0.5, 0.1, 2.3)
    assert lsig.plateau([2.0] * 40, 10) == 0.0
    assert lsig.plateau(list(np.linspace(2, 1, 40)), 10) > 0.1
    changes, swing = lsig.oscillation([1.0] * 5 + [2.0] * 5 + [1.0] * 5 + [2.0] * 5 + [1.0] * 5, 5)
    assert changes == 1.0 and swing == pytest.approx(1 / 1.4)
    assert lsig.acc_gap(1.0, 0.7) == pytest.approx(0.3)
    assert lsig.val_rise([0.5, 0.4, 0.5]) == pytest.approx(0.25)
    assert math.isnan(lsig.val_rise([0.5]))
