"""Rebuild the shipped default diagnoser's model file from the corpus: ``python -m traindx.diagnose.build_default``.

Fits :func:`traindx.diagnose.default.fit_default` on every corpus in the corpus folder (each
``<name>_runs.parquet`` with its ``<name>_epochs.parquet``; ``--corpus DIR`` or ``$TRAINDX_CORPUS_DIR`` for
another folder) and writes ``default_diagnoser.npz`` + ``.json`` (default: into the package's
``data/models/``), recording the traindx version, fit settings and corpus hash that
:func:`traindx.diagnose.default.default_diagnoser` checks at load. Run it after changing the corpus, the
features, the fit settings or the version. The fit is seeded, so a rebuild reproduces the file's predictions.

Example:
    $ python -m traindx.diagnose.build_default
    $ python -m traindx.diagnose.build_default --corpus my_corpus/ --out /tmp/my_default
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from traindx.diagnose.default import expected_meta, fit_default, load_corpus, model_path
from traindx.diagnose.model_file import save_diagnoser


def build(corpus: str | Path | None = None, out: str | Path | None = None) -> tuple[Path, Path]:
    """Fit the default diagnoser on the corpus folder ``corpus`` and save it to ``out`` (.npz + .json)."""
    runs, curves = load_corpus(folder=corpus)
    diag = fit_default(runs, curves)
    meta = expected_meta(corpus)
    meta["n_runs"] = int(len(runs))
    return save_diagnoser(diag, out if out is not None else model_path(), meta=meta)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m traindx.diagnose.build_default", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--corpus", type=Path, default=None, help="corpus folder (default: the shipped one)")
    parser.add_argument("--out", type=Path, default=None, help="output path without suffix")
    args = parser.parse_args(argv)
    if args.corpus is not None:
        os.environ["TRAINDX_CORPUS_DIR"] = str(args.corpus)  # so the recorded hash is the one checked at load
    t0 = time.perf_counter()
    npz, js = build(args.corpus, args.out)
    print(f"wrote {npz} ({npz.stat().st_size / 1e6:.1f} MB) and {js} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
