"""Benchmark of the learning-curve diagnoser.

The task-free default, on the many-task corpus (``traindx/data/corpus/tasks_causes``), every learned call judged
on tasks the model was not fitted on:

(g) leave-task-out (GroupKFold by task): rule labels now; forecasts of the final labels from 10%, 25% and 50% of
planned training next to persistence (repeat the label now), overall and per modality, with the run table and
without it (context unknown); causes from 25% of training (precision, recall, F1 per cause, calibration);
false shift alarms on runs without an applied shift; the share of runs judged;
(h) leave-modality-out: the same, each modality held out in turn;
(i) the MNIST / Fashion-MNIST corpora (another sweep: other models, sizes, 26-40 epochs), diagnosed by a model
fitted on the many-task corpus without its mnist and fashion_mnist tasks.

The earlier diagnoser's tables (MNIST corpora, grouped by run; :mod:`traindx.diagnose.legacy`), kept for
comparison (``--only abcdef``):

(a) the study's setup: study features at checkpoints 1, 5, 6, 11, 16, 21, 26, models RF/XGBoost/LR/ensemble;
(b) the full feature set; (c) early diagnosis: final-epoch labels from prefixes 1, 2, 5, 11 next to the
persistence baseline (repeat the prefix's own label), and the lead over patience-5 early stopping;
(d) cause labels from the epoch-5 prefix, GroupKFold and leave-one-model-family-out; (e) transfer MNIST ->
Fashion-MNIST; and the default model's shift false alarms on runs with no applied shift.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/diagnoser.py [--only ghi] [--folds 5]
      .venv/bin/python benchmarks/diagnoser.py --only abcdef [--trees 200] [--seed 0]   (the earlier tables)
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from itertools import product

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, precision_score, recall_score
from sklearn.model_selection import GroupKFold

from traindx.curves import (
    cause_labels,
    checkpoint_rule_labels,
    featurize_checkpoints,
    future_labels,
    rule_labels,
)
from traindx.curves.schema import CONTEXT_COLUMNS
from traindx.diagnose import CurveDiagnoser
from traindx.diagnose.legacy import fit_default, load_corpus
from traindx.diagnose.task_free import fraction_epoch
from traindx.experiments.runner import DEFAULTS

STUDY_CHECKPOINTS = (1, 5, 6, 11, 16, 21, 26)


def scores(y: pd.DataFrame, pred: pd.DataFrame) -> dict:
    """Micro/macro F1 and per-label precision/recall (labels without positives in y are left out of macro)."""
    pred = pred.loc[y.index, y.columns]
    keep = [c for c in y.columns if y[c].sum() > 0]
    yt, yp = y[keep].to_numpy(int), pred[keep].to_numpy(int)
    out = {
        "micro_f1": f1_score(yt, yp, average="micro", zero_division=0),
        "macro_f1": f1_score(yt, yp, average="macro", zero_division=0),
    }
    for c in keep:
        out[c] = (
            f"F1 {f1_score(y[c], pred[c], zero_division=0):.3f} "
            f"P {precision_score(y[c], pred[c], zero_division=0):.3f} "
            f"R {recall_score(y[c], pred[c], zero_division=0):.3f} (n+={int(y[c].sum())})"
        )
    return out


def oof(curves, y, groups_of_run, make, folds, X_at=None):
    """Out-of-fold predictions (0/1 frame like y) with folds grouped by ``groups_of_run`` (a run -> group map)."""
    runs = np.asarray(sorted(set(y.index.get_level_values(0))))
    groups = groups_of_run.reindex(runs).to_numpy()
    n = min(folds, len(np.unique(groups)))
    parts = []
    for tr, te in GroupKFold(n_splits=n).split(runs, groups=groups):
        tr_runs, te_runs = set(runs[tr]), set(runs[te])
        ytr = y[y.index.get_level_values(0).isin(tr_runs)]
        diag = make().fit(curves[curves["run_id"].isin(tr_runs)], ytr)
        yte = y[y.index.get_level_values(0).isin(te_runs)]
        X = X_at(curves[curves["run_id"].isin(te_runs)], diag)
        parts.append((diag.predict_proba_frame(X=X.loc[yte.index]) >= 0.5).astype(int))
    return pd.concat(parts).loc[y.index]


def x_checkpoints(c, diag):
    return featurize_checkpoints(c, sorted(set(STUDY_CHECKPOINTS) | {1, 2, 5, 11}), diag.feature_set)


def show(title: str, res: dict) -> None:
    print(f"  {title}: micro-F1 {res['micro_f1']:.3f}  macro-F1 {res['macro_f1']:.3f}")
    for k, v in res.items():
        if k not in ("micro_f1", "macro_f1"):
            print(f"      {k:28s} {v}")


# -- the task-free protocol: (g) leave-task-out, (h) leave-modality-out, (i) the MNIST corpora ------------------
FORECAST_AT = (0.1, 0.25, 0.5)
CAUSE_AT = 0.25
NOW = ("underfitting", "overfitting", "dataset_shift")


def _judged_f1(y: pd.Series, call: pd.Series, judged: pd.Series) -> float:
    return f1_score(y[judged].astype(int), call[judged].astype(int), zero_division=0)


def _eval_frames(runs: pd.DataFrame, curves: pd.DataFrame) -> dict:
    """Feature rows of every run at each evaluated fraction, with the run table's context and without it."""
    from traindx.diagnose.task_free import features_at_fraction

    planned = runs.set_index("run_id")["epochs"].astype(float)
    bare = curves.drop(columns=["max_epochs", "n_classes", "train_size", "batch_size"])
    frames = {("table", f): features_at_fraction(curves, planned, f) for f in (*FORECAST_AT, 1.0)}
    frames[("no table", 0.1)] = features_at_fraction(bare, planned, 0.1)
    frames[("no table", 0.25)] = features_at_fraction(bare, planned, 0.25)
    return frames


