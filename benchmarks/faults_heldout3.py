"""A third held-out realistic set: models, optimizers and schedules that none of the other suites has, written
before the rule changes of its round and measured once before and once after them
(``faults.py --realistic --suite heldout3``). A generality check, never a tuning set.

Families (plain PyTorch loops, ``tdx.Monitor(model, opt)`` at defaults):

- ``lenet_cifar``: a LeNet-5-style CNN without any normalization layer (two 5x5 convolutions with ReLU and
  max pooling, a 120-84-10 head with dropout 0.3) on 3,000 CIFAR-10 images, SGD with momentum 0.9 at lr 0.02
  (weight decay 5e-4), one epoch of linear warm-up from a tenth of the rate, then cosine annealing with warm
  restarts every two epochs (SGDR), batch 64, 6 epochs;
- ``bilstm_vowels``: a 2-layer bidirectional LSTM (hidden 64, dropout 0.3 between layers, mean over time) on
  the UEA JapaneseVowels speaker task (12 cepstrum channels, 9 classes, 270 training series), Adamax at its
  paper rate 2e-3 under ReduceLROnPlateau on the validation loss (x0.5 after 2 epochs without gain), batch 16,
  20 epochs;
- ``silu_tab``: a 3-layer SiLU MLP (width 256, dropout 0.1) on the PMLB ``satimage`` table (36 Landsat pixel
  values, 6 soil classes; 4,000 rows to train, standardized on them), AdamW at lr 3e-3 (weight decay 1e-2)
  under a three-phase cosine OneCycle schedule, batch 128, 8 epochs.

Faults as in the held-out suite: ``lr_x100`` / ``lr_div_1000`` scale the family's own optimizer and schedule,
missing ``zero_grad()`` runs with the family's own optimizer. ``unnormalized_input`` is the images times 255
for the CNN and the table's raw pixel values (no standardization) for the MLP; the UEA series have no raw
scale of their own to forget. ``eval_mode_left_on`` leaves every family's dropout off after the first epoch.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from faults_heldout import FAULTS as _HELDOUT_FAULTS
from torch import nn
from torch.nn import functional as F

import traindx as tdx

ALL = ("lenet_cifar", "bilstm_vowels", "silu_tab")
_ONLY = {"unnormalized_input": ("lenet_cifar", "silu_tab")}
FAULTS = {
    name: (expected, primary, _ONLY.get(name, ALL))
    for name, (expected, primary, _) in _HELDOUT_FAULTS.items()
}
FAMILIES = ALL


def cases(seeds: int) -> list[tuple[str, str, int]]:
    out = [(fam, "healthy", s) for s in range(seeds) for fam in FAMILIES]
    out += [(fam, fault, s) for s in range(seeds) for fault, (_, _, fams) in FAULTS.items() for fam in fams]
    return out


class LeNet(nn.Module):
    def __init__(self, n_out: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2)
        )
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 5 * 5, 120),
            nn.ReLU(),
            nn.Dropout(0.3),
            nn.Linear(120, 84),
            nn.ReLU(),
        )
        self.head = nn.Linear(84, n_out)

    def forward(self, x):
        return self.head(self.fc(self.features(x)))


class BiLSTM(nn.Module):
    def __init__(self, channels: int, n_out: int, hidden: int = 64) -> None:
        super().__init__()
        self.lstm = nn.LSTM(channels, hidden, num_layers=2, dropout=0.3, bidirectional=True, batch_first=True)
        self.head = nn.Linear(2 * hidden, n_out)

    def forward(self, x):
        h, _ = self.lstm(x.transpose(1, 2))  # (n, channels, time) -> (n, time, 2 * hidden)
        return self.head(h.mean(dim=1))


class SiLUMLP(nn.Module):
    def __init__(self, d_in: int, n_out: int, width: int = 256) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(3):
            layers += [nn.Linear(d_in if i == 0 else width, width), nn.SiLU(), nn.Dropout(0.1)]
        self.body, self.head = nn.Sequential(*layers), nn.Linear(width, n_out)

    def forward(self, x):
        return self.head(self.body(x))


def _subset(x: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator):
    idx = rng.choice(len(x), min(n, len(x)), replace=False)
    return torch.from_numpy(np.ascontiguousarray(x[idx])).float(), torch.from_numpy(y[idx]).long()


def _data(family: str, seed: int, fault: str):
    rng = np.random.default_rng(seed)
    if family == "lenet_cifar":
        t = tdx.tasks.load("cifar10")
        (x, y), (xv, yv) = _subset(t.x_train, t.y_train, 3000, rng), _subset(t.x_test, t.y_test, 1000, rng)
        if fault == "unnormalized_input":
            x, xv = x * 255.0, xv * 255.0
        else:  # per-channel standardization with the training subset's statistics, as torchvision recipes do
            mean, std = x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True)
            x, xv = (x - mean) / std, (xv - mean) / std
    elif family == "bilstm_vowels":
        t = tdx.tasks.load("JapaneseVowels")  # standardized per channel by its loader
        (x, y), (xv, yv) = _subset(t.x_train, t.y_train, 270, rng), _subset(t.x_test, t.y_test, 370, rng)
    else:
        from traindx.experiments.tasks.table import read_table

        df = read_table(tdx.tasks.data_dir() / "pmlb" / "satimage.tsv.gz")
        feats = df.drop(columns="target").to_numpy(np.float32)
        labels = np.unique(df["target"].to_numpy(), return_inverse=True)[1]
        tr, va = np.split(rng.permutation(len(df))[:5000], [4000])
        (x, y), (xv, yv) = (
            _subset(feats[tr], labels[tr], 4000, rng),
            _subset(feats[va], labels[va], 1000, rng),
        )
        if fault != "unnormalized_input":
            mean, std = x.mean(dim=0, keepdim=True), x.std(dim=0, keepdim=True) + 1e-6
            x, xv = (x - mean) / std, (xv - mean) / std
    if fault == "random_labels":
        y = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))]
    return x, y, xv, yv


#: per family: batch size, epochs, base learning rate
SETUP = {"lenet_cifar": (64, 6, 0.02), "bilstm_vowels": (16, 20, 2e-3), "silu_tab": (128, 8, 3e-3)}


def run_case(family: str, fault: str, seed: int) -> dict:
    import faults_realistic as fr

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    x, y, xv, yv = _data(family, seed, fault)
    batch, epochs, base_lr = SETUP[family]
    per_epoch = math.ceil(len(x) / batch)
    n_classes = int(max(y.max(), yv.max())) + 1
    if family == "lenet_cifar":
        model: nn.Module = LeNet(n_classes)
    elif family == "bilstm_vowels":
        model = BiLSTM(x.shape[1], n_classes)
    else:
        model = SiLUMLP(x.shape[1], n_classes)

    params = list(model.parameters())
    lr = base_lr * {"lr_x100": 100.0, "lr_div_1000": 1e-3}.get(fault, 1.0)
    plateau = None
    if family == "lenet_cifar":
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4)
        warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=per_epoch)
        sgdr = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2 * per_epoch)
        sched = torch.optim.lr_scheduler.SequentialLR(opt, [warm, sgdr], milestones=[per_epoch])
    elif family == "bilstm_vowels":
        opt = torch.optim.Adamax(params, lr=lr)
        sched, plateau = None, torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2)
    else:
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-2)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=lr, total_steps=epochs * per_epoch, three_phase=True, anneal_strategy="cos"
        )
    if fault == "stale_optimizer":  # the head replaced after the optimizer was built
        model.head = nn.Linear(model.head.in_features, model.head.out_features)

    def forward(xb):
        out = model(xb)
        return F.softmax(out, dim=-1) if fault == "softmax_before_ce" else out

    mon = tdx.Monitor(model, opt)
    for e in range(epochs):
        model.train(fault != "eval_mode_left_on" or e == 0)
        tot, n, correct, seen = 0.0, 0, 0, 0
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch):
            xb, yb = x[perm[i : i + batch]], y[perm[i : i + batch]]
            if fault != "no_zero_grad":
                opt.zero_grad()
            out = forward(xb)
            loss = F.cross_entropy(out, yb)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            mon.step(loss)
            tot, n = tot + float(loss.detach()), n + 1
            correct, seen = correct + int((out.argmax(-1) == yb).sum()), seen + yb.numel()
        model.eval()
        with torch.no_grad():
            vo = forward(xv)
            val_loss = float(F.cross_entropy(vo, yv))
            mon.epoch_end(
                train_loss=tot / max(n, 1),
                val_loss=val_loss,
                train_acc=correct / max(seen, 1),
                val_acc=float((vo.argmax(-1) == yv).float().mean()),
            )
        if plateau is not None:
            plateau.step(val_loss)
    mon.close()
    return fr.summarize_monitor(mon, family, fault, seed, FAULTS)
