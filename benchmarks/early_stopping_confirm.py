"""Confirmation of a frozen MetaPruner setting on replays that played no part in choosing it.

``MetaPruner(alpha=0.3, rank_quantile=0.75)`` was the best of a grid fixed in advance on the leave-task-out
replays of the many-task corpus (benchmarks/early_stopping.py); picked there, its numbers there are a post-hoc
selection. Here the setting is frozen, with the references, and scored on two replay sets that were not used
to choose it:

- ``mnist``: the first shipped corpora (``src/traindx/data/corpus/{mnist,fashion_mnist}_*.parquet``: other
  trainings of MNIST and Fashion-MNIST, 26-40 epochs, 223 unshifted runs each). The predictor is fitted on the
  many-task corpus without its MNIST and Fashion-MNIST runs, so it has seen neither task.
- ``pmlb``: fresh pools on small PMLB tables. Tasks: the rule of ``search.user_tasks`` at offsets 3 and 4
  (offsets 0-2 are the search benchmark's report and design sets), minus the many-task corpus's tasks and
  PMLB's copies of them (``diabetes`` is ``pima``). Per task, 100 random configurations of the user space of
  ``benchmarks/search.py --space user`` (an SGD MLP, 10 epochs, 60/40 train/validation split of the task's
  training rows, the task's own test set) are trained here once (cached in a DuckDB store). The predictor is
  ``MetaPruner()``'s default (:func:`default_predictor`, the whole shipped corpus), as a user gets it.

Replay, epochs saved and regret are those of benchmarks/early_stopping.py (a stopped trial keeps its
best-validation epoch; regret = test accuracy points of the full-training study's selection minus this
method's, mean over tasks, ties on validation accuracy averaged), over 5 shuffles of each task's runs. The
verdict per replay set: the candidate dominates a reference when it saves at least as many epochs at no more
mean regret (means over the shuffles); per-shuffle numbers are printed as well.

Run (the pools train once, about 5 minutes on a busy core, then read from the cache; the replays take 2):
    OMP_NUM_THREADS=1 TRAINDX_DATA_DIR=../shared/data .venv/bin/python benchmarks/early_stopping_confirm.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import optuna
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import early_stopping as es  # noqa: E402
import search  # noqa: E402

from traindx.search.corpus import CORPUS_DIR, load_corpus  # noqa: E402
from traindx.search.pruners.meta import default_predictor, fit_prefix_predictor, one_seed  # noqa: E402
from traindx.store import RunStore  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)
STORE = Path(os.environ.get("TRAINDX_BENCH_CONFIRM_STORE", ".traindx-cache/bench_confirm_pmlb.duckdb"))
SHUFFLES = 5
POOL = 100
CANDIDATE = "meta q=0.75 alpha=0.3 (candidate)"
# frozen before any replay of these sets was run; each MetaPruner row spells out every argument it relies on,
# so that a change of the class's defaults does not change what a row measures
SETTINGS: list[tuple[str, str, dict]] = [
    ("full", "full", {}),
    ("MedianPruner", "median (Optuna default)", {"pruner": optuna.pruners.MedianPruner()}),
    ("MedianPruner", "median warmup 2", {"pruner": optuna.pruners.MedianPruner(5, 2)}),
    ("MetaPruner", "meta alpha=0.003, no gate", {"meta": {"alpha": 0.003, "rank_quantile": None}}),
    ("MetaPruner", CANDIDATE, {"meta": {"alpha": 0.3, "rank_quantile": 0.75}}),
]
REFERENCES = ("median (Optuna default)", "median warmup 2", "meta alpha=0.003, no gate")


def pmlb_tasks() -> list[str]:
    """The ``pmlb`` set's tasks (see the module docstring); fixed by rule before any replay."""
    many = set(json.loads((CORPUS_DIR / "tasks_causes_meta.json").read_text())["tasks"])
    copies = {"diabetes"}  # PMLB's diabetes is the Pima Indians table, the corpus's pima
    tasks = search.user_tasks(8, 3) + search.user_tasks(8, 4)
    return [t for t in tasks if t not in many and t not in copies]


def pmlb_pools(tasks: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, curves) of ``POOL`` random user-space configurations per task, trained once into ``STORE``."""
    import traindx as tdx

    STORE.parent.mkdir(parents=True, exist_ok=True)
    store = RunStore(STORE)
    done = store.finished_ids()
    ids = []
    for i, task in enumerate(tasks):
        n = tdx.tasks.load(task).n_train
        cand = search.sample_candidates(search.USER_SPACE, POOL, seed=2024)
        t0, before = time.perf_counter(), len(done)
        for j in range(POOL):
            ids.append(search.train(store, search.user_config(task, n, cand.iloc[j].to_dict()), done))
        if len(done) > before:
            print(
                f"  pool {i + 1}/{len(tasks)} {task}: trained in {time.perf_counter() - t0:.0f}s", flush=True
            )
    runs, curves = store.read()
    runs = runs[runs["run_id"].isin(ids) & (runs["status"] == "finished")]
    return runs, curves[curves["run_id"].isin(runs["run_id"])]


def clean(runs: pd.DataFrame, curves: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Finished runs without timing columns, as benchmarks/early_stopping.py's ``load`` gives them."""
    runs = runs[runs["status"] == "finished"]
    drop = [c for c in runs.columns if c.endswith("seconds") or c in ("created_at", "status", "error")]
    runs = runs.drop(columns=drop).reset_index(drop=True)
    curves = curves[curves["run_id"].isin(runs["run_id"])].sort_values(["run_id", "epoch"])
    return runs, curves.reset_index(drop=True)


