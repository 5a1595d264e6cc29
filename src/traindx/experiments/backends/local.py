"""Local backend: a process pool (spawn context), one torch thread per worker.

For small networks on CPU, N single-threaded processes beat one process with N threads: the per-op work is too
small for intra-op parallelism to pay (measured in benchmarks/sweep.py).

Example:
    >>> from traindx.experiments.backends.local import LocalBackend
    >>> with LocalBackend(workers=1) as b:  # doctest: +SKIP
    ...     results = list(b.imap_unordered([{"dataset": "digits", "model": "logreg", "epochs": 1}]))
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections.abc import Iterator
from typing import Any

from traindx.errors import InputError
from traindx.experiments.backends.base import Backend


def _init_worker() -> None:
    # Ctrl-C is the driver's to handle: it terminates the pool, so workers ignore SIGINT and never die mid-write
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


def _run(config: dict[str, Any]) -> dict[str, Any]:
    from traindx.experiments.runner import run_experiment

    return run_experiment(config)


class LocalBackend(Backend):
    """Run configs in ``workers`` spawned processes (``workers=0`` runs them in this process)."""

    def __init__(self, workers: int = 1) -> None:
        if int(workers) < 0:
            raise InputError(f"workers={workers} must be >= 0 (0 runs in this process)")
        self.workers = int(workers)
        self._pool = None

    def imap_unordered(self, configs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        if self.workers == 0:
            import torch

            torch.set_num_threads(1)
            for cfg in configs:
                yield _run(cfg)
            return
        ctx = mp.get_context("spawn")
        self._pool = ctx.Pool(processes=self.workers, initializer=_init_worker, maxtasksperchild=None)
        yield from self._pool.imap_unordered(_run, configs, chunksize=1)

    def close(self, cancel: bool = False) -> None:
        if self._pool is None:
            return
        if cancel:
            self._pool.terminate()
        else:
            self._pool.close()
        self._pool.join()
        self._pool = None
