"""Early stopping on held-out tasks: savings-vs-regret frontier of pruners on replays of the many-task corpus.

The corpus (``src/traindx/data/corpus/tasks_causes``: 45 tasks, 4 modalities, 20-30 epochs a run) is split into
folds by task. For each fold the prefix predictor ``MetaPruner()`` fits by default is fitted on the OTHER folds'
runs only, and every method replays the fold's tasks: each shuffle orders one task's runs into a sequence of
trials, as a tuning study would see them; each method decides after every epoch whether to stop the trial; a
stopped trial keeps its best-validation epoch; the study selects the trial with the best kept validation
accuracy. Only runs whose test set is the task's own (``shift == "none"``) are replayed, so that test accuracy
measures what the selection is worth. Per method and setting:

- epochs saved: 1 - epochs trained / epochs of the full runs (summed over tasks);
- regret: test accuracy (points) of the model a full-training study selects minus that of the model this
  method selects (mean over tasks; trials tied on the best validation accuracy count with their mean test
  accuracy, as equally likely picks).

Methods, each over the settings its users turn (Optuna's defaults included): patience, MedianPruner,
PercentilePruner, SuccessiveHalving, Hyperband and MetaPruner (its ``alpha``, alone and with the rank gate
``rank_quantile``). The "chosen on the fit folds" row picks a MetaPruner setting on the fit folds' replays only,
never on the fold it is scored on. ``benchmarks/early_stopping_confirm.py`` scores a setting chosen here on
replays that played no part in choosing it.

Run (a few minutes; results are cached per task and shuffle under ``.traindx-cache/early_stopping``, so an
interrupted run resumes):
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/early_stopping.py --plot benchmarks/early_stopping_frontier.png
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd

import traindx as tdx
from traindx.experiments.corpus import load_parts
from traindx.search import MetaPruner
from traindx.search.pruners.meta import fit_prefix_predictor, one_seed

optuna.logging.set_verbosity(optuna.logging.WARNING)
CORPUS = Path(__file__).resolve().parent.parent / "src" / "traindx" / "data" / "corpus" / "tasks_causes"
CACHE = Path(os.environ.get("TRAINDX_BENCH_CACHE", ".traindx-cache/early_stopping"))


class LookupPredictor:
    """A fitted prefix predictor's outputs on every prefix of the replayed runs, computed once in one batch.

    The MetaPruner asks its predictor for one trial and one prefix at a time; a replay asks the same
    questions thousands of times, so they are answered from this table (keyed by run id and prefix length).
    """

    prefix = True

    def __init__(self, target: str, table: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        self.target = target
        self.table = table

    def predict_prefix(self, configs: pd.DataFrame, prefixes: list, return_std: bool = False):
        ids = configs["run_id"].to_numpy()
        mean = np.array([self.table[r][0][len(p) - 1] for r, p in zip(ids, prefixes, strict=True)])
        std = np.array([self.table[r][1][len(p) - 1] for r, p in zip(ids, prefixes, strict=True)])
        return (mean, std) if return_std else mean


def load(corpus: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    runs, curves, _ = load_parts(corpus)
    runs = runs[runs["status"] == "finished"]
    runs = runs.drop(
        columns=[c for c in runs.columns if c.endswith("seconds") or c in ("created_at", "status")]
    )
    curves = curves[curves["run_id"].isin(runs["run_id"])].sort_values(["run_id", "epoch"])
    return runs.reset_index(drop=True), curves.reset_index(drop=True)


def task_folds(runs: pd.DataFrame, k: int, seed: int = 0) -> list[list[str]]:
    """Tasks dealt into ``k`` folds, modality by modality, after a seeded shuffle."""
    rng = np.random.default_rng(seed)
    folds: list[list[str]] = [[] for _ in range(k)]
    i = 0
    for _, g in runs.groupby("modality"):
        tasks = sorted(g["dataset"].unique())
        for t in rng.permutation(tasks):
            folds[i % k].append(str(t))
            i += 1
    return [sorted(f) for f in folds]


def fold_predictions(runs, curves, fold: list[str], key: str) -> dict:
    """Prefix predictions (mean, std per k) for the fold's runs by the predictor ``MetaPruner()`` fits
    (:func:`fit_prefix_predictor` on :func:`one_seed` of the runs), fitted on the other tasks' runs only."""
    path = CACHE / f"pred-{key}.npz"
    held = runs["dataset"].isin(fold)
    if path.is_file():
        z = np.load(path, allow_pickle=False)
        ids, mean, std, n = z["ids"], z["mean"], z["std"], z["n"]
        return {str(r): (mean[i, : n[i]], std[i, : n[i]]) for i, r in enumerate(ids)}
    t0 = time.time()
    fit = one_seed(runs[~held])  # as the default predictor is fitted on the whole corpus
    pred = fit_prefix_predictor(fit, curves[curves["run_id"].isin(fit["run_id"])])
    test = runs[held].reset_index(drop=True)
    table = prefix_table(pred, test, curves)
    n = np.array([len(table[r][0]) for r in test["run_id"]])
    mean = np.full((len(test), n.max()), np.nan)
    std = np.full((len(test), n.max()), np.nan)
    for i, r in enumerate(test["run_id"]):
        mean[i, : n[i]], std[i, : n[i]] = table[r]
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, ids=test["run_id"].to_numpy(str), mean=mean, std=std, n=n)
    print(f"  predictor for held-out fold {key} fitted on {len(fit)} runs in {time.time() - t0:.0f}s")
    return table