def replay_set_data(name: str) -> tuple[pd.DataFrame, pd.DataFrame, object]:
    """(runs, curves, prefix predictor fitted without the set's tasks) of replay set ``name``."""
    if name == "pmlb":
        tasks = pmlb_tasks()
        print(f"pmlb: {len(tasks)} tasks: {', '.join(tasks)}")
        runs, curves = clean(*pmlb_pools(tasks))
        return runs.assign(shift="none"), curves, default_predictor()  # their test set is the task's own
    tables = [load_corpus(d) for d in ("mnist", "fashion_mnist")]
    runs, curves = clean(
        pd.concat([t[0] for t in tables], ignore_index=True),
        pd.concat([t[1] for t in tables], ignore_index=True),
    )
    many, many_curves = es.load(es.CORPUS)
    fit = one_seed(many[~many["dataset"].isin(runs["dataset"].unique())])
    t0 = time.time()
    pred = fit_prefix_predictor(fit, many_curves[many_curves["run_id"].isin(fit["run_id"])])
    print(f"mnist: predictor fitted on {len(fit)} corpus runs, none of MNIST or Fashion-MNIST")
    print(f"  ({time.time() - t0:.0f}s)")
    return runs, curves, pred


def replay_set(runs: pd.DataFrame, curves: pd.DataFrame, pred) -> pd.DataFrame:
    """Every frozen setting on every task and shuffle of one replay set."""
    test = runs[runs["shift"] == "none"].reset_index(drop=True)
    table = es.prefix_table(pred, test, curves)
    lookup = es.LookupPredictor(pred.target, table)
    cur = {
        r: (g["val_acc"].to_numpy(float), g["test_acc"].to_numpy(float))
        for r, g in curves[curves["run_id"].isin(test["run_id"])].groupby("run_id")
    }
    rows = []
    for family, label, how in SETTINGS:
        t0 = time.time()
        for task, r in test.groupby("dataset"):
            r = r.reset_index(drop=True)
            for s in range(SHUFFLES):
                used, total, sel, ref = es.replay(r, cur, how, s, lookup)
                rows.append({"family": family, "label": label, "task": task, "seed": s, "used": used,
                             "total": total, "sel": sel, "ref": ref})  # fmt: skip
        print(f"  {label:36s} {time.time() - t0:.1f}s", flush=True)
    return pd.DataFrame(rows)


def per_shuffle(res: pd.DataFrame) -> pd.DataFrame:
    """Epochs saved and mean regret over tasks, per setting and shuffle."""
    res = res.assign(regret=100 * (res["ref"] - res["sel"]))
    g = res.groupby(["label", "seed"], sort=False).agg(
        used=("used", "sum"), total=("total", "sum"), regret=("regret", "mean")
    )
    return g.assign(saved=1 - g["used"] / g["total"])[["saved", "regret"]]


def verdicts(res: pd.DataFrame) -> dict[str, bool]:
    """Whether the candidate dominates each reference (means over shuffles), printed with the shuffle count."""
    s = es.summarise(res).set_index("label")
    ps = per_shuffle(res)
    a, pa = s.loc[CANDIDATE], ps.loc[CANDIDATE]
    out = {}
    for m in REFERENCES:
        b, pb = s.loc[m], ps.loc[m]
        out[m] = bool(a["saved"] >= b["saved"] and a["regret"] <= b["regret"])
        wins = int(((pa["saved"] >= pb["saved"]) & (pa["regret"] <= pb["regret"])).sum())
        print(f"  candidate dominates {m}: {'yes' if out[m] else 'no'} ({wins}/{len(pa)} shuffles)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="mnist,pmlb", help="comma-separated replay sets to run")
    args = ap.parse_args()
    for name in args.sets.split(","):
        runs, curves, pred = replay_set_data(name)
        test = runs[runs["shift"] == "none"]
        print(f"\n# {name}: {test['dataset'].nunique()} tasks, {len(test)} runs, {SHUFFLES} shuffles")
        res = replay_set(runs, curves, pred)
        ps = per_shuffle(res)
        print("| setting | epochs saved | regret (mean ± sd) | max | per shuffle (saved / regret) |")
        print("|---|---|---|---|---|")
        for r in es.summarise(res).itertuples():
            cells = ", ".join(f"{x.saved:.1%} / {x.regret:.2f}" for x in ps.loc[r.label].itertuples())
            print(f"| {r.label} | {r.saved:.1%} ± {r.saved_sd:.1%} | {r.regret:.2f} ± {r.regret_sd:.2f} | "
                  f"{r.regret_max:.1f} | {cells} |")  # fmt: skip
        verdicts(res)


if __name__ == "__main__":
    main()