def _predict(diag, X: pd.DataFrame) -> pd.DataFrame:
    """Calls, probabilities and judged flags of ``diag`` on feature rows ``X`` (one frame, prefixed columns)."""
    p = diag.predict_proba_frame(X=X)
    calls = diag.calls(X, p)
    why = diag.unjudged(X)
    out = {}
    for lbl in diag.labels_:
        out[f"call_{lbl}"] = calls[lbl].to_numpy()
        out[f"p_{lbl}"] = p[lbl].to_numpy()
        out[f"judged_{lbl}"] = (why[lbl] == "").to_numpy()
    return pd.DataFrame(out, index=X.index)


def _oof(runs, curves, frames, group_of_run: pd.Series, folds: int, label: str) -> tuple[dict, list]:
    """Out-of-fold predictions on each frame, folds grouped by ``group_of_run``; and what each fold named."""
    from traindx.diagnose.default import fit_default

    groups = np.asarray(sorted(group_of_run.unique()))
    n = min(folds, len(groups))
    preds: dict = {k: [] for k in frames}
    named = []
    t0 = time.time()
    for i, (_, te) in enumerate(GroupKFold(n_splits=n).split(groups, groups=groups)):
        held = set(groups[te])
        fit_ids = set(group_of_run.index[~group_of_run.isin(held)])
        diag = fit_default(runs[runs["run_id"].isin(fit_ids)], curves[curves["run_id"].isin(fit_ids)])
        named.append(diag)
        for key, X in frames.items():
            Xt = X[X.index.map(group_of_run).isin(held)]
            preds[key].append(_predict(diag, Xt))
        print(f"  {label} fold {i + 1}/{n} ({', '.join(sorted(held))[:70]}) fitted and scored, "
              f"{time.time() - t0:.0f} s", flush=True)  # fmt: skip
    return {k: pd.concat(v) for k, v in preds.items()}, named


