"""The backend interface: run configs somewhere and hand results back to the driver as they complete.

A run whose worker process dies (killed, out of memory, a crash in native code) comes back as a failed run
whose error says how the process ended (:func:`died`), so the sweep records it and goes on.

Example:
    >>> from traindx.experiments.backends.base import Backend
    >>> Backend.__abstractmethods__ == frozenset({"imap_unordered", "close"})
    True
"""

from __future__ import annotations

import os
import signal
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

# Fault injection for testing crash handling: a worker given the run whose id is named here kills itself with
# the named signal before training (``"<run_id>:SIGKILL"``). Unset, it costs one environment lookup per run.
FAULT_ENV = "TRAINDX_FAULT_RUN"

# how often a driver waiting for runs looks for Ctrl-C (see DeferredInterrupt): well under a human's notice
POLL_SECONDS = 0.2


class Backend(ABC):
    """Runs :func:`traindx.experiments.runner.run_experiment` on many configs.

    Results come back to the calling process (the single writer of the run store) in completion order.
    """

    @abstractmethod
    def imap_unordered(self, configs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Yield one run result (``{"run": ..., "epochs": ...}``) per config as each completes."""

    @abstractmethod
    def close(self, cancel: bool = False) -> None:
        """Release workers; ``cancel=True`` drops runs in flight (after Ctrl-C)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(cancel=exc_type is not None)


class DeferredInterrupt:
    """Ctrl-C noted by a signal handler while a pool runs, and raised by the backend between its waits.

    A ``KeyboardInterrupt`` raised wherever the main thread happens to be can land while it holds a lock that
    the pool's own threads need (a future's condition, taken inside ``concurrent.futures.wait``); stopping the
    pool then waits on that lock for ever. Noting the signal and raising at a point of the backend's choosing
    keeps the stop clean. Outside the main thread (where no handler can be set) it does nothing.

    Example:
        >>> with DeferredInterrupt() as interrupt:
        ...     interrupt.check()  # raises KeyboardInterrupt once Ctrl-C was pressed
        >>> interrupt.requested
        False
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def _note(self, signum: int, frame: Any) -> None:
        self.requested = True

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if Ctrl-C came since the handler was set."""
        if self.requested:
            raise KeyboardInterrupt

    def __enter__(self) -> DeferredInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._note)
            self._installed = True
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._installed:
            # a handler set outside Python reads back as None; the interpreter's own one is the fallback
            signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)
            self._installed = False


def execute(config: dict[str, Any]) -> dict[str, Any]:
    """What a worker runs for one config: :func:`~traindx.experiments.runner.run_experiment`."""
    from traindx.experiments.runner import run_experiment

    fault = os.environ.get(FAULT_ENV)
    if fault:
        _maybe_die(config, fault)
    return run_experiment(config)


def _maybe_die(config: dict[str, Any], fault: str) -> None:
    from traindx.experiments.runner import run_id

    target, _, sig = fault.partition(":")
    if run_id(config) == target:
        os.kill(os.getpid(), getattr(signal, sig or "SIGKILL"))


def exit_cause(exitcode: int | None) -> str:
    """How a worker process ended, in words, from its exit code (negative: killed by that signal).

    Example:
        >>> exit_cause(-9)
        'the worker process running this run died: killed by SIGKILL (out of memory, or killed from outside)'
    """
    if exitcode is None:
        return "the worker process running this run died (exit status unknown)"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        why = {
            "SIGKILL": " (out of memory, or killed from outside)",
            "SIGSEGV": " (a crash in native code)",
            "SIGBUS": " (a crash in native code)",
            "SIGABRT": " (aborted by native code)",
        }.get(name, "")
        return f"the worker process running this run died: killed by {name}{why}"
    return f"the worker process running this run died: it exited with status {exitcode}"


def died(config: dict[str, Any], cause: str, wall_seconds: float = 0.0) -> dict[str, Any]:
    """The failed-run result for a config whose worker died; ``cause`` becomes its error."""
    from traindx.experiments.runner import canonical_config, run_id

    return {
        "run": {
            "run_id": run_id(config),
            "status": "failed",
            "error": f"WorkerDied: {cause}",
            "config": canonical_config(config),
            "train_seconds": 0.0,
            "eval_seconds": 0.0,
            "wall_seconds": float(wall_seconds),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
        "epochs": None,
    }
