"""A second held-out realistic set: models, optimizers and schedules that none of the other suites has, written
before the rule changes of its round and measured once before and once after them
(``faults.py --realistic --suite heldout2``). A generality check, never a tuning set.

Families (plain PyTorch loops, ``tdx.Monitor(model, opt)`` at defaults):

- ``vit_patch``: a ViT-style patch transformer (7x7 patches, a class token, 2 pre-LN encoder layers of width
  48, dropout 0.1) on 2,000 Fashion-MNIST images, AdamW at lr 1e-3 (weight decay 0.05) with one epoch of
  linear warmup then cosine decay, label smoothing 0.1, batch 64, 5 epochs;
- ``conv_gru``: a Conv1d + BatchNorm front end feeding a GRU, classifying MNIST-1D series (standardized),
  SGD with momentum 0.9 at lr 0.1 under StepLR (x0.3 every 3 epochs), batch 64, 8 epochs (the first
  version, unstrided at lr 0.05, left the healthy run at chance: a broken case, not a finding).

Faults as in the held-out suite: ``lr_x100`` / ``lr_div_1000`` scale the family's own optimizer and schedule,
missing ``zero_grad()`` runs with the family's own optimizer.
"""

from __future__ import annotations

import math

import torch
from faults_heldout import FAULTS as _HELDOUT_FAULTS
from faults_heldout import _image_data
from torch import nn
from torch.nn import functional as F

import traindx as tdx

ALL = ("vit_patch", "conv_gru")
FAULTS = {name: (expected, primary, ALL) for name, (expected, primary, _) in _HELDOUT_FAULTS.items()}
FAMILIES = ALL


def cases(seeds: int) -> list[tuple[str, str, int]]:
    out = [(fam, "healthy", s) for s in range(seeds) for fam in FAMILIES]
    out += [(fam, fault, s) for s in range(seeds) for fault, (_, _, fams) in FAULTS.items() for fam in fams]
    return out


class PatchViT(nn.Module):
    def __init__(self, side: int = 28, patch: int = 7, d: int = 48, n_out: int = 10) -> None:
        super().__init__()
        self.patch, n = patch, (side // patch) ** 2
        self.embed = nn.Linear(patch * patch, d)
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.randn(1, n + 1, d) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d, 4, 2 * d, dropout=0.1, activation="gelu", batch_first=True, norm_first=True
        )
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.norm, self.head = nn.LayerNorm(d), nn.Linear(d, n_out)

    def forward(self, x):
        p = self.patch
        x = x.reshape(x.shape[0], 1, 28, 28).unfold(2, p, p).unfold(3, p, p).reshape(x.shape[0], -1, p * p)
        h = torch.cat([self.cls.expand(x.shape[0], -1, -1), self.embed(x)], dim=1) + self.pos
        return self.head(self.norm(self.enc(h))[:, 0])


class ConvGRU(nn.Module):
    def __init__(self, hidden: int = 64, n_out: int = 10) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv1d(1, 32, 5, stride=2, padding=2), nn.BatchNorm1d(32), nn.ReLU())
        self.gru = nn.GRU(32, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_out)

    def forward(self, x):
        h = self.conv(x.reshape(x.shape[0], 1, -1)).transpose(1, 2)
        _, last = self.gru(h)
        return self.head(last[-1])


def run_case(family: str, fault: str, seed: int) -> dict:
    import faults_realistic as fr

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    if family == "vit_patch":
        x, y, xv, yv = _image_data("fashion_mnist", seed, fault, 255.0)
        model: nn.Module = PatchViT()
        epochs, smoothing = 5, 0.1
    else:
        x, y, xv, yv = _image_data("mnist1d", seed, fault, 100.0)
        model, epochs, smoothing = ConvGRU(), 8, 0.0
    per_epoch = math.ceil(len(x) / 64)

    def batches():
        perm = torch.randperm(len(x), generator=g)
        return [(x[perm[i : i + 64]], y[perm[i : i + 64]]) for i in range(0, len(x), 64)]

    params = list(model.parameters())
    scale = {"lr_x100": 100.0, "lr_div_1000": 1e-3}.get(fault, 1.0)
    if family == "vit_patch":
        opt = torch.optim.AdamW(params, lr=1e-3 * scale, weight_decay=0.05)
        total = epochs * per_epoch

        def warmup_cosine(step: int) -> float:
            if step < per_epoch:
                return (step + 1) / per_epoch
            return 0.5 * (1 + math.cos(math.pi * (step - per_epoch) / (total - per_epoch)))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine)
        step_per_batch = True
    else:
        opt = torch.optim.SGD(params, lr=0.1 * scale, momentum=0.9)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.3)
        step_per_batch = False
    if fault == "stale_optimizer":  # the head replaced after the optimizer was built
        model.head = nn.Linear(model.head.in_features, model.head.out_features)

    def forward(xb):
        out = model(xb)
        return F.softmax(out, dim=-1) if fault == "softmax_before_ce" else out

    mon = tdx.Monitor(model, opt)
    for e in range(epochs):
        model.train(fault != "eval_mode_left_on" or e == 0)
        tot, n, correct, seen = 0.0, 0, 0, 0
        for xb, yb in batches():
            if fault != "no_zero_grad":
                opt.zero_grad()
            out = forward(xb)
            loss = F.cross_entropy(out, yb, label_smoothing=smoothing)
            loss.backward()
            opt.step()
            if step_per_batch:
                sched.step()
            mon.step(loss)
            tot, n = tot + float(loss.detach()), n + 1
            correct, seen = correct + int((out.argmax(-1) == yb).sum()), seen + yb.numel()
        if not step_per_batch:
            sched.step()
        model.eval()
        with torch.no_grad():
            vo = forward(xv)
            mon.epoch_end(
                train_loss=tot / max(n, 1),
                val_loss=float(F.cross_entropy(vo, yv, label_smoothing=smoothing)),
                train_acc=correct / max(seen, 1),
                val_acc=float((vo.argmax(-1) == yv).float().mean()),
            )
    mon.close()
    return fr.summarize_monitor(mon, family, fault, seed, FAULTS)