def prefix_table(pred, test: pd.DataFrame, curves: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{run id: (mean, std) of ``pred`` from each prefix of the run's validation curve}, in one batch."""
    cur = {
        r: g.to_numpy(float)
        for r, g in curves[curves["run_id"].isin(test["run_id"])].groupby("run_id")["val_acc"]
    }
    rows, prefixes = [], []
    for i, r in enumerate(test["run_id"]):
        for k in range(1, len(cur[r]) + 1):
            rows.append(i)
            prefixes.append(cur[r][:k])
    m, s = pred.predict_prefix(test.iloc[rows].reset_index(drop=True), prefixes, return_std=True)
    out, j = {}, 0
    for r in test["run_id"]:
        k = len(cur[r])
        out[str(r)] = (np.asarray(m[j : j + k], float), np.asarray(s[j : j + k], float))
        j += k
    return out


def settings() -> list[tuple[str, str, dict]]:
    """(family, label, how to build it) of every point on the frontier."""
    P = optuna.pruners
    out: list[tuple[str, str, dict]] = [("full", "full", {})]
    out += [("patience", f"patience {k}", {"patience": k}) for k in (2, 3, 5, 8)]
    # Optuna's default MedianPruner() (no warm-up; steps here start at 1) and two warm-ups
    out += [("MedianPruner", "median (Optuna default)", {"pruner": P.MedianPruner()})]
    out += [("MedianPruner", f"median warmup {w}", {"pruner": P.MedianPruner(5, w)}) for w in (2, 4)]
    out += [
        ("PercentilePruner", f"percentile {q:g}", {"pruner": P.PercentilePruner(q, 5, 2)})
        for q in (25.0, 75.0)
    ]
    out += [
        ("SuccessiveHalving", f"SHA r={r} eta={e}", {"pruner": P.SuccessiveHalvingPruner(r, e)})
        for r in (1, 2)
        for e in (2, 4)
    ]
    out += [
        ("Hyperband", f"hyperband eta={e}", {"pruner": P.HyperbandPruner(1, "auto", e)}) for e in (2, 3, 4)
    ]
    out += [("MetaPruner", f"meta alpha={a:g}", {"meta": {"alpha": a}}) for a in ALPHAS]
    out += [
        (
            f"MetaPruner + rank q={q:g}",
            f"meta q={q:g} alpha={a:g}",
            {"meta": {"alpha": a, "rank_quantile": q}},
        )
        for q in QUANTILES
        for a in ALPHAS
    ]
    return out


ALPHAS = (0.003, 0.01, 0.03, 0.1, 0.3)
# the rank gate: prune only below the median (the median rule's own cut), or outside the top quarter / tenth
QUANTILES = (0.5, 0.75, 0.9)
# cached results are reused only while the code that made them is unchanged
REPLAY_CODE = "r2"  # the replay and scoring rules (bump on change)
PRUNER_CODE = hashlib.sha1(Path(sys.modules[MetaPruner.__module__].__file__).read_bytes()).hexdigest()[:8]
PREDICTOR_CODE = hashlib.sha1(
    b"".join(
        Path(sys.modules[m].__file__).read_bytes()
        for m in ("traindx.search.predictor", "traindx.search.features")
    )
    + Path(sys.modules[MetaPruner.__module__].__file__).read_bytes().split(b"def default_predictor")[0]
).hexdigest()[:8]
MEDIAN = "median warmup 2"  # MedianPruner(n_startup_trials=5, n_warmup_steps=2): the reference
REFERENCES = ("median (Optuna default)", MEDIAN)


def replay(
    runs: pd.DataFrame, curves: dict, how: dict, seed: int, pred=None
) -> tuple[int, int, float, float]:
    """(epochs trained, epochs in full, selected trial's test acc, full-study selection's test acc)."""
    order = np.random.default_rng(seed).permutation(len(runs))
    pruner = copy.deepcopy(how["pruner"]) if "pruner" in how else None
    if "meta" in how:
        pruner = MetaPruner(pred, **how["meta"])
    study = optuna.create_study(direction="maximize", pruner=pruner or optuna.pruners.NopPruner())
    used = total = 0
    kept: list[tuple[float, float]] = []
    full: list[tuple[float, float]] = []
    for i in order:
        row = runs.iloc[i]
        val, test = curves[row["run_id"]]
        total += len(val)
        b = int(np.argmax(val))
        full.append((val[b], test[b]))
        es = tdx.EarlyStopping(patience=how["patience"], min_epochs=1) if "patience" in how else None
        trial = study.ask()
        if isinstance(pruner, MetaPruner):
            pruner.base = {"run_id": row["run_id"], "epochs": len(val)}
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
    return used, total, selected_test(kept), selected_test(full)


def selected_test(trials: list[tuple[float, float]]) -> float:
    """Test accuracy of the trial a study selects by validation accuracy; trials tied on the best validation
    accuracy (common on small validation sets) are equally likely picks, so their mean test accuracy counts,
    not whichever came first in the shuffle."""
    val = np.array([t[0] for t in trials])
    test = np.array([t[1] for t in trials])
    return float(test[val >= val.max() - 1e-9].mean())


def run_all(runs, curves, folds, seeds: int, only: set[str] | None) -> pd.DataFrame:
    """Every setting on every held-out task and shuffle, from the cache where already done."""
    CACHE.mkdir(parents=True, exist_ok=True)
    log = CACHE / "replays.jsonl"
    done = {}
    if log.is_file():
        for line in log.read_text().splitlines():
            try:
                d = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by an interrupt
            done[(d["label"], d["task"], d["seed"], d["key"])] = d
    corpus_key = hashlib.sha1(",".join(sorted(runs["run_id"])).encode()).hexdigest()[:8]
    test_runs = runs[runs["shift"] == "none"]
    cur = {
        r: (g["val_acc"].to_numpy(float), g["test_acc"].to_numpy(float))
        for r, g in curves[curves["run_id"].isin(test_runs["run_id"])].groupby("run_id")
    }
    rows = []
    for f, fold in enumerate(folds):
        key = f"{corpus_key}-k{len(folds)}-f{f}-{PREDICTOR_CODE}"
        table = fold_predictions(runs, curves, fold, key)
        pred = LookupPredictor("best", table)
        for family, label, how in settings():
            if only and family.split(" + ")[0] not in only and label not in REFERENCES:
                continue
            t0, n_new = time.time(), 0
            for task in fold:
                r = test_runs[test_runs["dataset"] == task].reset_index(drop=True)
                # a MetaPruner result is only reused while the pruner's code is the same
                rkey = f"{key}-{REPLAY_CODE}" + (f"-{PRUNER_CODE}" if family.startswith("MetaPruner") else "")
                for s in range(seeds):
                    k = (label, task, s, rkey)
                    if k not in done:
                        used, total, sel, ref = replay(r, cur, how, s, pred)
                        done[k] = {"label": label, "task": task, "seed": s, "key": rkey, "used": used,
                                   "total": total, "sel": sel, "ref": ref}  # fmt: skip
                        with log.open("a") as fh:
                            fh.write(json.dumps(done[k]) + "\n")
                        n_new += 1
                    rows.append({**done[k], "family": family, "fold": f})
            if n_new:
                print(f"  fold {f} {label:20s} {n_new} replays in {time.time() - t0:.1f}s", flush=True)
    return pd.DataFrame(rows)


def summarise(res: pd.DataFrame) -> pd.DataFrame:
    """Per setting: epochs saved and mean regret over all held-out tasks, and their spread over shuffles."""
    res = res.assign(regret=100 * (res["ref"] - res["sel"]))
    per_seed = res.groupby(["family", "label", "seed"], sort=False).agg(
        used=("used", "sum"), total=("total", "sum"), regret=("regret", "mean")
    )
    per_seed["saved"] = 1 - per_seed["used"] / per_seed["total"]
    g = per_seed.groupby(["family", "label"], sort=False)
    out = pd.DataFrame(
        {
            "saved": g["saved"].mean(),
            "saved_sd": g["saved"].std(ddof=0),
            "regret": g["regret"].mean(),
            "regret_sd": g["regret"].std(ddof=0),
        }
    )
    worst = res.groupby(["family", "label"], sort=False)["regret"].max()
    out["regret_max"] = worst
    return out.reset_index()


def choose(res: pd.DataFrame) -> str:
    """The MetaPruner setting to use, judged on ``res`` alone: of those that dominate both Optuna's default
    MedianPruner and the reference one (save at least as many epochs at no more mean regret), the one that
    saves most; if none does, the least regret."""
    s = summarise(res).set_index("label")
    meta = s[s["family"].str.startswith("MetaPruner") & ~s["family"].str.contains("chosen")]
    ok = np.ones(len(meta), dtype=bool)
    for m in REFERENCES:
        ok &= (meta["saved"] >= s.loc[m, "saved"]).to_numpy() & (
            meta["regret"] <= s.loc[m, "regret"]
        ).to_numpy()
    if ok.any():
        return str(meta[ok].sort_values("saved").index[-1])
    return str(meta.sort_values(["regret", "saved"], ascending=[True, False]).index[0])


def selected(res: pd.DataFrame) -> pd.DataFrame:
    """Each fold scored with the MetaPruner setting :func:`choose` picks on the OTHER folds' tasks."""
    rows = []
    for f in sorted(res["fold"].unique()):
        label = choose(res[res["fold"] != f])
        print(f"  fold {f}: setting chosen on the other folds' tasks: {label}")
        rows.append(res[(res["fold"] == f) & (res["label"] == label)])
    out = pd.concat(rows)
    return out.assign(family="MetaPruner (chosen on fit folds)", label="meta, chosen on fit folds")


def print_table(summary: pd.DataFrame, title: str) -> None:
    print(f"\n## {title}")
    print(f"{'setting':22s} {'epochs saved':>16s} {'regret pts (mean)':>20s} {'max':>6s}")
    for r in summary.itertuples():
        print(
            f"{r.label:22s} {r.saved:9.1%} ±{r.saved_sd:5.1%} {r.regret:12.2f} ±{r.regret_sd:5.2f} "
            f"{r.regret_max:6.1f}"
        )


def dominance(res: pd.DataFrame) -> None:
    """Which MetaPruner settings dominate each MedianPruner setting (saves at least as many epochs at no more
    mean regret), over all shuffles and shuffle by shuffle."""
    s = summarise(res).set_index("label")
    r = res.assign(regret=100 * (res["ref"] - res["sel"]))
    per_seed = r.groupby(["label", "seed"]).agg(
        used=("used", "sum"), total=("total", "sum"), regret=("regret", "mean")
    )
    per_seed["saved"] = 1 - per_seed["used"] / per_seed["total"]
    medians = s.index[s["family"] == "MedianPruner"]
    for label in s.index[s["family"].str.startswith("MetaPruner")]:
        a = s.loc[label]
        verdicts = []
        for m in medians:
            b = s.loc[m]
            dom = a["saved"] >= b["saved"] and a["regret"] <= b["regret"]
            pa, pb = per_seed.loc[label], per_seed.loc[m]
            wins = int(((pa["saved"] >= pb["saved"]) & (pa["regret"] <= pb["regret"])).sum())
            verdicts.append(f"{m}: {'yes' if dom else 'no'} ({wins}/{len(pa)} shuffles)")
        print(f"{label} dominates " + "; ".join(verdicts))


def plot(summary: pd.DataFrame, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    for family, g in summary.groupby("family", sort=False):
        g = g.sort_values("saved")
        ax.errorbar(100 * g["saved"], g["regret"], yerr=g["regret_sd"], marker="o", capsize=2, label=family)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("epochs saved (%)")
    ax.set_ylabel("regret (test accuracy points; mean over tasks, bars: sd over shuffles)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"frontier plot: {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--corpus", type=Path, default=CORPUS, help="folder of corpus parts (part-*_runs.parquet)"
    )
    ap.add_argument("--folds", type=int, default=3, help="task folds (predictor fitted on the others)")
    ap.add_argument("--seeds", type=int, default=3, help="shuffles of each task's runs")
    ap.add_argument(
        "--trees", type=int, default=10, help="trees of the prefix predictor (MetaPruner's default)"
    )
    ap.add_argument(
        "--only", default="", help="comma-separated families to run (the MedianPruner references always run)"
    )
    ap.add_argument("--plot", type=Path, default=None, help="draw the frontier to this PNG")
    args = ap.parse_args()
    runs, curves = load(args.corpus)
    folds = task_folds(runs, args.folds)
    print(f"{runs['dataset'].nunique()} tasks, {len(runs)} runs; folds: {[len(f) for f in folds]} tasks")
    only = set(args.only.split(",")) - {""} or None
    res = run_all(runs, curves, folds, args.seeds, only)
    if res["family"].str.startswith("MetaPruner").any():
        print("\nMetaPruner setting per fold, chosen on the fit folds' replays (never on the fold scored):")
        res = pd.concat([res, selected(res)], ignore_index=True)
        print(f"the same rule on every fold's replays (the shipped default's basis): {choose(res)}")
    summary = summarise(res)
    n_tasks = res["task"].nunique()
    title = f"{n_tasks} held-out tasks ({args.folds} folds by task), {args.seeds} shuffles"
    print_table(summary, title)
    dominance(res)
    if args.plot:
        plot(summary, args.plot, title)


if __name__ == "__main__":
    main()
