"""Models: every family builds for every input its modality has (contract test over the registry), and the
options (dropout, norm, capacity) change the network as documented."""

from __future__ import annotations

import pytest
import torch

from traindx.errors import InputError
from traindx.experiments.models import MODELS, build_model, count_params, resolve_arch
from traindx.experiments.vocabulary import MODELS_BY_MODALITY, TOKEN_MODELS

_SHAPES = {
    "tabular": [(7,)],
    "image": [(1, 28, 28), (1, 8, 8), (3, 32, 32)],
    "text": [(12,)],
    "timeseries": [(1, 40), (3, 25)],
}
_CASES = [(m, mod, s) for mod, models in MODELS_BY_MODALITY.items() for m in models for s in _SHAPES[mod]]


def test_every_family_suits_some_modality():
    assert {m for m, _, _ in _CASES} == set(MODELS)


@pytest.mark.parametrize(("model", "modality", "shape"), _CASES)
def test_forward_shapes(model, modality, shape):
    vocab = 50 if modality == "text" else 0
    net = build_model(model, shape, 10, vocab_size=vocab, dropout=0.1)
    x = torch.randint(0, vocab, (3, *shape)) if vocab else torch.zeros(3, *shape)
    net.eval()
    assert net(x).shape == (3, 10)


def test_norm_dropout_capacity():
    plain = build_model("mlp", (5,), 2)
    normed = build_model("mlp", (5,), 2, norm="layer", dropout=0.5)
    assert sum(isinstance(m, torch.nn.LayerNorm) for m in normed) == 2
    assert sum(isinstance(m, torch.nn.Dropout) for m in normed) == 2
    assert count_params(normed) > count_params(plain)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in build_model("cnn", (1, 8, 8), 3, norm="batch"))
    widths = [resolve_arch("cnn", capacity=c)[0] for c in ("tiny", "small", "medium", "large")]
    assert widths == sorted(widths) and len(set(widths)) == 4
    with pytest.raises(InputError, match="capacity"):
        resolve_arch("cnn", capacity="huge")
    with pytest.raises(InputError, match="token ids"):
        build_model("embbag", (12,), 2)
    with pytest.raises(InputError, match="float inputs"):
        build_model("mlp", (12,), 2, vocab_size=40)
    assert set(TOKEN_MODELS) <= set(MODELS)


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
        build_model("transformer", (1, 28, 28), 10)
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
