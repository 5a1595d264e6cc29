"""A landscape collection across tasks: the MD tree's metrics and labels for grids of small trainings.

The MD tree paper (Zhou et al., ICML 2024) builds its collections from a grid per dataset: model width x
training-set size x batch size at a fixed learning rate, several seeds per cell. Each cell gets the tree's
metrics (train/test error and loss, log top Hessian eigenvalue, log Hessian trace, CKA and mode connectivity
between two seeds) and the room for improvement of each knob (``rfi_*``, in test-accuracy points): the best test
accuracy reached by moving only that knob in one direction, minus the cell's own. The labels follow from them
exactly as in the released tables (recomputed from the clean collection's test accuracies: every rfi value and
label of its 1,690 rows, but one data_vs_batch tie the release calls optimal):

- ``bs_failure``: ``optimal`` when neither a smaller nor a larger batch helps; ``small`` (the temperature
  lr / batch is too small) when a smaller batch helps more than a larger one, else ``large``;
- ``width_vs_batch``: ``optimal`` when neither widening nor a batch change helps; ``width`` when widening helps
  strictly more than the best batch change, else ``batch``; ``data_vs_batch`` the same with more data.

Here each task of the task layer gets a 3 x 3 x 3 grid (width, data, batch size) of the model family that
suits its modality, trained with SGD (momentum 0.9, a fixed learning rate per modality, a fixed number of
epochs) with two seeds; optionally with a fraction of noisy labels (the paper's second collection).
:func:`generate` trains and measures one grid at a time and writes it as one Parquet part, skipping parts that
exist, so a stopped run resumes where it left off; :func:`build` joins the parts and adds the labels.

Example:
    >>> import pandas as pd
    >>> grid = pd.DataFrame({"task": "t", "noise": 0.0, "width": [4, 4, 8, 8], "data": [1, 1, 1, 1],
    ...     "bs": [8, 32, 8, 32], "test_acc": [70.0, 60.0, 75.0, 80.0]})
    >>> add_labels(grid)[["bs_failure", "width_vs_batch"]].values.tolist()
    [['optimal', 'width'], ['small', 'width'], ['large', 'batch'], ['optimal', 'optimal']]
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from traindx.errors import InputError

GRID_AXES = ("width", "data", "bs")


@dataclass(frozen=True)
class GridSpec:
    """One task's grid: the model, its widths, training-set sizes, batch sizes, and the training recipe."""

    task: str
    model: str
    widths: tuple[int, ...]
    n_train: tuple[int, ...]
    batch_sizes: tuple[int, ...] = (8, 32, 128)
    lr: float = 0.05
    epochs: int = 15
    depth: int = 2
    noise: float = 0.0
    seeds: tuple[int, int] = (0, 1)

    @property
    def part_name(self) -> str:
        return f"{self.task}-noise{int(round(100 * self.noise)):02d}"


