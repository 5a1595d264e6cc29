"""Benchmark of traindx.search on real MNIST and Fashion-MNIST trainings.

1. A pool of random configurations per dataset is trained for real (cached in a DuckDB run store).
2. Surrogate rank correlation within each dataset, leave-configurations-out (5-fold): Spearman and sparse
   Kendall (accuracies rounded to 0.1% first), for the forest, boosting and linear predictors.
3. Search: best validation accuracy after B real trainings, MetaSampler (warm-started from the OTHER dataset's
   pool only) vs Optuna's TPE vs random, median over seeds.
4. Scoring speed: 1M candidates featurized and scored by the default predictor.

Run (about 20 minutes on 2 busy cores):
    TRAINDX_MNIST_DIR=../shared/data/mnist .venv/bin/python benchmarks/search.py --pool 100 --seeds 3

``--space user``: a user's own 7-parameter MLP space (learning_rate, num_layers, max_units, dropout, batch_size,
weight_decay, momentum: names the shipped corpus never uses) on small PMLB tasks of the task layer. Each task's
pool of random configurations is trained for real once (cached in a DuckDB store); a study is then replayed on
the pool: a proposal scores the validation accuracy of the pool configuration nearest to it (unit cube, log
scale where the distribution is log). Scores are normalised per task so that 0 is the pool's median and 1 its
best. Methods: MetaSampler as a new user gets it (shipped corpus only), with no knowledge at all, and
warm-started from the pools of the user's OTHER tasks in the same space (leave-task-out); TPE and random.
    OMP_NUM_THREADS=1 TRAINDX_DATA_DIR=../shared/data .venv/bin/python benchmarks/search.py --space user

``--space tasks``: leave-task-out on the shipped many-task corpus, in the corpus's own search space (each
setting's levels in the design: effective learning rate, weight decay, dropout, width, batch size, epochs,
optimizer, schedule). A held-out task's distinct settings rows are its pool (value: the mean over seeds of the
final validation accuracy, the data conditions' factorial main effects removed); a proposal is answered by the
nearest pool row(s) (level index scaled to [0, 1], categorical levels 0/1, ties averaged). MetaSampler learns
from the corpus minus the held-out task. Tasks alternate in name order between a design set (used to choose
the design) and a report set (``--task-set report``, the numbers to quote). ``--predictor``: the
PerformancePredictor's leave-task-out rank agreement and interval coverage on the corpus instead;
``--predictor-families``: the same agreement for other estimator families and seed-averaged targets.
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/search.py --space tasks --task-set report --seeds 3 --budget 50

``--space speed``: 1M-candidate scoring and sample_relative timing, MetaSampler vs TPE in the same run with a
TPE A/A control; needs only the shipped corpus (under a minute):
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/search.py --space speed
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
from traindx.search import (
    MetaSampler,
    PerformancePredictor,
    TransferSurrogate,
    featurize_configs,
    knowledge,
    sample_candidates,
    score_candidates,
    targets,
)
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


# --- the user's own space on PMLB tasks -------------------------------------------------------------------
USER_SPACE = {
    "learning_rate": FloatDistribution(1e-4, 0.3, log=True),
    "num_layers": IntDistribution(1, 4),
    "max_units": IntDistribution(8, 256, log=True),
    "dropout": FloatDistribution(0.0, 0.5),
    "batch_size": IntDistribution(16, 256, log=True),
    "weight_decay": FloatDistribution(1e-6, 1e-2, log=True),
    "momentum": FloatDistribution(0.0, 0.95),
}
USER_CACHE = Path(os.environ.get("TRAINDX_BENCH_USER_STORE", ".traindx-cache/bench_search_user.duckdb"))
USER_EPOCHS = 10


def user_tasks(n_tasks: int, offset: int = 0) -> list[str]:
    """Small PMLB tasks by a fixed rule (200-1000 training rows, <= 50 features), spread over name order:
    every ``len // n_tasks``-th from ``offset`` (offset 0 is the report set; 1 and up give disjoint design
    sets)."""
    import traindx as tdx

    small = []
    for name in tdx.tasks.list("tabular"):
        if tdx.tasks.info(name).source != "pmlb":
            continue
        t = tdx.tasks.load(name)
        if 200 <= t.n_train <= 1000 and t.input_shape[0] <= 50:
            small.append(name)
    step = max(1, len(small) // n_tasks)
    return small[offset % step :: step][:n_tasks]


def user_config(task: str, n: int, params: dict) -> dict:
    """The runner's config of a user-space trial (the user's names mapped onto the runner's)."""
    n_train = int(0.6 * n)
    return {
        "dataset": task, "model": "mlp", "optimizer": "sgd", "epochs": USER_EPOCHS, "seed": 0,
        "n_train": n_train, "val_size": n - n_train, "eval_subset": n,
        "lr": float(params["learning_rate"]), "depth": int(params["num_layers"]),
        "width": int(params["max_units"]), "dropout": float(params["dropout"]),
        "batch_size": int(params["batch_size"]), "weight_decay": float(params["weight_decay"]),
        "momentum": float(params["momentum"]),
    }  # fmt: skip


