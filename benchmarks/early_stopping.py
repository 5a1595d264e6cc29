"""Benchmark of early stopping by replaying recorded learning curves (the same runs for every method).

Each seed shuffles one dataset's runs into a sequence of trials, as a tuning study would see them. Every method
decides, epoch by epoch, whether to stop the current trial; a stopped trial keeps its best-validation epoch.
The study selects the trial with the best kept validation accuracy. Reported per method:

- epochs saved: 1 - epochs trained / epochs of the full runs;
- regret: test accuracy (points) of the model a full-training study selects minus that of the model this
  method selects (selection by validation accuracy in both cases).

Methods: full training; patience-5 (restore best); Optuna MedianPruner and HyperbandPruner; tdx.EarlyStopping
(per run, prefix predictor fitted on the OTHER dataset's runs only); MetaPruner (same predictor); and both.

Run (after benchmarks/search.py has built its pool, or with --corpus pointing to corpus Parquet files):
    .venv/bin/python benchmarks/early_stopping.py --seeds 5

``--frontier PLOT.png`` traces savings against regret for every method over the settings users turn
(patience 2-8; MedianPruner warm-up; PercentilePruner 25-90; SuccessiveHalving min resource and reduction
factor; Hyperband reduction factor; MetaPruner alpha) on the same replays and draws the frontier:
    .venv/bin/python benchmarks/early_stopping.py --corpus src/traindx/data/corpus --seeds 3 \\
        --frontier benchmarks/early_stopping_frontier.png
and ``--user-pools`` does the same on the PMLB pools of ``benchmarks/search.py --space user`` (tasks the
shipped corpus never saw) with the predictor ``MetaPruner()`` fits by default.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import torch

import traindx as tdx
from traindx.experiments.runner import run_id
from traindx.search import MetaPruner, PerformancePredictor, load_corpus, sample_candidates
from traindx.store import RunStore

torch.set_num_threads(1)
optuna.logging.set_verbosity(optuna.logging.WARNING)
DATASETS = ("mnist", "fashion_mnist")
CACHE = Path(os.environ.get("TRAINDX_BENCH_STORE", ".traindx-cache/bench_search.duckdb"))


METHODS = ("full", "patience5", "median", "hyperband", "early_stopping", "meta_pruner", "es+meta_pruner")


def load_pools(corpus: str | None, n_pool: int) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """The corpus, or the random pool of benchmarks/search.py (not its search trials)."""
    if corpus:
        out = {}
        for ds in DATASETS:
            runs, curves = load_corpus(ds, corpus)
            # regret is measured on test accuracy: keep runs whose test set is not shifted away from validation
            if "shift" in runs:
                runs = runs[runs["shift"] == "none"].reset_index(drop=True)
            out[ds] = (runs, curves[curves["run_id"].isin(runs["run_id"])])
        return out
    from search import BASE, SPACE

    ids = {
        run_id(c)
        for ds in DATASETS
        for c in sample_candidates(SPACE, n_pool, base={**BASE, "dataset": ds}, seed=12345).to_dict("records")
    }
    store = RunStore(CACHE)
    runs, curves = store.runs(), store.curves()
    runs = runs[(runs["status"] == "finished") & runs["run_id"].isin(ids)]
    return {
        ds: (r := runs[runs["dataset"] == ds].reset_index(drop=True), curves[curves.run_id.isin(r.run_id)])
        for ds in DATASETS
    }


def replay(
    method: str,
    runs: pd.DataFrame,
    curves: dict,
    pred,
    seed: int,
    alpha: float = 0.05,
    pruner=None,
    patience: int | None = None,
) -> tuple[int, int, float, float]:
    """Returns (epochs trained, epochs in full, selected trial's test acc, full-study selection's test acc).

    ``alpha`` is the MetaPruner's threshold on P(beat the best finished trial); ``pruner`` (an Optuna pruner)
    and ``patience`` replace the method's own settings (the frontier sweeps them).
    """
    order = np.random.default_rng(seed).permutation(len(runs))
    if pruner is None:
        pruner = {
            "median": optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2),
            "hyperband": optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3),
        }.get(method)
    if method in ("meta_pruner", "es+meta_pruner"):
        pruner = MetaPruner(pred, n_warmup_steps=2, alpha=alpha)
    study = optuna.create_study(direction="maximize", pruner=pruner or optuna.pruners.NopPruner())
    used = total = 0
    kept: list[tuple[float, float]] = []  # (kept val acc, its test acc)
    full: list[tuple[float, float]] = []
    for i in order:
        row = runs.iloc[i]
        val, test = curves[row.run_id]
        total += len(val)
        b = int(np.argmax(val))
        full.append((val[b], test[b]))
        cfg = {k: row[k] for k in runs.columns if k not in ("run_id",)}
        es = None
        if method in ("patience5",) or patience is not None:
            es = tdx.EarlyStopping(patience=patience or 5, min_epochs=1)
        elif method in ("early_stopping", "es+meta_pruner"):
            es = tdx.EarlyStopping(predictor=pred, config=cfg)
        trial = study.ask()
        if isinstance(pruner, MetaPruner):
            pruner.base = cfg
        stop = len(val)
        for e in range(len(val)):
            trial.report(float(val[e]), e + 1)
            if es is not None and es.update(e + 1, val_acc=float(val[e])):
                stop = e + 1
                break
            if pruner is not None and trial.should_prune():
                stop = e + 1
                break
        used += stop
        kb = int(np.argmax(val[:stop]))
        kept.append((val[kb], test[kb]))
        if stop < len(val) and es is None:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, float(val[kb]))
    sel = max(kept, key=lambda t: t[0])
    ref = max(full, key=lambda t: t[0])
    return used, total, sel[1], ref[1]


def ceiling(runs: pd.DataFrame, curves: dict, pred, ks=(2, 3, 4)) -> None:
    """How far any calibration of ``pred`` could take a Domhan-style pruner on these runs.

    Per prefix length k: the predictor's error (bias and scatter) against each run's true best validation
    accuracy, then the residual std of a 10-fold cross-validated linear refit of the truth on (prediction,
    current accuracy), knowledge no study has while it runs, and the share of runs with P(beat the pool's best)
    < 0.05 under that refit.
    """
    from scipy.stats import norm
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import cross_val_predict

    cfgs = runs.drop(columns=["run_id"])
    best = np.array([curves[r][0].max() for r in runs["run_id"]])
    top = best.max()
    for k in ks:
        cur = np.array([curves[r][0][k - 1] for r in runs["run_id"]])
        p = pred.predict_prefix(cfgs, [curves[r][0][:k] for r in runs["run_id"]])
        err = p - best
        feats = np.column_stack([p, cur])
        refit = cross_val_predict(LinearRegression(), feats, best, cv=10)
        sd = float(np.std(best - refit))
        prunable = float(np.mean(norm.sf(top, refit, max(sd, 0.013)) < 0.05))
        print(
            f"  k={k}: predictor error mean {err.mean():+.3f} std {err.std():.3f}; refit residual std {sd:.3f}, "
            f"P(beat best) < 0.05 for {prunable:.0%} of runs"
        )


def frontier_settings() -> list[tuple[str, str, dict]]:
    """(family, label, replay keyword arguments) of every point on the savings-vs-regret frontier: each
    method over the settings its users turn (Optuna's defaults included)."""
    P = optuna.pruners
    out = [("full", "full", {"method": "full"})]
    out += [("patience", f"patience {k}", {"method": "full", "patience": k}) for k in (2, 3, 5, 8)]
    out += [
        ("MedianPruner", f"median warmup {w}", {"method": "x", "pruner": P.MedianPruner(5, w)})
        for w in (1, 2, 4)
    ]
    out += [
        ("PercentilePruner", f"percentile {q}", {"method": "x", "pruner": P.PercentilePruner(q, 5, 2)})
        for q in (25.0, 75.0, 90.0)
    ]
    out += [
        (
            "SuccessiveHalving",
            f"SHA r={r} eta={e}",
            {"method": "x", "pruner": P.SuccessiveHalvingPruner(r, e)},
        )
        for r in (1, 2)
        for e in (2, 3, 4)
    ]
    out += [
        ("Hyperband", f"hyperband eta={e}", {"method": "x", "pruner": P.HyperbandPruner(1, "auto", e)})
        for e in (2, 3, 4)
    ]
    out += [
        ("MetaPruner", f"meta alpha={a}", {"method": "meta_pruner", "alpha": a}) for a in (0.05, 0.2, 0.5)
    ]
    return out


def held_out(pools: dict, ds: str) -> tuple[str, PerformancePredictor, pd.DataFrame, dict]:
    """(the other dataset, a prefix predictor fitted on it only, ``ds``'s runs, their val/test curves)."""
    other = [d for d in DATASETS if d != ds][0]
    pred = PerformancePredictor(prefix=True, target="best", n_estimators=30).fit(*pools[other])
    runs, c = pools[ds]
    c = c.sort_values(["run_id", "epoch"])
    curves = {rid: (g.val_acc.to_numpy(float), g.test_acc.to_numpy(float)) for rid, g in c.groupby("run_id")}
    return other, pred, runs, curves


def frontier(panels: list[tuple[str, str, list]], seeds: int, plot: Path) -> None:
    """Savings vs regret of every setting on the same replays, printed and drawn to ``plot`` (PNG).

    ``panels``: (name, how its predictor was fitted, [(runs, curves, predictor), ...]); a panel of several
    tasks sums epochs over them and averages regret over tasks and shuffles.
    """
    points = []
    for panel, how, sets in panels:
        print(f"\n## frontier on {panel} ({how}), {seeds} shuffles", flush=True)
        print(f"{'setting':22s} {'epochs_saved':>12s} {'regret_pts(mean)':>16s} {'regret_pts(max)':>15s}")
        for family, label, kw in frontier_settings():
            kw = dict(kw)
            proto = kw.pop("pruner", None)
            res = []
            for runs, curves, pred in sets:
                for s in range(seeds):
                    fresh = None if proto is None else _fresh(proto)
                    res.append(replay(runs=runs, curves=curves, pred=pred, seed=s, pruner=fresh, **kw))
            saved = 1 - sum(r[0] for r in res) / sum(r[1] for r in res)
            regret = [100 * (r[3] - r[2]) for r in res]
            points.append((panel, family, label, saved, float(np.mean(regret))))
            print(f"{label:22s} {saved:12.1%} {np.mean(regret):16.2f} {np.max(regret):15.2f}", flush=True)
        table = pd.DataFrame(points, columns=["dataset", "family", "label", "saved", "regret"])
        t = table[table["dataset"] == panel]
        med = t[t["label"] == "median warmup 2"].iloc[0]
        meta = t[t["family"] == "MetaPruner"]
        dom = meta[(meta["saved"] >= med["saved"]) & (meta["regret"] <= med["regret"])]
        print(
            f"MetaPruner settings dominating MedianPruner (warmup 2) on {panel}: "
            f"{', '.join(dom['label']) if len(dom) else 'none'}"
        )
    _plot(pd.DataFrame(points, columns=["dataset", "family", "label", "saved", "regret"]), plot, panels)


def corpus_panels(pools: dict) -> list[tuple[str, str, list]]:
    out = []
    for ds in DATASETS:
        other, pred, runs, curves = held_out(pools, ds)
        out.append((ds, f"predictor fitted on {other} only", [(runs, curves, pred)]))
    return out


def user_panels() -> list[tuple[str, str, list]]:
    """The PMLB pools of ``benchmarks/search.py --space user``, with the predictor MetaPruner() fits by
    default: on the shipped corpus, which holds none of these tasks (nor tables at all)."""
    from search import USER_CACHE

    from traindx.search import load_corpus

    pred = PerformancePredictor(prefix=True, target="best").fit(*load_corpus())
    runs, curves = RunStore(USER_CACHE, read_only=True).read()
    runs = runs[runs["status"] == "finished"]
    sets = []
    for _, r in runs.groupby("dataset"):
        r = r.reset_index(drop=True)
        c = curves[curves["run_id"].isin(r["run_id"])].sort_values(["run_id", "epoch"])
        cur = {rid: (g.val_acc.to_numpy(float), g.test_acc.to_numpy(float)) for rid, g in c.groupby("run_id")}
        sets.append(
            (r.drop(columns=[k for k in r.columns if k.endswith("seconds") or k == "error"]), cur, pred)
        )
    return [(f"{len(sets)} PMLB tasks", "MetaPruner()'s predictor: shipped corpus, no table task", sets)]


def _fresh(pruner):
    """A new pruner with the same settings (Optuna pruners keep per-study state)."""
    import copy

    return copy.deepcopy(pruner)


def _plot(table: pd.DataFrame, path: Path, panels: list) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no frontier plot (pip install matplotlib)")
        return
    datasets = list(dict.fromkeys(table["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.5), squeeze=False)
    for ax, ds in zip(axes[0], datasets, strict=True):
        t = table[table["dataset"] == ds]
        for family, g in t.groupby("family", sort=False):
            g = g.sort_values("saved")
            ax.plot(100 * g["saved"], g["regret"], marker="o", label=family)
        ax.set_title(f"{ds}: {dict((p[0], p[1]) for p in panels)[ds]}", fontsize=9)
        ax.set_xlabel("epochs saved (%)")
        ax.set_ylabel("regret (test accuracy points, mean over shuffles)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"frontier plot: {path}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--corpus", default=None, help="folder with <dataset>_runs/_epochs.parquet")
    ap.add_argument("--pool", type=int, default=100, help="pool size used by benchmarks/search.py")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of the methods")
    ap.add_argument("--ceiling", action="store_true", help="also print how far calibration could go")
    ap.add_argument(
        "--alphas",
        default="",
        help="comma-separated MetaPruner alphas to trace its savings/regret frontier (default alpha: 0.05)",
    )
    ap.add_argument("--frontier", type=Path, default=None, help="trace the frontier, draw it to this PNG")
    ap.add_argument(
        "--user-pools", action="store_true", help="frontier on the PMLB pools of search.py --space user"
    )
    args = ap.parse_args()
    pools = {} if args.user_pools else load_pools(args.corpus, args.pool)
    if args.frontier is not None:
        panels = user_panels() if args.user_pools else corpus_panels(pools)
        frontier(panels, args.seeds, args.frontier)
        return
    methods = args.methods.split(",")
    unknown = set(methods) - set(METHODS)
    if unknown:
        ap.error(f"unknown methods {sorted(unknown)}; choose from {', '.join(METHODS)}")
    print(f"runs: {{{', '.join(f'{d}: {len(p[0])}' for d, p in pools.items())}}}")
    for ds in DATASETS:
        other, pred, runs, curves = held_out(pools, ds)
        print(f"\n## {ds} (predictor fitted on {other} only), {args.seeds} shuffles")
        if args.ceiling:
            ceiling(runs, curves, pred)
        print(f"{'method':16s} {'epochs_saved':>12s} {'regret_pts(mean)':>16s} {'regret_pts(max)':>15s}")
        rows = [(m, m, 0.05) for m in methods]
        rows += [(f"meta alpha={a}", "meta_pruner", float(a)) for a in args.alphas.split(",") if a]
        for name, m, alpha in rows:
            res = [replay(m, runs, curves, pred, s, alpha=alpha) for s in range(args.seeds)]
            saved = 1 - sum(r[0] for r in res) / sum(r[1] for r in res)
            regret = [100 * (r[3] - r[2]) for r in res]
            print(f"{name:16s} {saved:12.1%} {np.mean(regret):16.2f} {np.max(regret):15.2f}")


if __name__ == "__main__":
    main()
