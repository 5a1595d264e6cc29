"""Generate, resume and build the shipped landscape collection (``src/traindx/data/landscape/``).

    python scripts/landscape_collection.py generate [--minutes 40] [--parts DIR]
    python scripts/landscape_collection.py build [--parts DIR] [--out CSV]

``generate`` trains and measures one task grid at a time (single process, one thread) and writes one Parquet
part per grid into ``--parts``; parts already there are skipped, so running it again resumes. ``build`` joins
the parts, adds the labels and writes the CSV the MD tree reads.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
HERE = Path(__file__).resolve().parents[1] / "src" / "traindx" / "data" / "landscape"


def main(argv: list[str] | None = None) -> int:
    from traindx.landscape import collection

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    gen = sub.add_parser("generate", help="measure the grids not yet in --parts")
    gen.add_argument("--parts", type=Path, default=HERE / "parts")
    gen.add_argument("--minutes", type=float, default=float("inf"), help="start no new grid after this")
    gen.add_argument("--clean-only", action="store_true", help="skip the label-noise grids")
    bld = sub.add_parser("build", help="join the parts and label them")
    bld.add_argument("--parts", type=Path, default=HERE / "parts")
    bld.add_argument("--out", type=Path, default=HERE / "landscape.csv")
    args = parser.parse_args(argv)
    if args.cmd == "generate":
        specs = collection.default_specs(noisy=not args.clean_only)
        done = collection.generate(
            args.parts, specs, minutes=args.minutes, progress=lambda m: print(m, flush=True)
        )
        print(f"wrote {len(done)} parts into {args.parts}")
        return 0
    df = collection.build(args.parts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    df.drop(columns=["spec"]).to_csv(tmp, index=False, float_format="%.6g")
    tmp.replace(args.out)
    print(f"wrote {args.out}: {len(df)} rows, {df['task'].nunique()} tasks")
    card = args.out.with_name("DATACARD.md")
    card.write_text(datacard(df))
    print(f"wrote {card}")
    return 0


def datacard(df) -> str:
    """The data card: tasks with sources and licences, the grid, counts, label rates, cost, how to rebuild."""
    import json

    import pandas as pd

    from traindx.experiments.tasks import registry
    from traindx.landscape.collection import CONNECTIVITY_STEPS, TRACE_PROBES

    lines = [
        "# Landscape collection: the MD tree's metrics and labels across tasks",
        "",
        "One row per cell of a width x training-set size x batch-size grid per task (3 x 3 x 3), each cell",
        "trained with two seeds (SGD, momentum 0.9, a fixed learning rate per modality, fixed epochs), in the",
        "column format of the MD tree paper's released tables (Zhou et al., ICML 2024, arXiv 2406.16988), so",
        "`traindx mdtree fit --csv landscape.csv` and `benchmarks/mdtree.py` read it as they read those.",
        "",
        "- Metrics (seed 0; `*_seed1` columns hold the second seed's errors and losses): `train_error`,",
        "  `test_error` (%), `train_loss`, `test_loss`; `hessian_e` / `hessian_t`: natural logs of the top",
        "  Hessian eigenvalue and trace on 200 training examples (exact up to 100 / 200 parameters, else power",
        f"  iteration and Hutch++ with at most {TRACE_PROBES} products, stopping at 1% standard error); `CKA`",
        "  between the two seeds' outputs on mixup inputs; `mode_connectivity_peak`: minus the peak training",
        f"  error (%) along a quadratic Bezier curve between the seeds, trained for {CONNECTIVITY_STEPS} steps.",
        "- Labels as the paper defines them (reproduced exactly on its clean collection, see",
        "  `traindx.landscape.collection`): `rfi_*` is the best gain in test accuracy (mean of the two seeds)",
        "  from moving one knob in one direction within the grid; `bs_failure` small|large|optimal (small: the",
        "  temperature lr / batch is too small), `width_vs_batch`, `data_vs_batch` (asked of the two wider levels).",
        "- `noise` > 0: the same grid with that fraction of training labels replaced by random classes (the",
        "  paper's second collection). `diverged`: a seed's loss became non-finite; `metrics_failed`: why the",
        "  landscape metrics of a cell are missing. Costs: `train_s` (one seed), `metric_s` (all metrics) and",
        "  `cost_*_s` per metric, in seconds on one CPU thread of a shared 2-core machine (under load).",
        "",
        "## Tasks",
        "",
        "| task | modality | source | licence | model | widths | training sizes | batch sizes | lr | epochs | grids |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    reg = registry.registry()
    for task, g in df.groupby("task", sort=False):
        spec = json.loads(g["spec"].iloc[0]) if "spec" in g else {}
        info = reg.get(task)
        noises = ", ".join(f"noise {n:g}" for n in sorted(g["noise"].unique()))
        lines.append(
            f"| {task} | {g['modality'].iloc[0]} | {getattr(info, 'source', '')} | {getattr(info, 'licence', '')} "
            f"| {g['model'].iloc[0]} depth {spec.get('depth', '')} | {sorted(g['width'].unique().tolist())} "
            f"| {sorted(g['data_amount'].unique().tolist())} | {sorted(g['bs'].unique().tolist())} "
            f"| {g['lr'].iloc[0]:g} | {g['epochs'].iloc[0]} | {noises} |"
        )
    grids = df.groupby(["task", "noise"])
    lines += [
        "",
        "## Counts",
        "",
        f"{len(df)} rows = {grids.ngroups} grids x 27 cells ({df[df['noise'] == 0]['task'].nunique()} tasks clean, "
        f"{df[df['noise'] > 0]['task'].nunique()} with label noise), {df['modality'].nunique()} modalities, "
        f"{2 * len(df)} trainings. Diverged cells: {int(df['diverged'].sum())}; cells with a missing landscape "
        f"metric: {int(df[['hessian_t', 'hessian_e', 'CKA', 'mode_connectivity_peak']].isna().any(axis=1).sum())}.",
        "",
        "## Label rates (% of rows)",
        "",
    ]
    for label in ("bs_failure", "width_vs_batch", "data_vs_batch"):
        rates = (df.groupby("noise")[label].value_counts(normalize=True).unstack().fillna(0) * 100).round(1)
        lines += [f"`{label}`:", "", _markdown(rates), ""]
    cost = df.groupby("modality")[["train_s", "metric_s"] + [c for c in df.columns if c.startswith("cost_")]]
    per = cost.mean()
    per.columns = [c.removeprefix("cost_").removesuffix("_s").replace("_", " ") for c in per.columns]
    total = grids["grid_s"].first().sum()
    lines += [
        "## Cost",
        "",
        "Mean seconds per cell (train: one seed; metric: all landscape metrics of the cell):",
        "",
        _markdown(per.round(3)),
        "",
        f"Total: {total / 60:.1f} min of single-thread compute for {grids.ngroups} grids "
        f"({total / len(df):.1f} s per cell: two trainings and the metrics), measured on a shared machine under "
        "load, so read the times as upper bounds.",
        "",
        "## Sources and licences",
        "",
        "The task data come from the task layer's sources (`traindx tasks` lists each with its licence): PMLB",
        "tables, scikit-learn's digits, MNIST, Fashion-MNIST, NLTK corpora (subjectivity, sentence polarity,",
        "question classification) and the UCR/UEA archive. The collection itself (metrics and labels) is",
        "generated by traindx and shipped under traindx's licence.",
        "",
        "## Regenerate",
        "",
        "    OMP_NUM_THREADS=1 python scripts/landscape_collection.py generate [--minutes M]   # resumable",
        "    python scripts/landscape_collection.py build                                    # CSV + this card",
        "",
        "`generate` skips the parts already in `parts/`, so it resumes after an interruption; each part is one",
        "task grid (`part-TASK-noiseNN.parquet`, with the grid's spec as JSON in its `spec` column).",
        "",
    ]
    del pd
    return "\n".join(lines)


def _markdown(frame) -> str:
    head = [str(frame.index.name or "")] + [str(c) for c in frame.columns]
    rows = [[str(i)] + [f"{v:g}" for v in r] for i, r in zip(frame.index, frame.to_numpy(), strict=True)]
    return "\n".join("| " + " | ".join(r) + " |" for r in [head, ["---"] * len(head), *rows])


if __name__ == "__main__":
    sys.exit(main())