def user_pools(tasks: list[str], n_pool: int) -> dict[str, pd.DataFrame]:
    """Per task: ``n_pool`` random user-space configurations and their validation accuracy (trained once)."""
    import traindx as tdx

    USER_CACHE.parent.mkdir(parents=True, exist_ok=True)
    store = RunStore(USER_CACHE)
    done = store.finished_ids()
    out = {}
    for ti, task in enumerate(tasks):
        n = tdx.tasks.load(task).n_train
        cand = sample_candidates(USER_SPACE, n_pool, seed=2024)
        ids = []
        t0 = time.perf_counter()
        for i in range(n_pool):
            ids.append(train(store, user_config(task, n, cand.iloc[i].to_dict()), done))
        print(
            f"pool {ti + 1}/{len(tasks)} {task}: {n_pool} runs, {time.perf_counter() - t0:.0f}s", flush=True
        )
        acc = targets(store.curves()).reindex(ids)["final"].to_numpy()
        out[task] = cand.assign(value=np.nan_to_num(acc, nan=0.0))
    return out


def user_space_predictor(tasks: list[str], n_pool: int) -> None:
    """Leave-task-out PerformancePredictor on the pools' run table (the runner's own config columns)."""
    from traindx.search import leave_task_out

    runs, curves = RunStore(USER_CACHE, read_only=True).read()
    runs = runs[(runs["status"] == "finished") & runs["dataset"].isin(tasks)].reset_index(drop=True)
    print(f"\n## predictor, leave-task-out over the {len(tasks)} pools ({len(runs)} runs)")
    for model in ("forest", "boosting"):
        table = leave_task_out(runs, curves, PerformancePredictor(model=model, n_estimators=30))
        med = table.median(numeric_only=True)
        print(
            f"{model:9s} median over tasks: spearman={med['spearman']:.3f} "
            f"sparse_kendall={med['sparse_kendall']:.3f} coverage80={med['coverage']:.2f}"
        )
        print(
            "          per task: "
            + " ".join(f"{t}={r:.2f}" for t, r in zip(table.task, table.spearman, strict=True))
        )


def _unit(table: pd.DataFrame) -> np.ndarray:
    cols = []
    for name, d in USER_SPACE.items():
        x = table[name].to_numpy(dtype=float)
        lo, hi = float(d.low), float(d.high)
        if d.log:
            x, lo, hi = np.log(x), np.log(lo), np.log(hi)
        cols.append((x - lo) / (hi - lo))
    return np.column_stack(cols)


def replay(pool: pd.DataFrame, sampler, budget: int) -> list[float]:
    """Best-so-far normalised score of a study replayed on the pool (nearest pool configuration)."""
    U = _unit(pool)
    vals = pool["value"].to_numpy()
    med, best = float(np.median(vals)), float(vals.max())

    def objective(trial):
        params = {}
        for name, d in USER_SPACE.items():
            if isinstance(d, IntDistribution):
                params[name] = trial.suggest_int(name, d.low, d.high, log=d.log)
            else:
                params[name] = trial.suggest_float(name, d.low, d.high, log=d.log)
        u = _unit(pd.DataFrame([params]))[0]
        return float(vals[int(np.argmin(((U - u) ** 2).sum(1)))])

    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=budget)
    raw = np.maximum.accumulate([t.value for t in study.trials])
    return list((raw - med) / max(best - med, 1e-9))


