"""Benchmark of traindx.search on real MNIST and Fashion-MNIST trainings.

1. A pool of random configurations per dataset is trained for real (cached in a DuckDB run store).
2. Surrogate rank correlation within each dataset, leave-configurations-out (5-fold): Spearman and sparse
   Kendall (accuracies rounded to 0.1% first), for the forest, boosting and linear predictors.
3. Search: best validation accuracy after B real trainings, MetaSampler (warm-started from the OTHER dataset's
   pool only) vs Optuna's TPE vs random, median over seeds.
4. Scoring speed: 1M candidates featurized and scored by the default predictor.

Run (about 20 minutes on 2 busy cores):
    TRAINDX_MNIST_DIR=../shared/data/mnist .venv/bin/python benchmarks/search.py --pool 100 --seeds 3
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import torch
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from scipy.stats import kendalltau, spearmanr
from sklearn.model_selection import KFold

from traindx.experiments.runner import run_experiment, run_id
from traindx.search import MetaSampler, PerformancePredictor, sample_candidates, score_candidates, targets
from traindx.store import RunStore

torch.set_num_threads(1)
optuna.logging.set_verbosity(optuna.logging.WARNING)

DATASETS = ("mnist", "fashion_mnist")
SPACE = {
    "model": CategoricalDistribution(["logreg", "mlp_small", "mlp_large"]),
    "lr": FloatDistribution(1e-4, 0.3, log=True),
    "batch_size": IntDistribution(16, 256, log=True),
    "optimizer": CategoricalDistribution(["adam", "sgd"]),
    "weight_decay": FloatDistribution(1e-6, 1e-2, log=True),
    "activation": CategoricalDistribution(["relu", "tanh"]),
}
BASE = {"n_train": 2000, "val_size": 500, "eval_subset": 500, "epochs": 12, "seed": 0}
CACHE = Path(os.environ.get("TRAINDX_BENCH_STORE", ".traindx-cache/bench_search.duckdb"))


def train(store: RunStore, cfg: dict, done: set[str]) -> str:
    rid = run_id(cfg)
    if rid not in done:
        out = run_experiment(cfg)
        store.write_run(out["run"], out["epochs"])
        done.add(rid)
    return rid


def build_pool(n: int, store: RunStore) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Train ``n`` random configurations per dataset (cached); return {dataset: (runs, curves)}."""
    done = store.finished_ids()
    ids: dict[str, list[str]] = {}
    for ds in DATASETS:
        cand = sample_candidates(SPACE, n, base={**BASE, "dataset": ds}, seed=12345)
        ids[ds] = [train(store, cand.iloc[i].to_dict(), done) for i in range(n)]
    runs, curves = store.runs(), store.curves()
    runs = runs[runs["status"] == "finished"]
    return {
        ds: (
            runs[runs["run_id"].isin(ids[ds])].reset_index(drop=True),
            curves[curves["run_id"].isin(ids[ds])],
        )
        for ds in DATASETS
    }


def _config_key(runs: pd.DataFrame) -> pd.Series:
    return runs[list(SPACE)].astype(str).agg("|".join, axis=1)


def rank_correlation(
    runs: pd.DataFrame, curves: pd.DataFrame, model: str, other: tuple | None = None
) -> tuple[float, float]:
    """5-fold leave-configurations-out Spearman and sparse Kendall within one dataset.

    With ``other`` (another dataset's runs and curves), the predictor also learns from that dataset's runs,
    except those of the held-out configurations: a held-out configuration is unseen on every dataset.
    """
    y = targets(curves).loc[runs["run_id"], "final"].to_numpy()
    pred = np.empty_like(y)
    keys = _config_key(runs)
    for train_i, test_i in KFold(5, shuffle=True, random_state=0).split(runs):
        fit_runs, fit_curves = runs.iloc[train_i], curves
        if other is not None:
            extra = other[0][~_config_key(other[0]).isin(set(keys.iloc[test_i]))]
            fit_runs = pd.concat([fit_runs, extra], ignore_index=True)
            fit_curves = pd.concat([curves, other[1]], ignore_index=True)
        p = PerformancePredictor(model=model, n_estimators=30).fit(fit_runs, fit_curves)
        pred[test_i] = p.predict(runs.iloc[test_i])
    rho = spearmanr(pred, y).statistic
    tau = kendalltau(np.round(pred, 3), np.round(y, 3)).statistic
    return float(rho), float(tau)


