"""Local backend: a process pool (spawn context), one torch thread per worker.

For small networks on CPU, N single-threaded processes beat one process with N threads: the per-op work is too
small for intra-op parallelism to pay (measured in benchmarks/sweep.py). The pool is pebble's, which notices a
worker that dies mid-run (killed, out of memory, segfault), fails that run with the cause and starts a new
worker, where the standard library's pool would wait for the lost result forever.

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
from concurrent.futures import FIRST_COMPLETED, wait
from typing import Any

from traindx.errors import InputError
from traindx.experiments.backends.base import (
    POLL_SECONDS,
    Backend,
    DeferredInterrupt,
    died,
    execute,
    exit_cause,
)


def _init_worker() -> None:
    # Ctrl-C is the driver's to handle: it stops the pool, so workers ignore SIGINT and never die mid-write
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


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
                yield execute(cfg)
            return
        from pebble import ProcessPool

        with DeferredInterrupt() as interrupt:
            self._pool = ProcessPool(
                max_workers=self.workers, initializer=_init_worker, context=mp.get_context("spawn")
            )
            pending = {self._pool.schedule(execute, args=(cfg,)): cfg for cfg in configs}
            while pending:
                interrupt.check()
                done, _ = wait(list(pending), timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                yield from self._results(done, pending)

    @staticmethod
    def _results(done: set, pending: dict) -> Iterator[dict[str, Any]]:
        from pebble import ProcessExpired

        for future in done:
            cfg = pending.pop(future)
            try:
                yield future.result()
            except ProcessExpired as exc:
                yield died(cfg, exit_cause(exc.exitcode))
            except Exception as exc:  # the worker could not hand the result back (say, unpicklable)
                yield died(cfg, f"the worker failed to return the run: {type(exc).__name__}: {exc}")

    def close(self, cancel: bool = False) -> None:
        if self._pool is None:
            return
        if cancel:
            self._pool.stop()
        else:
            self._pool.close()
        self._pool.join()
        self._pool = None