def user_space_benchmark(args) -> None:
    t0 = time.perf_counter()
    tasks = user_tasks(args.tasks, args.task_offset)
    print(f"tasks ({len(tasks)}): {', '.join(tasks)}")
    pools = user_pools(tasks, args.pool)
    print(f"pools ready in {time.perf_counter() - t0:.0f}s")
    user_space_predictor(tasks, args.pool)
    if args.skip_search:
        return
    budgets = sorted({20, args.budget})
    methods = ("meta_cold", "meta_none", "meta_warm", "tpe", "random")
    curves: dict[str, list[list[float]]] = {m: [] for m in methods}
    rows = []
    for task in tasks:
        others = [
            knowledge.Source(o, p[list(USER_SPACE)], p["value"].rank(pct=True).to_numpy())
            for o, p in pools.items()
            if o != task
        ]
        for seed in range(args.seeds):
            samplers = {
                "meta_cold": MetaSampler(search_space=USER_SPACE, base={"dataset": task}, seed=seed),
                "meta_none": MetaSampler(search_space=USER_SPACE, knowledge=[], task=task, seed=seed),
                "meta_warm": MetaSampler(search_space=USER_SPACE, knowledge=others, task=task, seed=seed),
                "tpe": optuna.samplers.TPESampler(seed=seed),
                "random": optuna.samplers.RandomSampler(seed=seed),
            }
            for m, sampler in samplers.items():
                c = replay(pools[task], sampler, max(budgets))
                curves[m].append(c)
                rows.append({"task": task, "seed": seed, "method": m, **{f"B{b}": c[b - 1] for b in budgets}})
        print(f"{task}: done ({time.perf_counter() - t0:.0f}s)", flush=True)
    table = pd.DataFrame(rows)
    print(f"\n## user space on {len(tasks)} PMLB tasks, {args.seeds} seeds: normalised best (0 = pool median, "
          "1 = pool best), median over tasks of the per-task median over seeds")  # fmt: skip
    per_task = table.groupby(["method", "task"]).median(numeric_only=True)
    for b in budgets:
        meds = {m: float(per_task.loc[m, f"B{b}"].median()) for m in methods}
        wins = {m: int((per_task.loc[m, f"B{b}"] >= per_task.loc["random", f"B{b}"]).sum()) for m in methods}
        line = " ".join(f"{m}={v:.3f}" for m, v in meds.items())
        print(f"B={b:2d} {line}")
        print("      tasks where >= random: " + " ".join(f"{m}={wins[m]}/{len(tasks)}" for m in methods))
    print(per_task[f"B{min(budgets)}"].unstack("method")[list(methods)].round(3).to_string())
    print(f"total {time.perf_counter() - t0:.0f}s")
    if not args.skip_speed:
        speed_benchmark(args)


# --- the corpus's own space, leave-task-out on the many-task corpus -----------------------------------------
def corpus_task_pools() -> dict[str, pd.DataFrame]:
    """Per task of the shipped many-task corpus: its distinct settings rows (the corpus's own search space) and
    their value, the mean over seeds of the final validation accuracy with the data conditions' factorial
    main effects removed (:func:`traindx.search.knowledge.remove_condition_effects`)."""
    from traindx.search.corpus import MANY_TASK, load_corpus

    runs, curves = load_corpus(MANY_TASK)
    runs = runs[runs["status"] == "finished"].reset_index(drop=True)
    t = targets(curves)
    runs = runs[runs["run_id"].isin(t.index)].reset_index(drop=True)
    y = knowledge.remove_condition_effects(runs, t.loc[runs["run_id"], "final"].to_numpy(dtype=float))
    table = knowledge.corpus_settings(runs).assign(dataset=runs["dataset"].to_numpy(), value=y)
    cols = list(knowledge.CORPUS_SETTINGS)
    out = {}
    for task, g in table.groupby("dataset", sort=True):
        out[str(task)] = g.groupby(cols, as_index=False)["value"].mean()
    return out


