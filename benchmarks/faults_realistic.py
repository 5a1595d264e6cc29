"""Realistic cases for the fault benchmark: language models, attention, BatchNorm residual nets, recurrent
nets, a generative loss and a closure optimizer, each healthy and with injected faults.

Imported by ``benchmarks/faults.py --realistic``. Families (models in benchmarks/zoo.py):

- ``char_lstm`` / ``char_gru``: char-rnn on tiny shakespeare, Adam 3e-3, batch 16 x 32 characters, 6 epochs of 30 steps;
- ``tiny_gpt``: a 2-layer GPT (GPT-2's scaled residual init, dropout 0.1) on tiny shakespeare, AdamW 1e-3;
- ``resnet_bn``: a BatchNorm residual CNN (8 channels) on 2,000 MNIST images, SGD 0.05 + momentum 0.9;
- ``vae``: an MLP VAE on 2,000 MNIST images, Adam 1e-3, loss = negative ELBO;
- ``lbfgs_mlp``: an MLP on scikit-learn digits trained by L-BFGS (strong-Wolfe line search) with a closure.

Faults: missing ``zero_grad()`` under SGD, Adam and Adadelta; Adam at 100x the family's learning rate; the
learning rate / 1000; inputs left unnormalized (x255 for MNIST, digits' raw 0-16); a stale optimizer (the head
replaced after the optimizer was built, so it trains with its new head frozen); random labels; a tiny train
set; a softmax before ``CrossEntropyLoss`` (in the training loop, ``softmax_before_ce``, which the monitor
cannot see, or as the model's last layer, ``softmax_layer_before_ce``); eval mode left on after validation. Each fault lists the codes
that count as caught and the codes that are the right primary finding (``mon.diagnosis[0].primary``).
No threshold was chosen on these runs: they were written after the rules and run as they came out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from zoo import VAE, CharRNN, TinyGPT, char_batch, char_data, resnet_bn

import traindx as tdx
from traindx.experiments.datasets import load

UNSTABLE = {"missing_zero_grad", "exploding_gradients", "divergence", "lr_too_high", "nan_inf", "loss_spike"}

#: fault -> (codes that count as caught, codes that are the right primary finding, families)
FAULTS: dict[str, tuple[set[str], set[str], tuple[str, ...]]] = {
    "no_zero_grad_sgd": (
        UNSTABLE,
        {"missing_zero_grad"},
        ("char_lstm", "char_gru", "tiny_gpt", "resnet_bn", "vae"),
    ),
    "no_zero_grad_adam": (
        UNSTABLE,
        {"missing_zero_grad"},
        ("char_lstm", "char_gru", "tiny_gpt", "resnet_bn", "vae"),
    ),
    "no_zero_grad_adadelta": (
        UNSTABLE,
        {"missing_zero_grad"},
        ("char_lstm", "char_gru", "tiny_gpt", "resnet_bn", "vae"),
    ),
    "lr_x100_adam": (
        UNSTABLE | {"oscillation", "dead_relu"},
        {"lr_too_high", "divergence", "nan_inf", "exploding_gradients"},
        ("char_lstm", "char_gru", "tiny_gpt", "resnet_bn", "vae"),
    ),
    "lr_div_1000": (
        {"lr_too_low", "plateau", "underfitting"},
        {"lr_too_low"},
        ("char_lstm", "char_gru", "tiny_gpt", "resnet_bn", "vae", "lbfgs_mlp"),
    ),
    "unnormalized_input": (
        {"input_scale", "saturation", "dead_relu", "exploding_gradients"},
        {"input_scale"},
        ("resnet_bn", "vae", "lbfgs_mlp"),
    ),
    "stale_optimizer": (
        {"no_update"},
        {"no_update"},
        ("char_lstm", "char_gru", "tiny_gpt", "resnet_bn", "vae", "lbfgs_mlp"),
    ),
    "random_labels": (
        {"plateau", "underfitting", "overfitting"},
        {"plateau", "underfitting", "overfitting"},
        ("resnet_bn", "lbfgs_mlp"),
    ),
    "tiny_train_set": ({"overfitting"}, {"overfitting"}, ("char_lstm", "tiny_gpt", "resnet_bn")),
    "softmax_before_ce": (
        {"softmax_before_loss"},
        {"softmax_before_loss"},
        ("char_lstm", "tiny_gpt", "resnet_bn", "lbfgs_mlp"),
    ),
    "softmax_layer_before_ce": (
        {"softmax_before_loss"},
        {"softmax_before_loss"},
        ("char_lstm", "tiny_gpt", "resnet_bn", "lbfgs_mlp"),
    ),
    "eval_mode_left_on": ({"eval_mode"}, {"eval_mode"}, ("tiny_gpt", "resnet_bn")),
}
FAMILIES = ("char_lstm", "char_gru", "tiny_gpt", "resnet_bn", "vae", "lbfgs_mlp")
#: per family: default optimizer and learning rates for SGD/Adam/Adadelta, steps per epoch, epochs
SETUP = {
    "char_lstm": ("adam", {"sgd": 0.5, "adam": 3e-3, "adadelta": 1.0}, 30, 6),
    "char_gru": ("adam", {"sgd": 0.5, "adam": 3e-3, "adadelta": 1.0}, 30, 6),
    "tiny_gpt": ("adamw", {"sgd": 0.3, "adam": 1e-3, "adamw": 1e-3, "adadelta": 1.0}, 30, 6),
    "resnet_bn": ("sgd", {"sgd": 0.05, "adam": 1e-3, "adadelta": 1.0}, 0, 6),
    "vae": ("adam", {"sgd": 1e-3, "adam": 1e-3, "adadelta": 1.0}, 0, 6),
    "lbfgs_mlp": ("lbfgs", {"lbfgs": 1.0}, 0, 25),
}


def cases(seeds: int) -> list[tuple[str, str, int]]:
    """(family, fault, seed): every family healthy over ``seeds`` seeds and every fault once per seed."""
    out = [(fam, "healthy", s) for s in range(seeds) for fam in FAMILIES]
    # round-robin over the faults, so that a suite stopped early has seen every fault
    rounds = [[(fam, fault) for fam in fams] for fault, (_, _, fams) in FAULTS.items()]
    for i in range(max(len(r) for r in rounds)):
        out += [(*r[i], s) for s in range(seeds) for r in rounds if i < len(r)]
    return out


def _optimizer(name: str, params, lr: float):
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "lbfgs":
        return torch.optim.LBFGS(params, lr=lr, max_iter=3, history_size=10, line_search_fn="strong_wolfe")
    return {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "adadelta": torch.optim.Adadelta}[name](
        params, lr=lr
    )


@dataclass
class Data:
    train: list  # batches (x, y) of one epoch, or a callable epoch -> batches
    val: tuple
    classes: bool


def _images(dataset: str, seed: int, n: int, fault: str, scale_raw: float) -> tuple[Data, tuple]:
    ds = load(dataset)
    rng = np.random.default_rng(seed)
    n = 256 if fault == "tiny_train_set" else min(n, len(ds.x_train))
    idx = rng.choice(len(ds.x_train), n, replace=False)
    x, y = torch.from_numpy(ds.x_train[idx]).float(), torch.from_numpy(ds.y_train[idx]).long()
    vidx = rng.choice(len(ds.x_test), min(1000, len(ds.x_test)), replace=False)
    xv, yv = torch.from_numpy(ds.x_test[vidx]).float(), torch.from_numpy(ds.y_test[vidx]).long()
    if fault == "random_labels":
        y = y[torch.randperm(len(y))]
    return Data([], (xv, yv), True), (x, y, scale_raw if fault == "unnormalized_input" else 1.0)


def run_case(family: str, fault: str, seed: int) -> dict:
    """Train one case with ``tdx.Monitor(model, opt)`` at defaults; return what the monitor said."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    opt_name, lrs, steps_per_epoch, epochs = SETUP[family]
    if fault.startswith("no_zero_grad_"):
        opt_name = fault.removeprefix("no_zero_grad_")
    lr = lrs[opt_name]
    if fault == "lr_x100_adam":
        opt_name, lr = "adam", 100 * lrs["adam"]
    if fault == "lr_div_1000":
        lr = lr / 1000
    lm = family in ("char_lstm", "char_gru", "tiny_gpt")
    softmax = fault == "softmax_before_ce"
    if lm:
        text, vocab = char_data()
        split = int(0.9 * len(text))
        train_text = text[: 2000 if fault == "tiny_train_set" else split]
        seq = 32
        val = char_batch(text[split:], 64, seq, torch.Generator().manual_seed(1000 + seed))
        if family == "tiny_gpt":
            model: nn.Module = TinyGPT(vocab, seq=seq, d=48, n_layer=2, n_head=4, dropout=0.1)
        else:
            model = CharRNN(vocab, "lstm" if family == "char_lstm" else "gru")
        head_name = "head"

        def epoch_batches(_e):
            return [
                char_batch(train_text, 32 if family != "tiny_gpt" else 16, seq, g)
                for _ in range(steps_per_epoch)
            ]

        classes = True
    else:
        if family == "lbfgs_mlp":
            d, (x, y, scale) = _images("digits", seed, 2000, fault, 16.0)
            model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 10))
            head_name, batch = "3", 128
        else:
            d, (x, y, scale) = _images("mnist", seed, 2000, fault, 255.0)
            model = resnet_bn(1, 10, width=8) if family == "resnet_bn" else VAE()
            head_name, batch = ("8" if family == "resnet_bn" else "dec"), 64
        xv, yv = d.val
        val = (xv * scale, yv) if family != "vae" else (xv * scale, xv)
        classes = family != "vae"
        if fault == "tiny_train_set":
            epochs *= 4

        def epoch_batches(_e):
            perm = torch.randperm(len(x), generator=g)
            out = []
            for i in range(0, len(x), batch):
                b = perm[i : i + batch]
                out.append((x[b] * scale, y[b] if family != "vae" else x[b]))
            return out

    if (
        fault == "softmax_layer_before_ce"
    ):  # the model ends in nn.Softmax (Keras-style), fed to CrossEntropyLoss
        model = nn.Sequential(model, nn.Softmax(dim=-1))
    params = list(model.parameters())
    opt = _optimizer(opt_name, params, lr)
    if (
        fault == "stale_optimizer"
    ):  # the head is replaced after the optimizer was built (a new task's classes)
        old = dict(model.named_children())[head_name]
        new = (
            nn.Linear(old.in_features, old.out_features)
            if isinstance(old, nn.Linear)
            else type(old)(
                *[nn.Linear(m.in_features, m.out_features) if isinstance(m, nn.Linear) else m for m in old]
            )
        )
        setattr(model, head_name, new)

    def forward(xb):
        out = model(xb)
        return F.softmax(out, dim=-1) if softmax else out

    def loss_of(out, yb):
        if family == "vae":
            return VAE.loss(out, yb)
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), yb.reshape(-1))

    mon = tdx.Monitor(model, opt)
    step = 0
    for e in range(epochs):
        model.train(fault != "eval_mode_left_on" or e == 0)
        tot, n, correct, seen = 0.0, 0, 0, 0
        for xb, yb in epoch_batches(e):
            if opt_name == "lbfgs":

                def closure(xb=xb, yb=yb):
                    opt.zero_grad()
                    lo = loss_of(forward(xb), yb)
                    lo.backward()
                    return lo

                loss = opt.step(closure)
                out = forward(xb).detach()
            else:
                if not fault.startswith("no_zero_grad_"):
                    opt.zero_grad()
                out = forward(xb)
                loss = loss_of(out, yb)
                loss.backward()
                opt.step()
            mon.step(loss)
            step += 1
            lv = float(loss.detach())
            tot, n = tot + lv, n + 1
            if classes and family != "vae":
                correct += int((out.argmax(-1) == yb).sum())
                seen += yb.numel()
        model.eval()
        with torch.no_grad():
            vo = forward(val[0])
            vl = float(loss_of(vo, val[1]))
            metrics = {"train_loss": tot / max(n, 1), "val_loss": vl}
            if classes and family != "vae":
                metrics["train_acc"] = correct / max(seen, 1)
                metrics["val_acc"] = float((vo.argmax(-1) == val[1]).float().mean())
        mon.epoch_end(**metrics)
    mon.close()
    r = summarize_monitor(mon, family, fault, seed, FAULTS)
    r["final_loss"] = tot / max(n, 1) if math.isfinite(tot) else float("nan")
    return r