def _forecast_table(preds: dict, frames: dict, final: pd.DataFrame, modality: pd.Series) -> None:
    print(
        "  forecast of the final rule labels (macro-F1 over the 3 labels, judged runs; persistence = label now)"
    )
    print(
        f"  {'prefix':22s} {'model':>7s} {'persist':>7s} {'lead':>6s} {'judged':>7s}   per label (model/persistence)"
    )
    for key in [k for k in frames if k[1] < 1.0]:
        P, X = preds[key], frames[key].loc[preds[key].index]
        f_m, f_p, per, judged = [], [], [], []
        for lbl in NOW:
            y = final.loc[P.index, f"final_{lbl}"]
            j = pd.Series(P[f"judged_final_{lbl}"].to_numpy(), index=P.index)
            m = _judged_f1(y, pd.Series(P[f"call_final_{lbl}"].to_numpy(), index=P.index), j)
            q = _judged_f1(y, X[f"now_{lbl}"].fillna(0) >= 0.5, j)
            f_m.append(m), f_p.append(q), judged.append(j.mean())
            per.append(f"{lbl[:5]} {m:.3f}/{q:.3f}")
        print(f"  {key[1]:>4.0%} of training, {key[0]:8s} {np.mean(f_m):7.3f} {np.mean(f_p):7.3f} "
              f"{np.mean(f_m) - np.mean(f_p):+6.3f} {np.mean(judged):7.1%}   {', '.join(per)}")  # fmt: skip
    for key in (("table", 0.1), ("table", 0.25)):
        P, X = preds[key], frames[key].loc[preds[key].index]
        parts = []
        for mod in sorted(modality.unique()):
            idx = P.index[P.index.map(modality) == mod]
            fm, fp = [], []
            for lbl in NOW:
                y = final.loc[idx, f"final_{lbl}"]
                j = pd.Series(P.loc[idx, f"judged_final_{lbl}"].to_numpy(), index=idx)
                fm.append(_judged_f1(y, pd.Series(P.loc[idx, f"call_final_{lbl}"].to_numpy(), index=idx), j))
                fp.append(_judged_f1(y, X.loc[idx, f"now_{lbl}"].fillna(0) >= 0.5, j))
            parts.append(f"{mod} {np.mean(fm):.3f}/{np.mean(fp):.3f}")
        print(f"  per modality at {key[1]:.0%} (model/persistence): {', '.join(parts)}")


def _ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    return float(
        sum(
            abs(y[idx == b].mean() - p[idx == b].mean()) * (idx == b).mean()
            for b in range(bins)
            if (idx == b).any()
        )
    )


def _cause_table(preds: dict, causes: pd.DataFrame, named: list, key=("table", CAUSE_AT)) -> None:
    P = preds[key]
    print(f"  causes from {key[1]:.0%} of training ({key[0]}): named in k of the folds; P/R/F1 over all runs "
          "(a run not judged counts as not called); calibration on judged runs")  # fmt: skip
    f1s_named, f1s_all = [], []
    for c in causes.columns:
        lbl = f"cause_{c}"
        k = sum(lbl in d.labels_ for d in named)
        y = causes.loc[P.index, c].astype(int)
        if f"call_{lbl}" not in P.columns or P[f"call_{lbl}"].isna().all():
            print(f"    {c:17s} named 0/{len(named)}: left out ({named[0].left_out_.get(lbl, '')[:60]})")
            f1s_all.append(0.0)
            continue
        call = (
            P[f"call_{lbl}"].fillna(False).astype(bool) & P[f"judged_{lbl}"].fillna(False).astype(bool)
        ).astype(int)
        f1 = f1_score(y, call, zero_division=0)
        prec = precision_score(y, call, zero_division=0)
        rec = recall_score(y, call, zero_division=0)
        j = P[f"judged_{lbl}"].fillna(False).astype(bool) & P[f"p_{lbl}"].notna()
        pj, yj = P.loc[j, f"p_{lbl}"].to_numpy(), y[j].to_numpy()
        brier = float(np.mean((pj - yj) ** 2)) if len(pj) else float("nan")
        print(f"    {c:17s} named {k}/{len(named)}: P {prec:.3f} R {rec:.3f} F1 {f1:.3f}  "
              f"Brier {brier:.3f} ECE {_ece(yj, pj):.3f}  (applied in {y.mean():.0%})")  # fmt: skip
        f1s_all.append(f1)
        if k == len(named):
            f1s_named.append(f1)
    print(f"  cause macro-F1: over the causes named in every fold {np.mean(f1s_named) if f1s_named else float('nan'):.3f} "
          f"({len(f1s_named)} causes); over all {len(causes.columns)} applied conditions {np.mean(f1s_all):.3f}")  # fmt: skip