# Models, widths and sizes per modality: the family the corpus uses for the modality at a quarter, one and four
# times its default width (the corpus's capacity levels small / medium / large), so a grid of 27 cells x 2 seeds
# trains in about a minute on one CPU core. Learning rates: SGD with momentum 0.9 at a value that trains the
# medium width in 15 epochs at batch 32 (measured on one task per modality); smaller batches then run hotter.
MODALITY_RECIPES = {
    "tabular": {"model": "mlp", "widths": (16, 64, 256), "n_train": (150, 300, 600), "lr": 0.05},
    "image": {"model": "cnn", "widths": (4, 8, 16), "n_train": (125, 250, 500), "lr": 0.05},
    "text": {"model": "embbag", "widths": (8, 32, 128), "n_train": (200, 400, 800), "lr": 0.5},
    "timeseries": {"model": "cnn", "widths": (4, 8, 16), "n_train": (150, 300, 600), "lr": 0.05},
}
# The default task list: 13 tasks over the four modalities, interleaved by modality so that a partial run
# covers every modality. JapaneseVowels (270 training series) and OSULeaf (200) get sizes scaled to fit. (mnist1d
# was left out: neither the CNN nor the MLP leaves chance level with this SGD recipe in 15 epochs.)
DEFAULT_TASKS = (
    "phoneme", "digits", "subjectivity", "JapaneseVowels",
    "magic", "mnist", "sentence_polarity", "OSULeaf",
    "satimage", "spambase", "waveform_40", "fashion_mnist", "qc",
)  # fmt: skip
# The label-noise collection (the paper's second collection; 20% of the training labels replaced by random
# classes here), one grid per modality first.
NOISY_TASKS = (
    "phoneme",
    "digits",
    "subjectivity",
    "JapaneseVowels",
    "satimage",
    "fashion_mnist",
    "qc",
    "magic",
)
NOISE = 0.2
TEST_SIZE = 500
# Metric budget per cell, chosen for cost (the data card reports the measured seconds of each step): a 100-step
# Bezier curve (the CLI's default is 300) and at most 50 Hessian-vector products for the trace (exact up to 200
# parameters; Hutch++ above, stopping earlier at 1% standard error).
CONNECTIVITY_STEPS = 100
TRACE_PROBES = 50


def _errors_only(model, train, test) -> dict[str, float]:
    import torch.nn.functional as F

    from traindx.landscape.metrics import _error_and_loss

    row = {}
    for part, (x, y) in (("train", train), ("test", test)):
        err, loss = _error_and_loss(model, x, y, F.cross_entropy)
        row[f"{part}_error"], row[f"{part}_loss"] = err, loss
    return row


# The generation order: the clean grids of ten tasks (all four modalities), then the label-noise grids of the
# cheaper tasks, then the costlier clean and noisy grids, so a run stopped early still holds >= 10 clean tasks
# and a noisy grid in every modality but text.
PLAN = (
    *[(t, 0.0) for t in DEFAULT_TASKS if t not in ("fashion_mnist", "qc")],
    *[(t, NOISE) for t in ("phoneme", "digits", "JapaneseVowels", "magic")],
    ("fashion_mnist", 0.0), ("qc", 0.0),
    *[(t, NOISE) for t in ("satimage", "subjectivity", "fashion_mnist", "qc")],
)  # fmt: skip


def default_specs(noisy: bool = True) -> list[GridSpec]:
    """The shipped collection's grids in generation order (:data:`PLAN`); ``noisy=False``: the clean ones."""
    from traindx.experiments.tasks import registry

    out = []
    for task, noise in PLAN:
        if noise and not noisy:
            continue
        info = registry.get(task)
        recipe = dict(MODALITY_RECIPES[info.modality])
        out.append(_fit_sizes(GridSpec(task=task, noise=noise, **recipe)))
    return out


def _fit_sizes(spec: GridSpec) -> GridSpec:
    from traindx.experiments.tasks import load

    avail = load(spec.task).n_train
    if max(spec.n_train) <= avail:
        return spec
    scale = avail / max(spec.n_train)
    return GridSpec(**{**asdict(spec), "n_train": tuple(int(n * scale) for n in spec.n_train)})


def _train_one(model, x, y, bs: int, lr: float, epochs: int, seed: int):
    import torch
    import torch.nn.functional as F

    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), bs):
            idx = order[i : i + bs]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            if not torch.isfinite(loss):
                return False  # diverged: the cell is measured as it stands (the paper keeps such cells too)
            loss.backward()
            opt.step()
    return True


