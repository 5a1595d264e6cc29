"""Held-out realistic cases: models and optimizers that no rule was looked at on, run once after the rules
were fixed, to see whether the realistic suite's figures carry over (``faults.py --realistic --suite heldout``).

Families (plain PyTorch loops, ``tdx.Monitor(model, opt)`` at defaults):

- ``dws_cnn``: a MobileNet-style CNN (depthwise-separable convolutions, BatchNorm, ReLU6) on 2,000
  Fashion-MNIST images, SGD with Nesterov momentum 0.9 at lr 0.05 under a OneCycle schedule, batch 64,
  5 epochs;
- ``tfm_char``: a causal ``nn.TransformerEncoder`` (pre-LayerNorm, GELU, 2 layers, d 64) on tiny shakespeare
  characters, NAdam at lr 2e-3, batch 16 x 32, 6 epochs of 30 steps;
- ``resmlp_1d``: a residual MLP (LayerNorm, GELU, 3 blocks of width 128) on MNIST-1D (standardized), RAdam at
  lr 2e-3, batch 64, 8 epochs.

Faults as in the realistic suite; the default optimizer replaces Adam where the fault names it
(``lr_x100`` scales the family's own optimizer), and missing ``zero_grad()`` runs with the family's own
optimizer.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from zoo import char_batch, char_data

import traindx as tdx
from traindx.experiments.datasets import load

UNSTABLE = {"missing_zero_grad", "exploding_gradients", "divergence", "lr_too_high", "nan_inf", "loss_spike"}
ALL = ("dws_cnn", "tfm_char", "resmlp_1d")
FAULTS: dict[str, tuple[set[str], set[str], tuple[str, ...]]] = {
    "no_zero_grad": (UNSTABLE, {"missing_zero_grad"}, ALL),
    "lr_x100": (
        UNSTABLE | {"oscillation", "dead_relu"},
        {"lr_too_high", "divergence", "nan_inf", "exploding_gradients"},
        ALL,
    ),
    "lr_div_1000": ({"lr_too_low", "plateau", "underfitting"}, {"lr_too_low"}, ALL),
    "unnormalized_input": (
        {"input_scale", "saturation", "dead_relu", "exploding_gradients"},
        {"input_scale"},
        ("dws_cnn", "resmlp_1d"),
    ),
    "stale_optimizer": ({"no_update"}, {"no_update"}, ALL),
    "random_labels": (
        {"plateau", "underfitting", "overfitting"},
        {"plateau", "underfitting", "overfitting"},
        ("dws_cnn", "resmlp_1d"),
    ),
    "softmax_before_ce": ({"softmax_before_loss"}, {"softmax_before_loss"}, ALL),
    "eval_mode_left_on": ({"eval_mode"}, {"eval_mode"}, ("dws_cnn", "tfm_char")),
}
FAMILIES = ALL


def cases(seeds: int) -> list[tuple[str, str, int]]:
    out = [(fam, "healthy", s) for s in range(seeds) for fam in FAMILIES]
    out += [(fam, fault, s) for s in range(seeds) for fault, (_, _, fams) in FAULTS.items() for fam in fams]
    return out


def _dws(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False),
        nn.BatchNorm2d(c_in),
        nn.ReLU6(),
        nn.Conv2d(c_in, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU6(),
    )


class DwsCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        self.body = nn.Sequential(_dws(16, 32, 2), _dws(32, 64, 2), _dws(64, 64, 1))
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.body(self.stem(x)).mean(dim=(2, 3)))


class TfmChar(nn.Module):
    def __init__(self, vocab: int, seq: int = 32, d: int = 64) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(seq, d)
        layer = nn.TransformerEncoderLayer(
            d, 4, 4 * d, dropout=0.1, activation="gelu", batch_first=True, norm_first=True
        )
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.norm, self.head = nn.LayerNorm(d), nn.Linear(d, vocab)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(seq), persistent=False)

    def forward(self, x):
        h = self.tok(x) + self.pos(torch.arange(x.shape[1]))
        return self.head(self.norm(self.enc(h, mask=self.mask[: x.shape[1], : x.shape[1]], is_causal=True)))


class ResMLP(nn.Module):
    def __init__(self, d_in: int, width: int = 128, blocks: int = 3, n_out: int = 10) -> None:
        super().__init__()
        self.inp = nn.Linear(d_in, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.GELU(), nn.Linear(width, width))
            for _ in range(blocks)
        )
        self.head = nn.Linear(width, n_out)

    def forward(self, x):
        h = self.inp(x.flatten(1))
        for b in self.blocks:
            h = h + b(h)
        return self.head(h)


def _image_data(name: str, seed: int, fault: str, scale: float):
    ds = load(name)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(ds.x_train), min(2000, len(ds.x_train)), replace=False)
    vidx = rng.choice(len(ds.x_test), min(1000, len(ds.x_test)), replace=False)
    x, y = torch.from_numpy(ds.x_train[idx]).float(), torch.from_numpy(ds.y_train[idx]).long()
    xv, yv = torch.from_numpy(ds.x_test[vidx]).float(), torch.from_numpy(ds.y_test[vidx]).long()
    if name == "mnist1d":  # its loader's [0, 1] copy is centred the way its authors train
        mean, std = x.mean(0, keepdim=True), x.std(0, keepdim=True) + 1e-6
        x, xv = (x - mean) / std, (xv - mean) / std
    if fault == "random_labels":
        y = y[torch.randperm(len(y))]
    if fault == "unnormalized_input":
        x, xv = x * scale, xv * scale
    return x, y, xv, yv


def run_case(family: str, fault: str, seed: int) -> dict:
    import faults_realistic as fr

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    if family == "tfm_char":
        text, vocab = char_data()
        split = int(0.9 * len(text))
        model: nn.Module = TfmChar(vocab)
        val = char_batch(text[split:], 64, 32, torch.Generator().manual_seed(1000 + seed))
        epochs, per_epoch = 6, 30

        def batches(_e):
            return [char_batch(text[:split], 16, 32, g) for _ in range(per_epoch)]

    else:
        if family == "dws_cnn":
            x, y, xv, yv = _image_data("fashion_mnist", seed, fault, 255.0)
            model, epochs = DwsCNN(), 5
        else:
            # raw MNIST-1D-like scale: the series before standardization spread over ~100 units
            x, y, xv, yv = _image_data("mnist1d", seed, fault, 100.0)
            model, epochs = ResMLP(x[0].numel()), 8
        val = (xv, yv)

        def batches(_e):
            perm = torch.randperm(len(x), generator=g)
            return [(x[perm[i : i + 64]], y[perm[i : i + 64]]) for i in range(0, len(x), 64)]

    params = list(model.parameters())
    scale = {"lr_x100": 100.0, "lr_div_1000": 1e-3}.get(fault, 1.0)
    if family == "dws_cnn":
        opt = torch.optim.SGD(params, lr=0.05 * scale, momentum=0.9, nesterov=True)
        steps = epochs * math.ceil(len(x) / 64)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05 * scale, total_steps=steps)
    elif family == "tfm_char":
        opt, sched = torch.optim.NAdam(params, lr=2e-3 * scale), None
    else:
        opt, sched = torch.optim.RAdam(params, lr=2e-3 * scale), None
    if fault == "stale_optimizer":  # the head replaced after the optimizer was built
        model.head = nn.Linear(model.head.in_features, model.head.out_features)

    def forward(xb):
        out = model(xb)
        return F.softmax(out, dim=-1) if fault == "softmax_before_ce" else out

    def loss_of(out, yb):
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), yb.reshape(-1))

    mon = tdx.Monitor(model, opt)
    for e in range(epochs):
        model.train(fault != "eval_mode_left_on" or e == 0)
        tot, n, correct, seen = 0.0, 0, 0, 0
        for xb, yb in batches(e):
            if fault != "no_zero_grad":
                opt.zero_grad()
            out = forward(xb)
            loss = loss_of(out, yb)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            mon.step(loss)
            tot, n = tot + float(loss.detach()), n + 1
            correct, seen = correct + int((out.argmax(-1) == yb).sum()), seen + yb.numel()
        model.eval()
        with torch.no_grad():
            vo = forward(val[0])
            mon.epoch_end(
                train_loss=tot / max(n, 1),
                val_loss=float(loss_of(vo, val[1])),
                train_acc=correct / max(seen, 1),
                val_acc=float((vo.argmax(-1) == val[1]).float().mean()),
            )
    mon.close()
    return fr.summarize_monitor(mon, family, fault, seed, FAULTS)