def _shift_alarms(preds: dict, frames: dict, causes: pd.DataFrame, runs: pd.DataFrame) -> None:
    r = runs.set_index("run_id")
    for key in (("table", 0.25), ("table", 1.0)):
        P, X = preds[key], frames[key].loc[preds[key].index]
        none = causes.loc[P.index, "shift"] == 0
        imb = r.loc[P.index, "imbalance"].fillna(1.0) < 1.0
        cs = (
            P["call_cause_shift"].fillna(False).astype(bool)
            if "call_cause_shift" in P
            else pd.Series(False, index=P.index)
        )
        rule = X["now_dataset_shift"].fillna(0) >= 0.5
        fc = P["call_final_dataset_shift"].fillna(False).astype(bool)
        print(f"  shift calls on the {none.sum()} runs without an applied shift, at {key[1]:.0%}: cause_shift {cs[none].mean():.1%}, "
              f"dataset_shift rule {rule[none].mean():.1%} (balanced {rule[none & ~imb].mean():.1%}, imbalanced "
              f"{rule[none & imb].mean():.1%}), final_dataset_shift forecast {fc[none].mean():.1%}")  # fmt: skip


def _rule_now(preds: dict, frames: dict, curves: pd.DataFrame, runs: pd.DataFrame) -> None:
    planned = runs.set_index("run_id")["epochs"]
    parts = []
    for f in (0.1, 0.25, 1.0):
        P = preds[("table", f)]
        k = fraction_epoch(planned.loc[P.index].to_numpy(), f)
        truth = []
        for kk in np.unique(k):
            ids = P.index[k == kk]
            truth.append(rule_labels(curves[curves["run_id"].isin(set(ids))], at_epoch=int(kk)))
        truth = pd.concat(truth).loc[P.index]
        f1 = [f1_score(truth[lbl], P[f"call_{lbl}"].astype(int), zero_division=0) for lbl in NOW]
        parts.append(f"{f:.0%}: macro-F1 {np.mean(f1):.3f} ({', '.join(f'{x:.3f}' for x in f1)})")
    print("  rule labels now (underfitting, overfitting, dataset_shift): " + "; ".join(parts))


def run_protocol(only: str, folds: int) -> None:
    """Sections (g)-(i) of the module docstring."""
    from traindx.diagnose.corpus import cause_table, load_many_task, load_mnist_corpora

    runs, curves = load_many_task()
    final = future_labels(curves)
    causes = cause_table(runs)
    frames = _eval_frames(runs, curves)
    task = runs.set_index("run_id")["task"]
    modality = runs.set_index("run_id")["modality"]
    print(
        f"many-task corpus: {len(runs)} finished runs, {task.nunique()} tasks, {modality.nunique()} modalities"
    )
    if "g" in only:
        print(f"\n(g) leave-task-out: GroupKFold({folds}) by task")
        preds, named = _oof(runs, curves, frames, task, folds, "task")
        _rule_now(preds, frames, curves, runs)
        _forecast_table(preds, frames, final, modality)
        _cause_table(preds, causes, named)
        _shift_alarms(preds, frames, causes, runs)
    if "h" in only:
        print("\n(h) leave-modality-out: each modality held out in turn")
        preds, named = _oof(runs, curves, frames, modality, 4, "modality")
        _forecast_table(preds, frames, final, modality)
        _cause_table(preds, causes, named)
        _shift_alarms(preds, frames, causes, runs)
    if "i" in only:
        print(
            "\n(i) MNIST / Fashion-MNIST corpora, model fitted on the many-task corpus without mnist, fashion_mnist"
        )
        from traindx.diagnose.default import fit_default

        keep = ~runs["task"].isin(["mnist", "fashion_mnist"])
        diag = fit_default(runs[keep], curves[curves["run_id"].isin(set(runs.loc[keep, "run_id"]))])
        o_runs, o_curves = load_mnist_corpora()
        o_frames = _eval_frames(o_runs, o_curves)
        o_preds = {k: _predict(diag, X) for k, X in o_frames.items()}
        o_final = future_labels(o_curves)
        print(f"  {len(o_runs)} runs, planned epochs {sorted(o_runs['epochs'].unique())}")
        _forecast_table(o_preds, o_frames, o_final, o_runs.set_index("run_id")["task"])
        _cause_table(o_preds, cause_table(o_runs), [diag])
        _shift_alarms(o_preds, o_frames, cause_table(o_runs), o_runs)