def measure_grid(
    spec: GridSpec,
    connectivity_steps: int = CONNECTIVITY_STEPS,
    trace_probes: int = TRACE_PROBES,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Train and measure every cell of one grid; one row per (width, data, bs) with per-step costs."""
    import torch

    from traindx.experiments import conditions as C
    from traindx.experiments.models import build_model, count_params
    from traindx.experiments.tasks import load
    from traindx.landscape.metrics import model_diagnosis_metrics

    torch.set_num_threads(1)
    task = load(spec.task)
    rng = np.random.default_rng(0)
    # nested training subsets: the smaller sizes are prefixes of the largest, as in the paper's data fractions
    pool = C.stratified_sample(task.y_train, max(spec.n_train), rng)
    pool = pool[rng.permutation(len(pool))]
    y_pool = C.add_label_noise(task.y_train[pool], spec.noise, task.n_classes, np.random.default_rng(1))
    test = C.stratified_sample(task.y_test, min(TEST_SIZE, len(task.y_test)), 2)
    x_all = torch.from_numpy(np.ascontiguousarray(task.x_train[pool]))
    y_all = torch.from_numpy(y_pool.astype(np.int64))
    x_te = torch.from_numpy(np.ascontiguousarray(task.x_test[test]))
    y_te = torch.from_numpy(task.y_test[test].astype(np.int64))
    rows = []
    for wi, width in enumerate(spec.widths):
        for di, n in enumerate(spec.n_train):
            for bs in spec.batch_sizes:
                if progress is not None:
                    progress(f"{spec.part_name} width={width} n={n} bs={bs}")
                x, y = x_all[:n], y_all[:n]
                t0 = time.perf_counter()
                models, finite = [], []
                for seed in spec.seeds:
                    torch.manual_seed(seed)
                    m = build_model(spec.model, task.input_shape, task.n_classes, width, spec.depth,
                                    vocab_size=task.vocab_size)  # fmt: skip
                    finite.append(_train_one(m, x, y, bs, spec.lr, spec.epochs, seed))
                    models.append(m)
                train_s = (time.perf_counter() - t0) / len(models)
                steps: dict[str, float] = {}
                clock = {"name": None, "t": time.perf_counter()}

                def tick(name: str, steps=steps, clock=clock) -> None:
                    now = time.perf_counter()
                    if clock["name"] is not None:
                        steps[clock["name"]] = now - clock["t"]
                    clock.update(name=name, t=now)

                t1 = time.perf_counter()
                failed = ""
                try:
                    row = model_diagnosis_metrics(
                        models[0], (x, y), (x_te, y_te), model2=models[1],
                        connectivity_steps=connectivity_steps, trace_probes=trace_probes, seed=0, progress=tick,
                    )  # fmt: skip
                except (InputError, RuntimeError, ValueError) as exc:
                    # a diverged model (non-finite loss): errors only, the landscape metrics stay missing
                    failed = str(exc)[:200]
                    row = _errors_only(models[0], (x, y), (x_te, y_te))
                tick("end")
                metric_s = time.perf_counter() - t1
                # the second seed's errors and losses: labels use the mean test accuracy of both seeds, which
                # halves the seed noise in the room-for-improvement differences
                other = _errors_only(models[1], (x, y), (x_te, y_te))
                for key in ("train_error", "test_error", "train_loss", "test_loss"):
                    row[f"{key}_seed1"] = other[key]
                row["metrics_failed"] = failed
                row["test_acc_mean"] = 100 - (row["test_error"] + other["test_error"]) / 2
                rows.append({
                    "task": spec.task, "modality": task.modality, "model": spec.model, "noise": spec.noise,
                    "width": width, "width_level": wi, "data": di + 1, "data_amount": n, "bs": bs,
                    "lr": spec.lr, "epochs": spec.epochs, "para_amount": count_params(models[0]),
                    "diverged": not all(finite), **row, "train_s": train_s, "metric_s": metric_s,
                    **{f"cost_{_slug(k)}_s": v for k, v in steps.items()},
                })  # fmt: skip
    return pd.DataFrame(rows)


def _slug(step: str) -> str:
    return step.split(" (")[0].replace(" ", "_").replace("-", "_")


def generate(
    out: str | Path,
    specs: list[GridSpec] | None = None,
    minutes: float = math.inf,
    progress: Callable[[str], None] | None = print,
) -> list[Path]:
    """Measure the grids whose part is not in ``out`` yet, one Parquet part per grid, until ``minutes`` pass.

    A part is written atomically when its grid is complete, so an interrupted run loses at most one grid.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    specs = default_specs() if specs is None else specs
    start = time.perf_counter()
    written = []
    for spec in specs:
        path = folder / f"part-{spec.part_name}.parquet"
        if path.exists():
            continue
        if (time.perf_counter() - start) / 60 > minutes:
            break
        t0 = time.perf_counter()
        frame = measure_grid(spec, progress=progress)
        frame["grid_s"] = time.perf_counter() - t0
        frame["spec"] = json.dumps(asdict(spec))
        tmp = path.with_name(path.name + ".tmp")
        frame.to_parquet(tmp, index=False)
        tmp.replace(path)
        written.append(path)
        if progress is not None:
            progress(f"wrote {path.name}: {len(frame)} cells in {time.perf_counter() - t0:.0f} s")
    return written


def add_labels(df: pd.DataFrame, acc: str = "test_acc") -> pd.DataFrame:
    """Room for improvement of each knob within each (task, noise) grid, and the paper's three labels."""
    missing = [c for c in (*GRID_AXES, acc) if c not in df.columns]
    if missing:
        raise InputError(f"a grid needs columns {missing} to be labelled")
    groups = [c for c in ("task", "noise") if c in df.columns]
    out = df.copy()
    keys = groups + list(GRID_AXES)
    for col, axis, larger in (("rfi_width", "width", True), ("rfi_data", "data", True),
                              # a smaller batch raises the temperature lr / batch at a fixed learning rate
                              ("rfi_inc_temp", "bs", False), ("rfi_dec_temp", "bs", True)):  # fmt: skip
        out[col] = _room(out, acc, [k for k in keys if k != axis], axis, larger)
    inc, dec = out["rfi_inc_temp"], out["rfi_dec_temp"]
    temp = np.maximum(inc, dec)
    out["bs_failure"] = np.where((inc == 0) & (dec == 0), "optimal", np.where(inc > dec, "small", "large"))
    for knob in ("width", "data"):
        rfi = out[f"rfi_{knob}"]
        out[f"{knob}_vs_batch"] = np.where(
            (rfi == 0) & (temp == 0), "optimal", np.where(rfi > temp, knob, "batch")
        )
    return out


def _room(df: pd.DataFrame, acc: str, fixed: list[str], axis: str, larger: bool) -> pd.Series:
    """Per row: the best gain in ``acc`` from moving only ``axis`` up (``larger``) or down, others ``fixed``."""
    out = pd.Series(0.0, index=df.index)
    for _, g in df.groupby(fixed, sort=False):
        g = g.sort_values(axis, ascending=not larger)  # the cells beyond each row come before it
        vals = g[acc].to_numpy(dtype=float)
        best = np.maximum.accumulate(vals)  # best of this cell and every one beyond it
        beyond = np.r_[-np.inf, best[:-1]]
        out.loc[g.index] = np.maximum(0.0, beyond - vals)
    return out


def build(parts: str | Path) -> pd.DataFrame:
    """Join the parts of a collection and label it (labels from the two seeds' mean test accuracy)."""
    files = sorted(Path(parts).glob("part-*.parquet"))
    if not files:
        raise InputError(f"no part-*.parquet files in {parts}; run the generator first")
    df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    df["mode_connectivity_peak"] = df["mode_connectivity_peak"].clip(upper=0.0)
    df = add_labels(df, acc="test_acc_mean")
    return df.sort_values(["noise", "task", "width", "data", "bs"]).reset_index(drop=True)


__all__ = ["GridSpec", "MODALITY_RECIPES", "DEFAULT_TASKS", "NOISY_TASKS", "default_specs", "measure_grid",
           "generate", "add_labels", "build"]  # fmt: skip