def search(
    ds: str, method: str, seed: int, budget: int, warm, store: RunStore, done: set[str]
) -> list[float]:
    base = {**BASE, "dataset": ds}
    if method == "meta":
        sampler = MetaSampler(*warm, search_space=SPACE, base=base, seed=seed)
    elif method == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed)
    else:
        sampler = optuna.samplers.RandomSampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    results = targets(store.curves())["final"] if done else pd.Series(dtype=float)

    def objective(trial):
        cfg = {**base}
        for name, dist in SPACE.items():
            if isinstance(dist, CategoricalDistribution):
                cfg[name] = trial.suggest_categorical(name, dist.choices)
            elif isinstance(dist, IntDistribution):
                cfg[name] = trial.suggest_int(name, dist.low, dist.high, log=dist.log)
            else:
                cfg[name] = trial.suggest_float(name, dist.low, dist.high, log=dist.log)
        rid = run_id(cfg)
        if rid in results.index:
            return float(results[rid])
        out = run_experiment(cfg)
        store.write_run(out["run"], out["epochs"])
        done.add(rid)
        return float(out["epochs"]["val_acc"].iloc[-1]) if out["epochs"] is not None else 0.0

    study.optimize(objective, n_trials=budget)
    return list(np.maximum.accumulate([t.value for t in study.trials]))


def report_ranks_and_speed(pools) -> None:
    print("\n## rank correlation within dataset (5-fold, held-out configurations)")
    for ds, (runs, curves) in pools.items():
        other = pools[[d for d in DATASETS if d != ds][0]]
        for model in ("forest", "boosting", "linear"):
            rho, tau = rank_correlation(runs, curves, model)
            rho2, tau2 = rank_correlation(runs, curves, model, other)
            print(
                f"{ds:14s} {model:9s} spearman={rho:.3f} sparse_kendall={tau:.3f}  "
                f"(+ other dataset's runs of the training configurations: spearman={rho2:.3f} "
                f"sparse_kendall={tau2:.3f})"
            )
    for ds in DATASETS:
        other = [d for d in DATASETS if d != ds][0]
        p = PerformancePredictor(n_estimators=30).fit(*pools[other])
        y = targets(pools[ds][1]).loc[pools[ds][0]["run_id"], "final"]
        print(f"cross-dataset {other}->{ds}: spearman={spearmanr(p.predict(pools[ds][0]), y).statistic:.3f}")

    print("\n## scoring speed: 1M candidates (default predictor, 10 trees)")
    pred = PerformancePredictor().fit(*pools["mnist"])
    cand = sample_candidates(SPACE, 1_000_000, base={**BASE, "dataset": "mnist"}, seed=0)
    small = cand.iloc[:10_000]
    for rep in range(3):
        t1 = time.perf_counter()
        score_candidates(pred, small, top=10)
        t2 = time.perf_counter()
        score_candidates(pred, cand, top=10)
        t3 = time.perf_counter()
        ratio = (t3 - t2) / (t2 - t1)
        print(f"rep {rep}: 1M scored in {t3 - t2:.2f}s; 10k in {t2 - t1:.3f}s (ratio {ratio:.0f}x)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pool", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=20)
    ap.add_argument("--skip-search", action="store_true")
    ap.add_argument("--skip-ranks", action="store_true", help="search only")
    ap.add_argument("--search-datasets", nargs="+", default=list(DATASETS))
    args = ap.parse_args()
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    store = RunStore(CACHE)
    t0 = time.perf_counter()
    pools = build_pool(args.pool, store)
    print(f"pool: {[len(p[0]) for p in pools.values()]} runs, {time.perf_counter() - t0:.0f}s")
    if not args.skip_ranks:
        report_ranks_and_speed(pools)
    if args.skip_search:
        return
    print(
        f"\n## search: best val acc after B trials, median over {args.seeds} seeds (warm start: other dataset)"
    )
    done = store.finished_ids()
    for ds in args.search_datasets:
        other = [d for d in DATASETS if d != ds][0]
        curves_by_method = {}
        for method in ("meta", "tpe", "random"):
            curves_by_method[method] = [
                search(ds, method, s, args.budget, pools[other], store, done) for s in range(args.seeds)
            ]
        for b in sorted({min(10, args.budget), args.budget}):
            meds = {m: float(np.median([c[b - 1] for c in cs])) for m, cs in curves_by_method.items()}
            line = " ".join(f"{m}={v:.4f}" for m, v in meds.items())
            print(f"{ds:14s} B={b:2d} {line}  meta-tpe={meds['meta'] - meds['tpe']:+.4f}", flush=True)
    print(f"total {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