def corpus_task_space(pool: pd.DataFrame) -> dict:
    """The corpus's own search space on one task: each setting's levels in the design (width: the task's
    model family's capacities)."""
    space = {}
    for col in knowledge.CORPUS_SETTINGS:
        levels = sorted(pool[col].unique().tolist())
        if len(levels) > 1:
            space[col] = CategoricalDistribution(levels)
    return space


def corpus_replay(pool: pd.DataFrame, space: dict, sampler, budget: int) -> list[float]:
    """Best-so-far value of a study replayed on a task's pool: a proposal is answered by the pool row(s)
    nearest to it (each setting's level index scaled to [0, 1]; ties averaged)."""
    names = list(space)
    index = {
        n: {v: i / max(len(space[n].choices) - 1, 1) for i, v in enumerate(space[n].choices)} for n in names
    }
    ordinal = {n: all(isinstance(c, (int, float)) for c in space[n].choices) for n in names}
    U = np.column_stack([pool[n].map(index[n]).to_numpy(dtype=float) for n in names])
    vals = pool["value"].to_numpy()

    def objective(trial):
        u = np.array([index[n][trial.suggest_categorical(n, space[n].choices)] for n in names])
        diff = np.abs(U - u)
        for j, n in enumerate(names):
            if not ordinal[n]:
                diff[:, j] = (diff[:, j] > 0).astype(float)
        d = (diff**2).sum(1)
        return float(vals[d <= d.min() + 1e-12].mean())

    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=budget)
    return list(np.maximum.accumulate([t.value for t in study.trials]))


def corpus_task_sampler(method: str, space: dict, held_out: list, task_meta: dict, seed: int):
    if method == "meta":
        return MetaSampler(search_space=space, knowledge=held_out, task=task_meta, seed=seed)
    if method == "meta_none":
        return MetaSampler(search_space=space, knowledge=[], seed=seed)
    if method == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def corpus_tasks_split(tasks: list[str]) -> tuple[list[str], list[str]]:
    """Design tasks and report tasks: alternate in name order (fixed before any result was seen)."""
    return tasks[0::2], tasks[1::2]


def corpus_tasks_predictor(report: list[str]) -> None:
    """Leave-task-out PerformancePredictor on the many-task corpus: fitted on every other task's runs, scored
    on the held-out task's runs (within-task Spearman, sparse Kendall, 80% interval coverage)."""
    from traindx.search import leave_task_out
    from traindx.search.corpus import MANY_TASK, load_corpus

    t0 = time.perf_counter()
    runs, curves = load_corpus(MANY_TASK)
    runs = runs[runs["status"] == "finished"].reset_index(drop=True)
    table = leave_task_out(runs, curves, PerformancePredictor()).merge(seed_ceiling(runs, curves), on="task")
    print(f"\n## predictor (PerformancePredictor(), forest), leave-task-out over the corpus's "
          f"{runs['dataset'].nunique()} tasks ({len(runs)} runs, {time.perf_counter() - t0:.0f}s)")  # fmt: skip
    design = table[~table.task.isin(report)]
    for name, part in (("design tasks", design), ("report tasks", table[table.task.isin(report)]), ("all tasks", table)):  # fmt: skip
        med = part.median(numeric_only=True)
        print(
            f"{name:12s} ({len(part)}): median spearman={med['spearman']:.3f} "
            f"sparse_kendall={med['sparse_kendall']:.3f} coverage80={med['coverage']:.2f} "
            f"seed_vs_seed={med['seed_spearman']:.3f} ceiling={med['ceiling']:.3f}"
        )
    print("per task: " + " ".join(f"{t}={r:.2f}" for t, r in zip(table.task, table.spearman, strict=True)))


