"""MD tree transfer: the paper's structure against learned variants, on the released clean collection and ours.

Transfer protocols (a learned variant is chosen by transfer, never by a random split):

- ours, leave-one-task-out: fit on the clean grids of all tasks but one, test on that task's grid;
- ours, clean -> label noise: fit on all clean grids, test on the 20%-noisy grids (the paper's dataset transfer);
- ours, small -> large scale: fit on the two smaller data sizes of every clean grid, test on the largest (and
  the same with widths);
- released clean collection, leave-region-out: the (data, width) plane in four regions (data <= 5 or > 5,
  width <= 16 or > 16); fit on three, test on the fourth; plus the small <-> large data halves;
- across collections: fit on one collection, test on the other.

Every fit uses a random 70% of the training rows, one draw per seed, so the spread over seeds is the spread of
fitting on a sample of configurations (the paper fits on a few). Reported per question: the mean accuracy over
folds for each seed, then mean and standard deviation over seeds, for the paper's structure (`paper`, the default, with the paper's search
bounds; `paper_auto` searches the Hessian-trace thresholds in the data's range where the paper's bounds miss
the data), the learned variants
(boosted depth-2 trees; one depth-3 CART), the validation-metric tree (depth-4 CART on train/test loss and
error) and the majority-class rate of the test rows. Rows whose landscape metrics are missing (a diverged or
collapsed model) are left out of the fits. Then the wall time of each landscape metric on an MNIST CNN.

Run:
    .venv/bin/python benchmarks/mdtree.py [--seeds 5] [--skip-timings]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from traindx.landscape import MDTree, read_model_diagnosis_csv
from traindx.landscape.mdtree import QUESTIONS, question_rows

# the data dir: $TRAINDX_DATA_DIR, else ../shared/data beside the checkout
DATA_DIR = Path(os.environ.get("TRAINDX_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
CSV = str(DATA_DIR / "mdtree" / "dataframe_normal_public.csv")
OURS = str(Path(__file__).resolve().parents[1] / "src" / "traindx" / "data" / "landscape" / "landscape.csv")
# column -> MDTree arguments: the paper's structure (with the paper's search bounds, the default; and with the
# data's range for the Hessian-trace thresholds where the paper's bounds miss the data), the learned
# candidates, the baseline
TREES = {
    "paper": {"variant": "paper", "bounds": "paper"},
    "paper_auto": {"variant": "paper", "bounds": "auto"},
    "learned": {"variant": "learned"},
    "learned_tree": {"variant": "learned_tree"},
    "validation": {"variant": "validation"},
}
VARIANTS = tuple(TREES)
COLUMNS = (*VARIANTS, "majority")
FEATURES = ("train_error", "train_loss", "test_loss", "test_error", "mode_connectivity_peak", "hessian_t",
            "hessian_e", "CKA")  # fmt: skip
SAMPLE = 0.7


def evaluate(train: pd.DataFrame, test: pd.DataFrame, question: str, seed: int) -> dict[str, float]:
    label = QUESTIONS[question]
    y = test[label].astype(str).to_numpy()
    out = {
        name: float(np.mean(MDTree(question, random_state=seed, **kw).fit(train).predict(test) == y))
        for name, kw in TREES.items()
    }
    out["majority"] = float(max(np.mean(y == c) for c in np.unique(y)))
    return out


def _fit_rows(df: pd.DataFrame, question: str, seed: int, sample: float = SAMPLE) -> pd.DataFrame:
    rows = question_rows(df, question).dropna(subset=list(FEATURES))
    return rows.sample(frac=sample, random_state=seed) if sample < 1 else rows


def folds_score(df_train_test, question: str, seeds: int) -> pd.DataFrame:
    """Per seed: the mean over folds of each variant's accuracy; ``df_train_test`` yields (train, test) frames."""
    out = []
    for seed in range(seeds):
        per_fold = []
        for train, test in df_train_test:
            tr = _fit_rows(train, question, seed)
            te = question_rows(test, question)
            if len(te) == 0 or tr[QUESTIONS[question]].nunique() < 2:
                continue
            per_fold.append(evaluate(tr, te, question, seed))
        out.append({"question": question, "seed": seed, **pd.DataFrame(per_fold).mean().to_dict()})
    return pd.DataFrame(out)