def main() -> None:
    import torch

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser()
    ap.add_argument("--trees", type=int, default=200)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--only", default="ghi")
    ap.add_argument("--seed", type=int, default=0, help="random_state of the forests in (c)-(e)")
    ap.add_argument(
        "--calibration",
        default="none",
        help="none|sigmoid|isotonic for (a)-(e); (f) always uses the default's",
    )
    args = ap.parse_args()
    calib = None if args.calibration == "none" else args.calibration
    t0 = time.time()
    if set(args.only) & set("ghi"):
        run_protocol(args.only, args.folds)
    if not set(args.only) & set("abcdef"):
        print(f"\ntotal {time.time() - t0:.0f}s")
        return
    corpora = {name: load_corpus((name,)) for name in ("mnist", "fashion_mnist")}
    for name, (runs, curves) in corpora.items():
        print(f"{name}: {len(runs)} finished runs, {curves['epoch'].max()} epochs max")
    runs, curves = corpora["mnist"]
    by_run = pd.Series(runs["run_id"].to_numpy(), index=runs["run_id"].to_numpy())
    family = pd.Series(runs["model"].to_numpy(), index=runs["run_id"].to_numpy())

    def rf(**kw):
        return lambda: CurveDiagnoser(
            n_estimators=args.trees, calibration=calib, random_state=args.seed, **kw
        )

    if "a" in args.only:
        print(
            "\n(a) the study's setup: study features, checkpoints 1,5,6,11,16,21,26, GroupKFold by run (MNIST)"
        )
        y = checkpoint_rule_labels(curves, STUDY_CHECKPOINTS)
        print(f"  rows {len(y)}; positives per label {y.sum().to_dict()}")
        for model in ("rf", "xgboost", "logreg", "ensemble"):
            make = partial(
                CurveDiagnoser, model=model, feature_set="study", n_estimators=args.trees, calibration=calib,
                class_weight=None,
            )  # fmt: skip
            show(model, scores(y, oof(curves, y, by_run, make, args.folds, x_checkpoints)))

    if "b" in args.only:
        print("\n(b) full feature set, same rows and labels (MNIST)")
        y = checkpoint_rule_labels(curves, STUDY_CHECKPOINTS)
        for model in ("rf", "lightgbm"):
            make = lambda m=model: CurveDiagnoser(model=m, n_estimators=args.trees, calibration=calib)  # noqa: E731
            show(model, scores(y, oof(curves, y, by_run, make, args.folds, x_checkpoints)))

    def early(curves_fit, curves_eval, k, cross=False, also=None, model="rf"):
        """Final-epoch labels from the epoch-k prefix: model scores and persistence scores.

        ``also``: (curves, config key per run) of another corpus added to every training fold, less the runs
        whose configuration is in the test fold (the default model's design: it is fitted on both corpora).
        """
        y_eval = future_labels(curves_eval)
        persist = rule_labels(curves_eval, at_epoch=k).add_prefix("final_")
        if cross:
            diag = CurveDiagnoser(
                model=model, at_epoch=k, n_estimators=args.trees, calibration=calib, random_state=args.seed
            ).fit(curves_fit, future_labels(curves_fit))
            pred = diag.predict(curves_eval)
        elif also is not None:
            other_curves, other_key = also
            own_key = config_key(curves_eval)
            y_other = future_labels(other_curves)
            parts = []
            ids = y_eval.index.to_numpy()
            for tr, te in GroupKFold(n_splits=args.folds).split(ids, groups=own_key.reindex(ids)):
                held = set(own_key.reindex(ids[te]))
                extra = other_key.index[~other_key.isin(held)]
                fit_c = pd.concat([curves_eval[curves_eval["run_id"].isin(ids[tr])],
                                   other_curves[other_curves["run_id"].isin(extra)]])  # fmt: skip
                y_fit = pd.concat([y_eval.loc[ids[tr]], y_other.loc[y_other.index.isin(extra)]])
                diag = CurveDiagnoser(
                    at_epoch=k, n_estimators=args.trees, calibration=calib, random_state=args.seed
                ).fit(fit_c, y_fit)
                parts.append(diag.predict(curves_eval[curves_eval["run_id"].isin(ids[te])]))
            pred = pd.concat(parts).loc[y_eval.index]
        else:
            y = y_eval.copy()
            y.index = pd.MultiIndex.from_arrays([y.index, np.full(len(y), k)], names=["run_id", "checkpoint"])
            groups = pd.Series(y_eval.index.to_numpy(), index=y_eval.index.to_numpy())
            pred = oof(
                curves_eval,
                y,
                groups,
                rf(model=model),
                args.folds,
                lambda c, d: featurize_checkpoints(c, [k]),
            )
            pred.index = pred.index.get_level_values(0)
        return scores(y_eval, pred), scores(y_eval, persist)

    all_runs = pd.concat([corpora[n][0] for n in corpora], ignore_index=True)
    # a run's configuration without its dataset: the same config trained on the other dataset shares it
    cfg_cols = [c for c in DEFAULTS if c in all_runs.columns and c != "dataset"]
    key_of = pd.Series(
        all_runs[cfg_cols].astype(str).agg("|".join, axis=1).to_numpy(), index=all_runs["run_id"]
    )

    def config_key(c: pd.DataFrame) -> pd.Series:
        return key_of.reindex(pd.unique(c["run_id"]))

    if "c" in args.only:
        print("\n(c) early diagnosis: final-epoch rule labels from a prefix, GroupKFold (MNIST)")
        for k in (1, 2, 5, 11):
            model, persist = early(None, curves, k)
            print(
                f"  prefix {k:2d}: model macro-F1 {model['macro_f1']:.3f} (micro {model['micro_f1']:.3f})   "
                f"persistence macro-F1 {persist['macro_f1']:.3f}   gain {model['macro_f1'] - persist['macro_f1']:+.3f}"
            )
            for lbl in ("final_underfitting", "final_overfitting", "final_dataset_shift"):
                if lbl in model:
                    print(f"      {lbl:22s} model {model[lbl]} | persistence {persist.get(lbl, '-')}")
        f_curves = corpora["fashion_mnist"][1]
        for k in (1, 2, 5, 11):
            model, _ = early(None, curves, k, also=(f_curves, config_key(f_curves)))
            print(f"  prefix {k:2d}, default design (Fashion-MNIST runs of other configs added to each training "
                  f"fold): macro-F1 {model['macro_f1']:.3f}")  # fmt: skip
            for lbl in ("final_underfitting", "final_overfitting", "final_dataset_shift"):
                print(f"      {lbl:22s} {model[lbl]}")
        lead_time(curves, by_run, args, calib)

    if "d" in args.only:
        print("\n(d) cause labels from the epoch-5 prefix (MNIST), read from the curves alone")
        # without the run context: small_train is defined by the train-set size, which the context states
        bare = curves.drop(columns=list(CONTEXT_COLUMNS), errors="ignore")
        y = cause_labels(runs)
        y = y.set_axis(
            pd.MultiIndex.from_arrays([y.index, np.full(len(y), 5)], names=["run_id", "checkpoint"])
        )
        print(f"  positives per cause {y.sum().to_dict()}")
        xat = lambda c, d: featurize_checkpoints(c, [5])  # noqa: E731
        # the six causes, with the shift kinds pooled into "shift" (single kinds have 2-4 runs)
        six = [
            c
            for c in ("shift", "imbalance", "small_train", "undersized_model", "bad_lr", "label_noise")
            if c in y
        ]
        for name, groups, folds in (
            ("GroupKFold by run", by_run, args.folds),
            ("leave-one-model-family-out", family, 5),
        ):
            pred = oof(bare, y, groups, rf(), folds, xat)
            show(name, scores(y, pred))
            print(
                f"    macro-F1 over the six causes (shift pooled): {scores(y[six], pred[six])['macro_f1']:.3f}"
            )

    if "e" in args.only:
        print(
            "\n(e) transfer: fit on MNIST, test on Fashion-MNIST, next to Fashion-MNIST in-domain GroupKFold"
        )
        f_runs, f_curves = corpora["fashion_mnist"]
        f_by_run = pd.Series(f_runs["run_id"].to_numpy(), index=f_runs["run_id"].to_numpy())
        y_f = checkpoint_rule_labels(f_curves, STUDY_CHECKPOINTS)
        in_dom = scores(y_f, oof(f_curves, y_f, f_by_run, rf(), args.folds, x_checkpoints))
        diag = CurveDiagnoser(n_estimators=args.trees, calibration=calib)
        diag.fit(curves, checkpoint_rule_labels(curves, STUDY_CHECKPOINTS))
        cross = scores(
            y_f, (diag.predict_proba_frame(X=x_checkpoints(f_curves, diag).loc[y_f.index]) >= 0.5) * 1
        )
        print(
            f"  (b) rule labels: in-domain macro-F1 {in_dom['macro_f1']:.3f}, transfer {cross['macro_f1']:.3f} "
            f"(diff {cross['macro_f1'] - in_dom['macro_f1']:+.3f}); micro {in_dom['micro_f1']:.3f} / {cross['micro_f1']:.3f}"
        )
        # where the two tasks part: imbalanced runs start alike and end differently
        for name, (r, c) in corpora.items():
            c = c[c["run_id"].isin(r.loc[r["imbalance"] < 1, "run_id"])].sort_values(["run_id", "epoch"])
            gap = (c["train_acc"] - c["val_acc"]).groupby(c["run_id"])
            print(
                f"  {name}: {c['run_id'].nunique()} imbalanced runs, mean train-val gap at epoch 2 "
                f"{gap.nth(1).mean():.3f}, at the last epoch {gap.last().mean():.3f}; overfitting at epoch 2 "
                f"{rule_labels(c, at_epoch=2)['overfitting'].mean():.0%}, "
                f"at the end {future_labels(c)['final_overfitting'].mean():.0%}"
            )
        # both directions and three model kinds: is the loss the forest's (trees do not extrapolate) or the task's?
        for way, src, dst in (("MNIST -> Fashion", curves, f_curves), ("Fashion -> MNIST", f_curves, curves)):
            for model, k in product(("rf", "logreg", "ensemble"), (2, 5)):
                own, _ = early(None, dst, k, model=model)
                tr, persist = early(src, dst, k, cross=True, model=model)
                print(
                    f"  (c) {way}, {model}, prefix {k}: in-domain macro-F1 {own['macro_f1']:.3f}, transfer "
                    f"{tr['macro_f1']:.3f} (diff {tr['macro_f1'] - own['macro_f1']:+.3f}), persistence "
                    f"{persist['macro_f1']:.3f}\n      final_overfitting in-domain {own['final_overfitting']} | "
                    f"transfer {tr['final_overfitting']}"
                )

    if "f" in args.only:
        print(
            "\n(f) shift false alarms of the default model (its design and tree count; GroupKFold by run over "
            "both corpora)"
        )
        all_runs = pd.concat([corpora[n][0] for n in corpora], ignore_index=True)
        all_curves = pd.concat([corpora[n][1] for n in corpora], ignore_index=True)
        rid = np.asarray(sorted(all_runs["run_id"]))
        preds = {True: [], False: []}
        for tr, te in GroupKFold(n_splits=args.folds).split(rid, groups=rid):
            tr_runs, te_runs = set(rid[tr]), set(rid[te])
            diag = fit_default(
                all_runs[all_runs["run_id"].isin(tr_runs)], all_curves[all_curves["run_id"].isin(tr_runs)],
            )  # fmt: skip
            test_c = all_curves[all_curves["run_id"].isin(te_runs)]
            for sizes in (True, False):
                c = test_c if sizes else test_c.drop(columns=["n_val", "n_test"], errors="ignore")
                p = diag.predict_proba_frame(X=diag.transform(c))
                preds[sizes].append(p[["dataset_shift", "cause_shift"]] >= 0.5)
        r = all_runs.set_index("run_id")
        rule = rule_labels(all_curves)["dataset_shift"]
        # imbalanced runs train on imbalanced data and are validated and tested on balanced data (val_balanced):
        # without an applied shift their val - test gap is sampling noise, as on balanced runs
        groups = {
            "no shift, balanced": (r["shift"] == "none") & (r["imbalance"] >= 1.0),
            "no shift, imbalanced": (r["shift"] == "none") & (r["imbalance"] < 1.0),
            "no shift, all": r["shift"] == "none",
            "shift applied": r["shift"] != "none",
        }
        for sizes in (True, False):
            flag = pd.concat(preds[sizes])
            print(f"  set sizes {'known' if sizes else 'hidden (n_val/n_test dropped)'}:")
            for name, mask in groups.items():
                ids = mask.index[mask]
                f = flag.reindex(ids)
                print(
                    f"    {name:22s} n={len(ids):4d}  dataset_shift flagged {f['dataset_shift'].mean():6.1%}"
                    f" (rule label {rule.reindex(ids).mean():6.1%})   cause_shift flagged {f['cause_shift'].mean():6.1%}"
                )
    print(f"\ntotal {time.time() - t0:.0f}s")