def summarize_monitor(mon, family: str, fault: str, seed: int, faults: dict) -> dict:
    """What the monitor said about one case, scored against ``faults`` (see :func:`score`)."""
    findings = [f for f in mon.findings if f.code != "indicator_disabled"]
    diagnosis = [d for d in mon.diagnosis if d.primary.code != "indicator_disabled"]
    primary = diagnosis[0].primary.code if diagnosis else None
    steps = len(mon._loss)
    hist = mon.history
    growth = hist.loc[hist.name == "weight_growth", "value"]
    last_growth = hist.loc[hist.name == "weight_growth"].groupby("epoch")["value"].last()
    base = mon._loss.baseline()
    trace = [
        (i, e.get("train_loss", float("nan")) / base if base > 0 else None, last_growth.get(i), e)
        for i, e in enumerate(mon._epochs)
    ]
    return score(
        {
            "case": f"{family}/{fault}",
            "family": family,
            "fault": fault,
            "seed": seed,
            "healthy": fault == "healthy",
            "steps": steps,
            "codes": sorted({f.code for f in findings}),
            "primary": primary,
            "disabled": [f.message for f in mon.findings if f.code == "indicator_disabled"],
            "first_step": {f.code: f.step for f in findings},
            "alarm": bool(findings),
            "overhead": mon.overhead,
            # the median weight layer's largest growth over its init scale (the weight_growth rule's reading)
            "weight_growth": float(growth.max()) if len(growth) else None,
            "epoch_trace": trace,
        },
        faults,
    )


def score(r: dict, faults: dict | None = None) -> dict:
    """Whether a run's findings caught its fault and its primary finding is the right one (from ``faults``,
    by default this module's FAULTS)."""
    expected, primary_ok, _ = (FAULTS if faults is None else faults).get(r["fault"], (set(), set(), ()))
    hits = [s for c, s in r["first_step"].items() if c in expected]
    r["detected"] = bool(hits)
    r["detect_frac"] = (min(hits) + 1) / max(r["steps"], 1) if hits else None
    r["right_primary"] = r["primary"] in primary_ok if hits else None
    return r
