"""The backend interface: run configs somewhere and hand results back to the driver as they complete.

Example:
    >>> from traindx.experiments.backends.base import Backend
    >>> Backend.__abstractmethods__ == frozenset({"imap_unordered", "close"})
    True
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any


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
