"""Run a sweep into a run store: skip finished runs, write each result as it arrives, survive failures.

The calling process is the only writer of the store; workers return results to it. A crashing run is
recorded as ``failed`` with its error and the sweep goes on; a rerun retries failed runs and skips finished
ones, so an interrupted sweep loses at most the runs that were in flight.

Example:
    >>> import tempfile
    >>> from traindx.experiments.sweep import run_sweep
    >>> from traindx.store import RunStore
    >>> store = RunStore(tempfile.mkdtemp() + "/runs.duckdb")
    >>> cfgs = [{"dataset": "digits", "model": "logreg", "n_train": 200, "val_size": 100, "epochs": 2}]
    >>> run_sweep(cfgs, store, workers=0).finished
    1
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from traindx.experiments.backends import get_backend
from traindx.experiments.runner import run_id
from traindx.experiments.spec import SweepSpec
from traindx.store.runstore import RunStore


@dataclass
class SweepSummary:
    """What a sweep did: runs in the spec, skipped as already finished, finished, failed, and timings."""

    total: int
    skipped: int
    finished: int = 0
    failed: int = 0
    interrupted: bool = False
    wall_seconds: float = 0.0
    run_seconds: float = 0.0  # sum of the runs' own wall time (train + eval + data preparation)


def pending_configs(configs: list[dict[str, Any]], store: RunStore) -> list[dict[str, Any]]:
    """The configs whose run id is not finished in ``store`` (duplicates dropped)."""
    done = store.finished_ids()
    out, seen = [], set()
    for cfg in configs:
        rid = run_id(cfg)
        if rid not in done and rid not in seen:
            seen.add(rid)
            out.append(cfg)
    return out


def run_sweep(
    spec: SweepSpec | list[dict[str, Any]],
    store: RunStore,
    backend: str = "local",
    workers: int = 1,
    address: str | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> SweepSummary:
    """Run every unfinished config of ``spec`` on ``backend`` and write each result to ``store``.

    ``on_start(n_todo, n_skipped)`` and ``on_result(result)`` let a caller show progress. Ctrl-C stops the
    workers, keeps every run already written and returns a summary with ``interrupted=True``.
    """
    configs = spec.configs if isinstance(spec, SweepSpec) else list(spec)
    todo = pending_configs(configs, store)
    summary = SweepSummary(total=len(configs), skipped=len(configs) - len(todo))
    if on_start is not None:
        on_start(len(todo), summary.skipped)
    started = time.perf_counter()
    engine = get_backend(backend, workers=workers, address=address)
    try:
        with engine:
            for result in engine.imap_unordered(todo):
                run = result["run"]
                store.write_run(run, result.get("epochs"), result.get("signals"))
                summary.run_seconds += float(run.get("wall_seconds") or 0.0)
                if run["status"] == "finished":
                    summary.finished += 1
                else:
                    summary.failed += 1
                if on_result is not None:
                    on_result(result)
    except KeyboardInterrupt:
        summary.interrupted = True
    summary.wall_seconds = time.perf_counter() - started
    return summary
