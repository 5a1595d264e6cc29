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
    return 0


if __name__ == "__main__":
    sys.exit(main())