def lead_time(curves: pd.DataFrame, by_run: pd.Series, args, calib) -> None:
    """Epoch at which the diagnoser first predicts final overfitting vs patience-5 early stopping's stop epoch."""
    epochs = list(range(1, int(curves["epoch"].max()) + 1))
    X = featurize_checkpoints(curves, epochs)
    y_final = future_labels(curves)
    y = y_final.reindex(X.index.get_level_values(0)).set_axis(X.index)
    make = lambda: CurveDiagnoser(n_estimators=args.trees, calibration=calib)  # noqa: E731
    pred = oof(curves, y, by_run, make, args.folds, lambda c, d: featurize_checkpoints(c, epochs))
    first = lambda s: s[s].index.min() if s.any() else np.nan  # noqa: E731
    flag = pred["final_overfitting"].eq(1).unstack(fill_value=False).apply(first, axis=1)
    # patience 5: stop once validation accuracy has not improved on its best for 5 epochs
    stop = X["val_epochs_since_best"].ge(5).unstack(fill_value=False).apply(first, axis=1)
    pos = y_final.index[y_final["final_overfitting"] == 1]
    neg = y_final.index[y_final["final_overfitting"] == 0]
    both = pos[flag.reindex(pos).notna() & stop.reindex(pos).notna()]
    lead = stop.reindex(both) - flag.reindex(both)
    print(
        f"  lead over patience-5 early stopping, {len(pos)} runs that end overfitting: the diagnoser flags "
        f"{flag.reindex(pos).notna().mean():.0%}, early stopping stops {stop.reindex(pos).notna().mean():.0%}; "
        f"where both fire ({len(both)}) the diagnoser is earlier by median {lead.median():.1f} epochs "
        f"(mean {lead.mean():.1f}; earlier on {(lead > 0).mean():.0%}). False flags: "
        f"{flag.reindex(neg).notna().mean():.0%} of the {len(neg)} runs that do not end overfitting"
    )


if __name__ == "__main__":
    main()