def corpus_tasks_predictor_families(report: list[str]) -> None:
    """Does the estimator family or a seed-averaged target move the leave-task-out rank agreement? Features
    are computed once (PerformancePredictor's, with landmarkers); each family learns within-task z-scores
    of the final validation accuracy, from single runs (``z``) or from each configuration's mean over its
    seeds (``zmean``), and is scored on the held-out task against single runs and against seed means."""
    from sklearn.ensemble import ExtraTreesRegressor, HistGradientBoostingRegressor, RandomForestRegressor

    from traindx.search.corpus import MANY_TASK, load_corpus

    runs, curves = load_corpus(MANY_TASK)
    runs = runs[runs["status"] == "finished"].reset_index(drop=True)
    t = targets(curves)
    runs = runs[runs["run_id"].isin(t.index)].reset_index(drop=True)
    y = t.loc[runs["run_id"], "final"].to_numpy(dtype=float)
    X = featurize_configs(runs, True)
    task = runs["dataset"].astype(str).to_numpy()
    cols = [c for c in runs.columns if c not in NOT_CONFIG]
    key = pd.util.hash_pandas_object(runs[cols], index=False).to_numpy()
    frame = pd.DataFrame({"task": task, "key": key, "y": y})
    z = frame.groupby("task")["y"].transform(lambda s: (s - s.mean()) / (s.std(ddof=0) + 1e-9)).to_numpy()
    z_targets = {"z": z, "zmean": pd.Series(z).groupby(key).transform("mean").to_numpy()}
    seed_mean = frame.groupby("key")["y"].transform("mean").to_numpy()
    families = {
        "forest 30 (default)": lambda: RandomForestRegressor(
            30, min_samples_leaf=2, random_state=0, n_jobs=1
        ),
        "forest 100, leaf 5, half features": lambda: RandomForestRegressor(
            100, min_samples_leaf=5, max_features=0.5, random_state=0, n_jobs=1
        ),
        "extra trees 100, leaf 3": lambda: ExtraTreesRegressor(
            100, min_samples_leaf=3, random_state=0, n_jobs=1
        ),
        "hist boosting 300": lambda: HistGradientBoostingRegressor(
            max_iter=300, learning_rate=0.05, min_samples_leaf=20, random_state=0
        ),
    }
    tasks = sorted(np.unique(task))
    is_report = np.isin(tasks, report)
    print(f"\n## predictor families, leave-task-out over {len(tasks)} tasks ({len(runs)} runs); median "
          "within-task Spearman against single runs / seed means (all tasks; report tasks)")  # fmt: skip
    for name, make in families.items():
        for target, zt in z_targets.items():
            t0 = time.perf_counter()
            single, means = [], []
            for tk in tasks:
                held = task == tk
                pred = make().fit(X[~held], zt[~held]).predict(X[held])
                single.append(spearmanr(pred, y[held]).statistic)
                means.append(spearmanr(pred, seed_mean[held]).statistic)
            single, means = np.array(single), np.array(means)
            print(
                f"{name:36s} {target:5s} single {np.median(single):.3f} ({np.median(single[is_report]):.3f}) "
                f"seed-mean {np.median(means):.3f} ({np.median(means[is_report]):.3f})  "
                f"{time.perf_counter() - t0:.0f}s",
                flush=True,
            )


# run-table columns that do not describe a configuration (bookkeeping, timing, what the run measured)
NOT_CONFIG = ("run_id", "seed", "status", "created_at", "part", "train_seconds", "eval_seconds", "wall_seconds",
              "n_params", "n_train_used", "signals", "val_balanced", "test_balanced", "eval_subset", "val_size")  # fmt: skip


