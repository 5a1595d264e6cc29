"""Rebuild the shipped default diagnoser from the shipped corpus: ``python -m traindx.diagnose.build_default``.

Fits :func:`traindx.diagnose.default.fit_default` on the many-task corpus (``traindx/data/corpus/tasks_causes``;
``--corpus DIR`` or ``$TRAINDX_CORPUS_DIR`` for a folder holding another ``tasks_causes/``) and writes
``default_diagnoser.npz`` + ``.json`` (default: into the package's ``data/models/``), recording the traindx
version, fit settings, feature names and corpus hash that :func:`traindx.diagnose.default.default_diagnoser`
checks at load. Run it after changing the corpus, the features, the fit settings or the version. The fit is
seeded and single-threaded, so a rebuild reproduces the file's predictions (a few minutes on 2 cores).

The diagnoser of earlier releases, fitted on the MNIST / Fashion-MNIST corpora, is rebuilt for comparison with
``--legacy`` (:mod:`traindx.diagnose.legacy`; written to ``--out``, never over the default).

Example:
    $ python -m traindx.diagnose.build_default
    $ python -m traindx.diagnose.build_default --legacy --out /tmp/legacy_diagnoser
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from traindx.diagnose.default import expected_meta, fit_default, load_corpus, model_path
from traindx.diagnose.task_free_model import save_task_free


def build(corpus: str | Path | None = None, out: str | Path | None = None) -> tuple[Path, Path]:
    """Fit the default diagnoser on the corpus folder ``corpus`` and save it to ``out`` (.npz + .json)."""
    runs, curves = load_corpus(corpus)
    diag = fit_default(runs, curves)
    meta = expected_meta(corpus)
    meta["n_runs"] = int(len(runs))
    meta["n_tasks"] = int(runs["task"].nunique())
    return save_task_free(diag, out if out is not None else model_path(), meta=meta)


def build_legacy(out: str | Path) -> tuple[Path, Path]:
    """The MNIST / Fashion-MNIST forest diagnoser of earlier releases (for comparison tables)."""
    from traindx.diagnose.legacy import expected_meta as legacy_meta
    from traindx.diagnose.legacy import fit_default as legacy_fit
    from traindx.diagnose.legacy import load_corpus as legacy_corpus
    from traindx.diagnose.model_file import save_diagnoser

    runs, curves = legacy_corpus()
    return save_diagnoser(legacy_fit(runs, curves), out, meta={**legacy_meta(), "n_runs": int(len(runs))})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m traindx.diagnose.build_default", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--corpus", type=Path, default=None, help="corpus folder (default: the shipped one)")
    parser.add_argument("--out", type=Path, default=None, help="output path without suffix")
    parser.add_argument(
        "--legacy", action="store_true", help="build the MNIST-corpus forest diagnoser instead"
    )
    args = parser.parse_args(argv)
    if args.corpus is not None:
        os.environ["TRAINDX_CORPUS_DIR"] = str(args.corpus)  # so the recorded hash is the one checked at load
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    t0 = time.perf_counter()
    if args.legacy:
        if args.out is None:
            parser.error("--legacy needs --out (the shipped default is the task-free model)")
        npz, js = build_legacy(args.out)
    else:
        npz, js = build(args.corpus, args.out)
    print(f"wrote {npz} ({npz.stat().st_size / 1e6:.1f} MB) and {js} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
