"""Grow the many-task corpus: run the next unfinished runs of its sweep and export them as Parquet parts.

    python scripts/corpus_parts.py generate --minutes 60 [--chunk 200] [--workers 1]
    python scripts/corpus_parts.py export                 # write what the store has finished as the next part
    python scripts/corpus_parts.py revalidate             # drop the runs whose validation draw changed

``revalidate`` is for parts written before validation followed the test split's class priors: it drops every
imbalanced run of a naturally imbalanced task (a second call drops the re-run ones again), and ``generate``
re-runs them with their ids.

Generation spans sessions and machines: the runs already shipped in ``src/traindx/data/corpus/tasks_causes``
are skipped by run id, so a fresh machine with an empty store carries on where the parts end, and a part is
written after every chunk, so an interrupted job loses at most one chunk. The spec orders runs in balanced
blocks, so a corpus stopped anywhere is still balanced.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from traindx.experiments.corpus import data_card, export_part, load_parts
from traindx.experiments.spec import load_spec
from traindx.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "tasks_causes.toml"
OUT = ROOT / "src" / "traindx" / "data" / "corpus" / "tasks_causes"
COMMAND = "python scripts/corpus_parts.py generate --minutes 60   # repeat until the data card says done"


def shipped_ids() -> set[str]:
    """Run ids already in the shipped parts."""
    try:
        runs, _, _ = load_parts(OUT)
    except Exception:  # no part yet
        return set()
    return set(runs["run_id"])


def export(store: RunStore, spec) -> None:
    from traindx.experiments.runner import run_id

    got = export_part(store, OUT, keep={run_id(c) for c in spec.configs})
    print("no new finished runs" if got is None else f"wrote {got[0].name}: {got[1]} runs")
    runs, curves, _ = load_parts(OUT)
    (OUT / "DATACARD.md").write_text(data_card(runs, curves, "tasks_causes", COMMAND, len(spec)))
    size = sum(f.stat().st_size for f in OUT.glob("*.parquet")) / 1e6
    print(
        f"{len(runs)} of {len(spec)} runs in {len(list(OUT.glob('part-*_runs.parquet')))} parts, {size:.2f} MB"
    )


def stale_validation_ids(runs) -> set[str]:
    """Imbalanced runs of naturally imbalanced tasks: their validation set was drawn balanced before the
    runner drew it with the test split's class priors (``conditions.validation_weights``), so they re-run."""
    import numpy as np

    from traindx.errors import InputError
    from traindx.experiments.conditions import BALANCED_TV
    from traindx.experiments.tasks import load

    imb = runs[(runs["imbalance"] < 1.0) & runs["val_balanced"].fillna(False).astype(bool)]
    stale: set[str] = set()
    for task, group in imb.groupby("dataset"):
        try:
            ds = load(task)
        except InputError as exc:  # say so: its runs stay as they are
            print(f"skipped {task}: {str(exc).splitlines()[0]}")
            continue
        prior = np.bincount(ds.y_test, minlength=ds.n_classes) / len(ds.y_test)
        if 0.5 * np.abs(prior - 1.0 / ds.n_classes).sum() > BALANCED_TV:
            stale |= set(group["run_id"])
    return stale


def generate(store: RunStore, spec, minutes: float, chunk: int, workers: int) -> None:
    from traindx.experiments.runner import run_id
    from traindx.experiments.sweep import run_sweep

    deadline = time.monotonic() + 60 * minutes
    while time.monotonic() < deadline:
        done = shipped_ids() | store.finished_ids()
        todo = [c for c in spec.configs if run_id(c) not in done][:chunk]
        if not todo:
            print("every run of the spec is finished")
            break
        t0 = time.perf_counter()
        summary = run_sweep(todo, store, workers=workers)
        rate = summary.finished / max(time.perf_counter() - t0, 1e-9) * 60
        print(f"chunk: {summary.finished} finished, {summary.failed} failed, {rate:.1f} runs/min")
        export(store, spec)
        if summary.interrupted:
            break


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("generate", "export", "revalidate"), nargs="?", default="export")
    ap.add_argument("--store", default=str(ROOT / "corpus_store" / "tasks_causes.duckdb"))
    ap.add_argument("--minutes", type=float, default=60.0, help="stop starting chunks after this long")
    ap.add_argument("--chunk", type=int, default=200, help="runs per exported part")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    Path(args.store).parent.mkdir(parents=True, exist_ok=True)
    spec, store = load_spec(SPEC), RunStore(args.store)
    if args.mode == "generate":
        generate(store, spec, args.minutes, args.chunk, args.workers)
    elif args.mode == "revalidate":
        from traindx.experiments.corpus import drop_runs

        stale = stale_validation_ids(load_parts(OUT)[0])
        print(f"dropped {drop_runs(OUT, stale)} runs; `generate` re-runs them with the same ids")
    else:
        export(store, spec)