def seed_ceiling(runs: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """Per task: the mean Spearman between two seeds of the same configurations (``seed_spearman``) and its
    square root (``ceiling``), the reliability index: the within-task Spearman that the configurations' true
    mean results would reach against single runs (Spearman, Am. J. Psychol. 1904, correction for
    attenuation); no predictor of single runs can be expected above it."""
    from itertools import combinations

    from scipy.stats import spearmanr

    t = targets(curves)
    runs = runs[runs["run_id"].isin(t.index)].reset_index(drop=True)
    cols = [c for c in runs.columns if c not in NOT_CONFIG]
    key = pd.util.hash_pandas_object(runs[cols], index=False).to_numpy()
    frame = pd.DataFrame({"task": runs["dataset"].astype(str), "key": key,
                          "y": t.loc[runs["run_id"], "final"].to_numpy()})  # fmt: skip
    frame["rep"] = frame.groupby("key").cumcount()
    rows = []
    for task, g in frame.groupby("task"):
        wide = g.pivot(index="key", columns="rep", values="y")
        pairs = [
            spearmanr(wide[a], wide[b], nan_policy="omit").statistic for a, b in combinations(wide.columns, 2)
        ]
        r = float(np.nanmean(pairs)) if pairs else float("nan")
        rows.append({"task": task, "seed_spearman": r, "ceiling": float(np.sqrt(max(r, 0.0)))})
    return pd.DataFrame(rows)


def corpus_tasks_benchmark(args) -> None:
    from traindx.search.corpus import corpus_meta_features

    t0 = time.perf_counter()
    pools = corpus_task_pools()
    design, report = corpus_tasks_split(sorted(pools))
    if args.predictor:
        corpus_tasks_predictor(report)
        return
    if args.predictor_families:
        corpus_tasks_predictor_families(report)
        return
    tasks = design if args.task_set == "design" else report
    if args.tasks:
        tasks = tasks[: args.tasks]
    print(f"{args.task_set} tasks ({len(tasks)}): {', '.join(tasks)}")
    meta = corpus_meta_features()
    budgets = sorted({20, args.budget})
    methods = ("meta", "meta_none", "tpe", "random") if args.with_none else ("meta", "tpe", "random")
    rows = []
    for task in tasks:
        pool = pools[task]
        space = corpus_task_space(pool)
        held_out = knowledge.shipped(exclude=(task,))
        for seed in range(args.seeds):
            for m in methods:
                sampler = corpus_task_sampler(m, space, held_out, meta.get(task, {}), seed)
                c = corpus_replay(pool, space, sampler, max(budgets))
                rows.append({"task": task, "seed": seed, "method": m, **{f"B{b}": c[b - 1] for b in budgets},
                             "pool_best": float(pool["value"].max()), "pool_median": float(pool["value"].median())})  # fmt: skip
        print(f"{task} ({len(pool)} configurations): done ({time.perf_counter() - t0:.0f}s)", flush=True)
        if args.out:  # after every task, so an interrupted run keeps what it measured
            pd.DataFrame(rows).to_csv(args.out, index=False)
    table = pd.DataFrame(rows)
    print(f"\n## corpus space, leave-task-out, {len(tasks)} {args.task_set} tasks, {args.seeds} seeds: best value "
          "(mean validation accuracy, data-condition effects removed), median over tasks of the per-task median "
          "over seeds; normalised: 0 = pool median, 1 = pool best")  # fmt: skip
    per_task = table.groupby(["method", "task"]).median(numeric_only=True)
    for b in budgets:
        raw = {m: float(per_task.loc[m, f"B{b}"].median()) for m in methods}
        norm = {
            m: float(((per_task.loc[m, f"B{b}"] - per_task.loc[m, "pool_median"])
                      / (per_task.loc[m, "pool_best"] - per_task.loc[m, "pool_median"]).clip(lower=1e-9)).median())
            for m in methods
        }  # fmt: skip
        wins = {m: int((per_task.loc[m, f"B{b}"] >= per_task.loc["tpe", f"B{b}"]).sum()) for m in methods}
        print(f"B={b:2d} " + " ".join(f"{m}={raw[m]:.4f}" for m in methods))
        print("     normalised " + " ".join(f"{m}={norm[m]:.3f}" for m in methods))
        print("     tasks where >= TPE: " + " ".join(f"{m}={wins[m]}/{len(tasks)}" for m in methods))
    print(f"total {time.perf_counter() - t0:.0f}s")


def speed_benchmark(args) -> None:
    """Scoring and proposal speed, needing nothing but the shipped corpus (quick, for idle re-runs).

    A study of 100 finished trials in the user space (a smooth synthetic objective); the transfer surrogate
    learns from the shipped corpus (45 task sources) and the trials. Printed: 1M candidates drawn, featurized
    and scored (wall and CPU seconds; the tree walk uses two threads from 100k rows), and ``sample_relative``
    medians with its refit included, MetaSampler vs TPE in the same study, TPE twice as the A/A control.
    """
    print(f"load average {os.getloadavg()[0]:.1f} (timings are only meaningful on an idle machine)")
    rng = np.random.default_rng(0)
    cand = sample_candidates(USER_SPACE, 100, seed=1)

    def synthetic(p) -> float:
        lr = np.log10(p["learning_rate"])
        return float(np.exp(-((lr + 1.5) ** 2)) - 0.1 * p["dropout"] + 0.02 * np.log2(p["max_units"]))

    values = [synthetic(r) + 0.01 * rng.standard_normal() for r in cand.to_dict("records")]
    sources = knowledge.shipped()
    sur = TransferSurrogate(USER_SPACE, sources, {"n_train": 600, "n_classes": 2, "n_features": 20})
    sur.fit(cand, values)
    n_trees = len(sur.knowledge_.estimators_) + len(sur.own_.estimators_)
    print(f"\n## 1M candidates: transfer surrogate over {len(sources)} sources ({len(sur.members)} kept, "
          f"pooled knowledge forest + own forest: {n_trees} trees)")  # fmt: skip
    for rep in range(3):
        w0, c0 = time.perf_counter(), time.process_time()
        big = sample_candidates(USER_SPACE, 1_000_000, seed=rep)
        mean, std = sur.predict(big)
        int(np.argmax(mean + std))
        w1, c1 = time.perf_counter(), time.process_time()
        print(f"rep {rep}: 1M drawn, featurized and scored in {w1 - w0:.2f}s wall, {c1 - c0:.2f}s CPU")
    study = optuna.create_study(direction="maximize")
    for params, v in zip(cand.to_dict("records"), values, strict=True):
        params = {
            k: int(x) if isinstance(USER_SPACE[k], IntDistribution) else float(x) for k, x in params.items()
        }
        study.add_trial(optuna.trial.create_trial(params=params, distributions=USER_SPACE, value=v))
    print("\n## sample_relative at 100 finished trials, median of 20 calls (each with its refit), same study")
    for name, sampler in [
        ("TPESampler", optuna.samplers.TPESampler(seed=0)),
        ("MetaSampler() (shipped corpus)", MetaSampler(search_space=USER_SPACE, seed=0)),
        ("TPESampler (A/A)", optuna.samplers.TPESampler(seed=1)),
    ]:
        times = []
        for _ in range(21):
            trial = study.ask()
            frozen = study._storage.get_trial(trial._trial_id)
            if isinstance(sampler, MetaSampler):
                sampler._fitted_on = -1  # as after a new finished trial: refit, then propose
            t1 = time.perf_counter()
            sampler.sample_relative(study, frozen, USER_SPACE)
            times.append(time.perf_counter() - t1)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        # the first MetaSampler call also reads the corpus and builds the source forests once per study
        print(f"{name:32s} median {np.median(times[1:]) * 1000:.0f} ms (first call {times[0] * 1000:.0f} ms)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--space", choices=("corpus", "user", "tasks", "speed"), default="corpus")
    ap.add_argument("--task-set", choices=("design", "report"), default="report", help="tasks space")
    ap.add_argument("--out", help="tasks space: write the per-study table as CSV")
    ap.add_argument("--with-none", action="store_true", help="tasks space: also MetaSampler(knowledge=[])")
    ap.add_argument(
        "--predictor", action="store_true", help="tasks space: the predictor's leave-task-out only"
    )
    ap.add_argument(
        "--predictor-families",
        action="store_true",
        help="tasks space: estimator families and seed-averaged targets, featurized once",
    )
    ap.add_argument(
        "--tasks", type=int, default=None, help="user space: PMLB tasks (8); tasks space: first N"
    )
    ap.add_argument(
        "--task-offset", type=int, default=0, help="user space: 0 = report tasks, 1-4 = design tasks"
    )
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--pool", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=20)
    ap.add_argument("--skip-search", action="store_true")
    ap.add_argument("--skip-ranks", action="store_true", help="search only")
    ap.add_argument("--search-datasets", nargs="+", default=list(DATASETS))
    args = ap.parse_args()
    if args.space == "speed":
        speed_benchmark(args)
        return
    if args.space == "tasks":
        corpus_tasks_benchmark(args)
        return
    if args.space == "user":
        args.tasks = args.tasks or 8
        user_space_benchmark(args)
        return
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
