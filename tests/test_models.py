"""Base models: every model builds for image, small-image and 1-D inputs, and trains."""

from __future__ import annotations

import pytest
import torch

from traindx.errors import InputError
from traindx.experiments.models import MODELS, build_model, count_params


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (1, 40)])
def test_forward_shapes(model, shape):
    net = build_model(model, shape, 10)
    assert net(torch.zeros(3, *shape)).shape == (3, 10)


def test_sizes_ordered_and_configurable():
    shape = (1, 28, 28)
    assert count_params(build_model("logreg", shape, 10)) == 28 * 28 * 10 + 10
    assert count_params(build_model("mlp_small", shape, 10)) < count_params(
        build_model("mlp_large", shape, 10)
    )
    assert count_params(build_model("cnn_small", shape, 10)) < count_params(
        build_model("cnn_large", shape, 10)
    )
    wide = build_model("mlp_small", shape, 10, width=100, depth=3, activation="tanh")
    assert sum(isinstance(m, torch.nn.Tanh) for m in wide) == 3
    assert count_params(wide) == 784 * 100 + 100 + 2 * (100 * 100 + 100) + 100 * 10 + 10


def test_bad_arguments():
    with pytest.raises(InputError, match="unknown model"):
        build_model("resnet", (1, 28, 28), 10)
    with pytest.raises(InputError, match="activation"):
        build_model("mlp_small", (1, 28, 28), 10, activation="swishy")
    with pytest.raises(InputError, match="width"):
        build_model("mlp_small", (1, 28, 28), 10, width=0)


def test_cnn_learns_a_tiny_task():
    torch.manual_seed(0)
    x = torch.rand(64, 1, 8, 8)
    y = (x[:, 0, :4].mean((1, 2)) > x[:, 0, 4:].mean((1, 2))).long()
    net = build_model("cnn_small", (1, 8, 8), 2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(net(x), y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
