"""Export the finished runs of the many-task corpus sweep as the next Parquet part and rewrite its data card.

python scripts/corpus_parts.py [--store corpus_store/tasks_causes.duckdb]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from traindx.experiments.corpus import data_card, export_part, load_parts
from traindx.experiments.spec import load_spec
from traindx.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "tasks_causes.toml"
OUT = ROOT / "src" / "traindx" / "data" / "corpus" / "tasks_causes"
COMMAND = (
    "traindx sweep examples/tasks_causes.toml --store tasks_causes.duckdb --workers 1\n"
    "python scripts/corpus_parts.py --store tasks_causes.duckdb"
)

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=str(ROOT / "corpus_store" / "tasks_causes.duckdb"))
    args = ap.parse_args()
    from traindx.experiments.runner import run_id

    spec = load_spec(SPEC)
    got = export_part(RunStore(args.store), OUT, keep={run_id(c) for c in spec.configs})
    print("no new finished runs" if got is None else f"wrote {got[0].name}: {got[1]} runs")
    runs, curves, _ = load_parts(OUT)
    card = data_card(runs, curves, "tasks_causes", COMMAND, len(spec))
    (OUT / "DATACARD.md").write_text(card)
    size = sum(f.stat().st_size for f in OUT.glob("*.parquet")) / 1e6
    print(f"{len(runs)} runs in {len(list(OUT.glob('part-*_runs.parquet')))} parts, {size:.2f} MB")