def summarise(res: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread (std over seeds) in points, and the learned variants' margins over the paper's tree."""
    g = res.groupby("question")[list(COLUMNS)]
    mean, std = g.mean() * 100, g.std(ddof=0) * 100
    table = pd.DataFrame(index=mean.index)
    for c in COLUMNS:
        table[c] = [f"{m:.1f} +- {sd:.1f}" for m, sd in zip(mean[c], std[c], strict=True)]
    for v in ("learned", "learned_tree"):
        table[f"{v}-paper"] = (mean[v] - mean["paper"]).round(1)
    return table


def ours_protocols(ours: pd.DataFrame, seeds: int) -> dict[str, pd.DataFrame]:
    clean, noisy = ours[ours["noise"] == 0], ours[ours["noise"] > 0]
    tasks = sorted(clean["task"].unique())
    protocols = {
        "leave-one-task-out": [(clean[clean["task"] != t], clean[clean["task"] == t]) for t in tasks],
        # the largest size has no room for more data (every data_vs_batch label is batch or optimal there), and
        # the widest no room for width: each scale split leaves one question trivial, so both are reported
        "small -> large data": [(clean[clean["data"] < 3], clean[clean["data"] == 3])],
        "narrow -> wide": [(clean[clean["width_level"] < 2], clean[clean["width_level"] == 2])],
    }
    if len(noisy):
        protocols["clean -> label noise"] = [(clean, noisy)]
    return {
        name: pd.concat([folds_score(folds, q, seeds) for q in QUESTIONS], ignore_index=True)
        for name, folds in protocols.items()
    }


def released_protocols(clean: pd.DataFrame, seeds: int) -> dict[str, pd.DataFrame]:
    region = (clean["data"] > 5).astype(int) * 2 + (clean["width"] > 16).astype(int)
    small = clean["data"] <= 5
    protocols = {
        "leave-region-out": [(clean[region != r], clean[region == r]) for r in range(4)],
        "small <-> large data": [(clean[small], clean[~small]), (clean[~small], clean[small])],
    }
    return {
        name: pd.concat([folds_score(folds, q, seeds) for q in QUESTIONS], ignore_index=True)
        for name, folds in protocols.items()
    }


def across_collections(clean: pd.DataFrame, ours: pd.DataFrame, seeds: int) -> dict[str, pd.DataFrame]:
    ours_clean = ours[ours["noise"] == 0]
    pairs = {"released clean -> ours": [(clean, ours_clean)], "ours -> released clean": [(ours_clean, clean)]}
    return {
        name: pd.concat([folds_score(folds, q, seeds) for q in QUESTIONS], ignore_index=True)
        for name, folds in pairs.items()
    }


def collection_card(ours: pd.DataFrame) -> None:
    """Counts, label rates and metric cost of our collection (the numbers its data card quotes)."""
    print(f"rows {len(ours)}, tasks {ours['task'].nunique()}, modalities {ours['modality'].nunique()}, "
          f"grids {ours.groupby(['task', 'noise']).ngroups}, diverged {int(ours['diverged'].sum())}, "
          f"missing metrics {int(ours[list(FEATURES)].isna().any(axis=1).sum())}")  # fmt: skip
    for label in QUESTIONS.values():
        rates = ours.groupby("noise")[label].value_counts(normalize=True).unstack().round(3) * 100
        print(f"{label} rates (%) by noise level:\n{rates.to_string()}")
    cost = [c for c in ours.columns if c.startswith("cost_")]
    per = ours.groupby("modality")[["train_s", "metric_s", *cost]].mean()
    per.columns = [c.removeprefix("cost_").removesuffix("_s") for c in per.columns]
    print("mean seconds per cell (train_s: one seed's training; metric_s: all landscape metrics):")
    print(per.round(3).to_string())
    print(f"total compute: {ours.groupby(['task', 'noise'])['grid_s'].first().sum() / 60:.1f} min")


def held_out_cells(df: pd.DataFrame, seeds: int, n_cells: int) -> pd.DataFrame:
    rows = []
    for question in QUESTIONS:
        q = question_rows(df, question)
        cells = q[["data", "width"]].drop_duplicates().to_numpy()
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            pick = {tuple(c) for c in cells[rng.choice(len(cells), n_cells, replace=False)]}
            in_train = np.array([(d, w) in pick for d, w in zip(q["data"], q["width"], strict=True)])
            if q[in_train][QUESTIONS[question]].nunique() < 2:
                continue  # the paper's sampler also needs both classes; redraw by skipping this seed
            rows.append(
                {"question": question, "seed": seed, **evaluate(q[in_train], q[~in_train], question, seed)}
            )
    return pd.DataFrame(rows)


def region_transfer(df: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for question in QUESTIONS:
        q = question_rows(df, question)
        small = q["data"] <= 5
        for name, tr in (("small->large data", small), ("large->small data", ~small)):
            rows.append({"question": question, "split": name, **evaluate(q[tr], q[~tr], question, 0)})
    return pd.DataFrame(rows)


def timings() -> pd.DataFrame:
    from torch import nn

    from traindx.experiments.datasets import load
    from traindx.experiments.models import build_model
    from traindx.landscape import cka, hessian_top_eigenvalue, hessian_trace, mode_connectivity

    torch.set_num_threads(1)
    ds = load("mnist")
    x = torch.as_tensor(ds.x_train[:2000])
    y = torch.as_tensor(ds.y_train[:2000])
    loss = nn.functional.cross_entropy

    def train(seed: int) -> nn.Module:
        torch.manual_seed(seed)
        m = build_model("cnn_small", tuple(x.shape[1:]), 10)
        opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        for _ in range(2):
            for i in range(0, len(x), 50):
                opt.zero_grad()
                loss(m(x[i : i + 50]), y[i : i + 50]).backward()
                opt.step()
        return m

    a, b = train(0), train(1)
    batch = (x[:200], y[:200])
    rows = []

    def timed(name: str, fn, repeats: int = 3) -> None:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            value = fn()
            times.append(time.perf_counter() - t0)
        rows.append({"metric": name, "seconds": float(np.median(times)), "value": value})

    def grad_pass():
        a.zero_grad()
        loss(a(batch[0]), batch[1]).backward()
        return 0.0

    timed("one gradient (200 samples)", grad_pass)
    from traindx.landscape.hessian import _HessianOperator

    def hvps_reused(n: int = 20) -> float:
        op = _HessianOperator(a, loss, batch)  # gradient graph built once
        v = torch.randn(op.dim)
        for _ in range(n):
            v = op.matvec(v / v.norm())
        return float(v.norm())

    def hvps_rebuilt(n: int = 20) -> float:
        v = torch.randn(sum(p.numel() for p in a.parameters()))
        for _ in range(n):
            v = _HessianOperator(a, loss, batch).matvec(v / v.norm())  # forward + backward again each time
        return float(v.norm())

    timed("20 HVPs, gradient graph reused", hvps_reused)
    timed("20 HVPs, gradient graph rebuilt", hvps_rebuilt)
    timed("hessian_top_eigenvalue power", lambda: hessian_top_eigenvalue(a, loss, batch, method="power"))
    timed("hessian_top_eigenvalue lanczos", lambda: hessian_top_eigenvalue(a, loss, batch, method="lanczos"))
    timed(
        "hessian_trace hutchinson tol=1e-2",
        lambda: hessian_trace(a, loss, batch, method="hutchinson", tol=1e-2),
    )
    timed("hessian_trace hutch++ 60", lambda: hessian_trace(a, loss, batch, method="hutch++", max_probes=60))
    with torch.no_grad():
        timed("cka (2000 outputs)", lambda: cka(a(x), b(x)))
    timed("mode_connectivity linear", lambda: mode_connectivity(a, b, loss, (x, y), curve="linear").peak, 1)
    batches = [(x[i : i + 100], y[i : i + 100]) for i in range(0, len(x), 100)]
    timed(
        "mode_connectivity bezier 200 steps",
        lambda: mode_connectivity(a, b, loss, batches, steps=200).peak,
        1,
    )
    out = pd.DataFrame(rows)
    out["x gradient"] = out["seconds"] / out["seconds"].iloc[0]
    try:
        from pyhessian import hessian as pyh  # independent implementation, optional
    except ImportError:
        return out
    import warnings

    warnings.filterwarnings("ignore", message="Using backward")  # raised inside PyHessian
    comp = pyh(a.eval(), loss, data=batch, cuda=False)
    top = comp.eigenvalues(maxIter=100, tol=1e-4)[0][0]
    torch.manual_seed(0)
    trace = float(np.mean(comp.trace(maxIter=300, tol=0.0)))  # tol=0: all 300 probes, like ours below
    ours_top = hessian_top_eigenvalue(a, loss, batch, method="power")
    ours_trace = hessian_trace(a, loss, batch, method="hutchinson", min_probes=300, max_probes=300)
    exact_ish = hessian_trace(a, loss, batch, method="hutch++", max_probes=300)
    extra = [
        {"metric": "pyhessian top / ours (power)", "seconds": np.nan, "value": top / ours_top},
        {
            "metric": "pyhessian trace / ours (300 probes each)",
            "seconds": np.nan,
            "value": trace / ours_trace,
        },
        {
            "metric": "ours hutchinson / ours hutch++ (300)",
            "seconds": np.nan,
            "value": ours_trace / exact_ish,
        },
    ]
    out = pd.concat([out, pd.DataFrame(extra)], ignore_index=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", default=CSV, help="the released clean collection")
    parser.add_argument("--ours", default=OURS, help="our landscape collection (built CSV)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--skip-timings", action="store_true")
    parser.add_argument("--skip-cells", action="store_true", help="only the metric timings")
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    if args.skip_cells:
        print(timings().round(4).to_string(index=False))
        return
    clean = read_model_diagnosis_csv(args.csv)
    ours = read_model_diagnosis_csv(args.ours) if Path(args.ours).is_file() else None
    results: dict[str, pd.DataFrame] = {}
    if ours is not None:
        print("our landscape collection")
        collection_card(ours)
        results.update({f"ours, {k}": v for k, v in ours_protocols(ours, args.seeds).items()})
    results.update({f"released, {k}": v for k, v in released_protocols(clean, args.seeds).items()})
    if ours is not None:
        results.update(across_collections(clean, ours, args.seeds))
    for name, res in results.items():
        print(f"\n{name}: accuracy (%) mean +- std over {args.seeds} seeds (70% of the training rows each)")
        print(summarise(res).to_string())
    verdict(results)
    res = held_out_cells(clean, args.seeds, args.cells)
    print(f"\nreleased, held-out cells (within one collection): {args.cells} random (data, width) cells")
    print(summarise(res).to_string())
    if not args.skip_timings:
        print("\nlandscape metric timings, MNIST cnn_small, 2,000 training images, CPU 1 thread")
        print(timings().round(4).to_string(index=False))


def verdict(results: dict[str, pd.DataFrame]) -> None:
    """The acceptance rule: a learned variant ships only if it beats the paper's structure by >= 2 points mean,
    with no larger spread, on leave-one-task-out (ours) and leave-region-out (released), in every question."""
    keys = [k for k in ("ours, leave-one-task-out", "released, leave-region-out") if k in results]
    print("\nverdict (margin over the paper's structure in points; spread = std over seeds):")
    for v in ("learned", "learned_tree"):
        ok = len(keys) == 2
        for k in keys:
            g = results[k].groupby("question")
            margin = (g[v].mean() - g["paper"].mean()) * 100
            wider = g[v].std(ddof=0) > g["paper"].std(ddof=0) + 1e-12
            passed = bool((margin >= 2).all() and not wider.any())
            ok &= passed
            print(f"  {v} on {k}: margins {margin.round(1).to_dict()}, spread wider in "
                  f"{sorted(wider[wider].index)} -> {'passes' if passed else 'fails'}")  # fmt: skip
        print(f"  {v}: {'ships' if ok else 'does not ship'}")
    print("  default: the paper's structure unless a learned variant ships above")


if __name__ == "__main__":
    main()
