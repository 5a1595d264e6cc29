"""Train one run from its config and record train/val/test accuracy and loss after every epoch.

A run is fully determined by its config (seeded numpy and torch, one torch thread), and its id is a short hash
of the canonical config, so a rerun of the same config is recognised. Data flow per run:

1. draw a training pool of ``n_train + val_size`` examples from the training split, with class proportions set
   by ``imbalance`` (half of the classes kept at that fraction), then randomise ``label_noise`` of its labels;
2. hold out a stratified validation set of ``val_size`` from that pool (same distribution as train, no shift);
   with ``val_balanced = true`` an imbalanced run draws its validation set with the test split's class
   distribution instead (balanced on a balanced task, the task's own priors on a naturally imbalanced one;
   :func:`~traindx.experiments.conditions.validation_weights`), from examples outside its training pool, so
   validation and test share one class distribution and a val - test gap means a shifted test set, not a
   label (prior) shift;
3. the test set is the dataset's own test split (balanced on a balanced task), a stratified subset of
   ``eval_subset`` examples, with the test-time ``shift`` applied; so an imbalanced run is still judged on
   the task's own class distribution, as the learning-curve meta-classifier study did;
4. accuracies/losses on train use a stratified subset of at most ``eval_subset`` training examples (full
   evaluation would dominate the cost of small runs); the record says so (``eval_stratified``).

Example:
    >>> from traindx.experiments.runner import run_experiment
    >>> out = run_experiment({"dataset": "digits", "model": "logreg", "n_train": 200, "val_size": 100,
    ...                       "epochs": 2, "eval_subset": 200})
    >>> out["run"]["status"], len(out["epochs"])
    ('finished', 2)
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import traceback
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from traindx.errors import InputError
from traindx.experiments import vocabulary as V
from traindx.experiments.keys import BY_NAME, ConfigKeyError, check_config, defaults, label_keys

# The canonical config: every run config is completed with these defaults before hashing, so two spellings of
# the same run (omitting a default or giving it) share one run id. The keys, types and ranges live in one table.
DEFAULTS: dict[str, Any] = defaults()
# keys that label a run (which part of a spec it came from) without changing what is trained: not hashed
LABEL_KEYS = label_keys()
OPTIMIZERS = BY_NAME["optimizer"].allowed()
# keys added with the task layer (see traindx.experiments.keys): absent from the first corpora's configs
OPTIONAL = (
    "target", "capacity", "dropout", "norm", "schedule", "lr_scale", "train_fraction", "cap_to_task", "signals",
)  # fmt: skip
_TEST_SUBSET_SEED = (
    20_240_601  # one fixed test subset per dataset, shared by all runs: comparable test curves
)


def canonical_config(config: dict[str, Any]) -> dict[str, Any]:
    """Complete ``config`` with defaults and resolve model-dependent values (width, depth, shift strength).

    Every key is validated against :data:`traindx.experiments.keys.KEYS` first (unknown keys, types, ranges).

    Example:
        >>> canonical_config({"model": "logreg"})["width"]
        0
    """
    from traindx.experiments.conditions import check_shift
    from traindx.experiments.models import resolve_arch
    from traindx.experiments.tasks import modality_of

    config = {("dataset" if k == "task" else k): v for k, v in config.items()}
    given = check_config(config)  # unknown keys, types and ranges, before anything runs
    cfg = {**DEFAULTS, **{k: v for k, v in given.items() if v is not None}}
    # errors name their key, so a spec's error points at the line that set it
    try:
        modality = modality_of(cfg["dataset"])  # unknown tasks fail here, with the closest names
    except InputError as exc:
        raise ConfigKeyError(str(exc), "dataset", cfg["dataset"]) from None
    try:
        check_shift(cfg["shift"], modality)
    except InputError as exc:
        raise ConfigKeyError(str(exc), "shift", cfg["shift"]) from None
    if cfg["model"] not in V.MODELS_BY_MODALITY[modality]:
        raise ConfigKeyError(
            f"model {cfg['model']!r} does not suit {modality} task {cfg['dataset']!r}; use one of "
            f"{', '.join(V.MODELS_BY_MODALITY[modality])}",
            "model",
            cfg["model"],
        )
    # optional keys enter the canonical config (and the run id) only when they change what is trained
    for key in OPTIONAL:
        if key in cfg and cfg[key] == BY_NAME[key].default:
            del cfg[key]
    if "target" in cfg and modality != "tabular":
        raise InputError(
            "target applies to table files only; drop it or give a CSV / Parquet path as dataset"
        )
    if "capacity" in cfg:
        width, _ = resolve_arch(cfg["model"], None, cfg["depth"], cfg["capacity"])
        if cfg["width"] is not None and int(cfg["width"]) != width:
            raise InputError(
                f"give either width or capacity, not both (capacity {cfg['capacity']!r} means width={width})"
            )
        cfg["width"] = width
    cfg["width"], cfg["depth"] = resolve_arch(cfg["model"], cfg["width"], cfg["depth"])
    if cfg["shift_strength"] is None:
        cfg["shift_strength"] = V.SHIFT_DEFAULTS[cfg["shift"]]
    for key in ("lr", "momentum", "weight_decay", "imbalance", "label_noise", "shift_strength"):
        cfg[key] = float(cfg[key])
    # a balanced run's validation set is balanced anyway: the key then changes nothing, so it is not hashed
    if "val_balanced" in cfg and (not cfg["val_balanced"] or cfg["imbalance"] >= 1.0):
        del cfg["val_balanced"]
    return cfg


def run_id(config: dict[str, Any]) -> str:
    """A short stable hash (12 hex digits) of the canonical config.

    Example:
        >>> run_id({"model": "logreg"}) == run_id({"model": "logreg", "seed": 0})
        True
    """
    cfg = {k: v for k, v in canonical_config(config).items() if k not in LABEL_KEYS}
    blob = json.dumps(cfg, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(blob.encode(), usedforsecurity=False).hexdigest()[:12]


def run_experiment(config: dict[str, Any]) -> dict[str, Any]:
    """Train one run; never raises for a failing run (the error is returned in the record).

    Returns ``{"run": {...}, "epochs": DataFrame | None}``: the run record (run_id, status, error, config,
    train_seconds, eval_seconds, wall_seconds, created_at) and the tidy curve rows.
    """
    started = time.perf_counter()
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        cfg = canonical_config(config)
        rid = run_id(cfg)
    except Exception as exc:  # a bad config is a failed run too, so a sweep records it and goes on
        cfg, rid = dict(config), hashlib.sha1(repr(sorted(config.items())).encode()).hexdigest()[:12]
        return {"run": _record(rid, cfg, "failed", _err(exc), 0.0, 0.0, started, created), "epochs": None}
    try:
        epochs, train_s, eval_s, extra = _train(cfg)
        signals = extra.pop("signals_df", None)
        cfg = {**cfg, **extra}
        out = {
            "run": _record(rid, cfg, "finished", None, train_s, eval_s, started, created),
            "epochs": epochs.assign(run_id=rid),
        }
        if signals is not None and len(signals):
            out["signals"] = signals.assign(run_id=rid)
        return out
    except Exception as exc:
        return {"run": _record(rid, cfg, "failed", _err(exc), 0.0, 0.0, started, created), "epochs": None}


def _err(exc: BaseException) -> str:
    tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
    return f"{type(exc).__name__}: {exc}\n{tail}"[:4000]


def _record(rid, cfg, status, error, train_s, eval_s, started, created) -> dict[str, Any]:
    return {
        "run_id": rid,
        "status": status,
        "error": error,
        "config": cfg,
        "train_seconds": float(train_s),
        "eval_seconds": float(eval_s),
        "wall_seconds": time.perf_counter() - started,
        "created_at": created,
    }


def prepare_data(cfg: dict[str, Any]) -> dict[str, np.ndarray]:
    """The run's arrays: x/y for train, val, the train-evaluation subset and the (shifted) test subset."""
    from traindx.experiments import conditions as C
    from traindx.experiments.tasks import load

    ds = load(cfg["dataset"], target=cfg.get("target"))
    # one independent stream per step, so changing one condition (say label noise) leaves the others' draws
    # (which examples, which split) unchanged: runs that differ in one condition differ only in it
    r_class, r_pool, r_noise, r_split, r_shift = (
        np.random.default_rng(s) for s in np.random.SeedSequence(cfg["seed"]).spawn(5)
    )
    weights = C.class_weights(ds.n_classes, cfg["imbalance"], r_class)
    # a many-task design caps sizes: on a small task validation takes at most a quarter of the training split
    # and train the rest (larger tasks are subsampled to n_train, drawn exactly as without the cap)
    avail = len(ds.y_train)
    if cfg.get("cap_to_task") and cfg["n_train"] + cfg["val_size"] > avail:
        val_size = min(cfg["val_size"], avail // 4)
        cfg = {**cfg, "val_size": val_size, "n_train": avail - val_size}
    if cfg.get("train_fraction", 1.0) < 1.0:
        cfg = {**cfg, "n_train": max(2 * ds.n_classes, int(round(cfg["n_train"] * cfg["train_fraction"])))}
    if cfg.get("val_balanced"):
        train_src = C.stratified_sample(ds.y_train, cfg["n_train"], r_pool, weights)
        rest = np.setdiff1d(np.arange(len(ds.y_train)), train_src)
        # validation follows the test split's class priors (balanced on a balanced task), so val - test
        # moves only with a shifted test set, never with the task's own class distribution
        prior = C.validation_weights(ds.y_train[rest], ds.y_test, ds.n_classes)
        val_src = rest[C.stratified_sample(ds.y_train[rest], cfg["val_size"], r_split, prior)]
        pool = np.concatenate([train_src, val_src])
        val = np.arange(cfg["n_train"], len(pool))
    else:
        pool = C.stratified_sample(ds.y_train, cfg["n_train"] + cfg["val_size"], r_pool, weights)
        # split on the true labels so the split is the same with and without label noise
        has_val = cfg["val_size"] > 0
        val = C.stratified_sample(ds.y_train[pool], cfg["val_size"], r_split) if has_val else np.empty(0, int)
    x_pool = ds.x_train[pool]
    y_true = ds.y_train[pool]
    y_pool = C.add_label_noise(y_true, cfg["label_noise"], ds.n_classes, r_noise)
    train = np.setdiff1d(np.arange(len(pool)), val)
    train = train[r_split.permutation(len(train))]
    n_eval_train = min(cfg["eval_subset"], len(train))
    train_eval = train[C.stratified_sample(y_true[train], n_eval_train, r_split)]
    val_eval = val[: cfg["eval_subset"]]
    n_test = min(cfg["eval_subset"], len(ds.y_test))
    test = C.stratified_sample(ds.y_test, n_test, _TEST_SUBSET_SEED)
    x_test = C.apply_shift(
        ds.x_test[test], cfg["shift"], cfg["shift_strength"], r_shift,
        modality=ds.modality, bounded=ds.bounded, vocab_size=ds.vocab_size,
    )  # fmt: skip
    if isinstance(x_test, tuple):  # a sub-population keeps some of the test rows
        x_test, rows = x_test
        test = test[rows]
    return {
        "x_train": x_pool[train],
        "y_train": y_pool[train],
        "x_train_eval": x_pool[train_eval],
        "y_train_eval": y_pool[train_eval],
        "x_val": x_pool[val_eval],
        "y_val": y_pool[val_eval],
        "x_test": x_test,
        "y_test": ds.y_test[test],
        "n_classes": np.array(ds.n_classes),
        "vocab_size": np.array(ds.vocab_size),
    }


def _optimizer(cfg, params):
    import torch

    name, lr, wd = cfg["optimizer"], cfg["lr"] * cfg.get("lr_scale", 1.0), cfg["weight_decay"]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=wd, momentum=cfg["momentum"])
    return torch.optim.SGD(params, lr=lr, weight_decay=wd, momentum=cfg["momentum"])


def _schedule(cfg, opt):
    """Per-epoch learning-rate schedule (None for constant): step decays x0.1 at 50% and 75% of the epochs
    (the ResNet recipe, He et al. 2016); cosine anneals to 0 over the run (Loshchilov & Hutter 2017)."""
    import torch

    kind, n = cfg.get("schedule", "constant"), cfg["epochs"]
    if kind == "step":
        return torch.optim.lr_scheduler.MultiStepLR(opt, [max(1, n // 2), max(1, (3 * n) // 4)], gamma=0.1)
    if kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=n)
    return None


def _evaluate(model, x, y) -> tuple[float, float]:
    import torch
    import torch.nn.functional as F

    if len(y) == 0:
        return math.nan, math.nan
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(y), 2048):
            out = model(x[i : i + 2048])
            loss += F.cross_entropy(out, y[i : i + 2048], reduction="sum").item()
            correct += int((out.argmax(1) == y[i : i + 2048]).sum())
    model.train()
    return correct / len(y), loss / len(y)


def _train(cfg: dict[str, Any]) -> tuple[pd.DataFrame, float, float, dict[str, Any]]:
    import torch
    import torch.nn.functional as F

    from traindx.experiments.models import build_model, count_params
    from traindx.experiments.tasks import modality_of

    torch.set_num_threads(1)
    data = prepare_data(cfg)
    t = {
        k: torch.from_numpy(np.ascontiguousarray(v))
        for k, v in data.items()
        if k not in ("n_classes", "vocab_size")
    }
    torch.manual_seed(cfg["seed"])
    gen = torch.Generator().manual_seed(cfg["seed"])
    model = build_model(
        cfg["model"], tuple(data["x_train"].shape[1:]), int(data["n_classes"]),
        cfg["width"], cfg["depth"], cfg["activation"], cfg.get("dropout", 0.0), cfg.get("norm", "none"),
        int(data["vocab_size"]),
    )  # fmt: skip
    opt = _optimizer(cfg, model.parameters())
    sched = _schedule(cfg, opt)
    record = bool(cfg.get("signals", False))
    sig_rows: list[dict[str, Any]] = []
    step = 0
    n, bs = len(t["y_train"]), cfg["batch_size"]
    rows, train_s, eval_s = [], 0.0, 0.0
    for epoch in range(1, cfg["epochs"] + 1):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=gen)
        run_loss = 0.0
        for i in range(0, n, bs):
            idx = order[i : i + bs]
            loss = F.cross_entropy(model(t["x_train"][idx]), t["y_train"][idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            last = record and i + bs >= n  # one sample per epoch, on its last step: no per-step host sync
            if last:
                before = [p.detach().clone() for p in model.parameters()]
            opt.step()
            step += 1
            if last:
                sig_rows += _signals(model, before, step, epoch, loss)
            run_loss += loss.item() * len(idx)
        if sched is not None:
            sched.step()
        t1 = time.perf_counter()
        train_acc, train_loss = _evaluate(model, t["x_train_eval"], t["y_train_eval"])
        val_acc, val_loss = _evaluate(model, t["x_val"], t["y_val"])
        test_acc, test_loss = _evaluate(model, t["x_test"], t["y_test"])
        t2 = time.perf_counter()
        train_s += t1 - t0
        eval_s += t2 - t1
        rows.append(
            {
                "epoch": epoch,
                "train_acc": train_acc,
                "val_acc": val_acc,
                "test_acc": test_acc,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "test_loss": test_loss,
                "n_train": len(t["y_train_eval"]),
                "n_val": len(t["y_val"]),
                "n_test": len(t["y_test"]),
                "running_train_loss": run_loss / n,  # mean minibatch loss during the epoch (train mode)
                "epoch_seconds": t1 - t0,
            }
        )
    extra = {
        "n_params": count_params(model),
        "n_train_used": n,
        "modality": modality_of(cfg["dataset"]),
        "eval_stratified": True,
        "test_balanced": True,
    }
    if record:
        extra["signals_df"] = pd.DataFrame(sig_rows)
    return pd.DataFrame(rows), train_s, eval_s, extra


def _signals(model, before, step: int, epoch: int, loss) -> list[dict[str, Any]]:
    """Monitor signals of one step: total gradient, weight and update norms and the update/weight ratio
    (healthy near 1e-3 per step; Karpathy's rule of thumb, CS231n), plus the minibatch loss."""
    import torch

    params = list(model.parameters())
    grads = [p.grad.detach().norm() for p in params if p.grad is not None]
    g = float(torch.stack(grads).norm()) if grads else math.nan
    w = float(torch.stack([p.detach().norm() for p in params]).norm())
    u = float(torch.stack([(p.detach() - b).norm() for p, b in zip(params, before, strict=True)]).norm())
    values = {"grad_norm": g, "weight_norm": w, "update_norm": u, "update_ratio": u / max(w, 1e-12),
              "loss": float(loss.detach())}  # fmt: skip
    return [{"step": step, "epoch": epoch, "name": k, "layer": "", "value": v} for k, v in values.items()]
