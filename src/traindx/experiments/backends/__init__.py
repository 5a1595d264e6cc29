"""Where sweep runs execute: a local process pool or a Ray cluster.

Example:
    >>> from traindx.experiments.backends import get_backend
    >>> type(get_backend("local", workers=2)).__name__
    'LocalBackend'
"""

from __future__ import annotations

from traindx.errors import InputError
from traindx.experiments.backends.base import Backend
from traindx.experiments.backends.local import LocalBackend

BACKENDS = ("local", "ray")


def check_backend(name: str, workers: int = 1, address: str | None = None) -> None:
    """Raise InputError for a backend name, worker count or address that cannot work (nothing is started)."""
    if name not in BACKENDS:
        raise InputError(f"unknown backend {name!r}; use one of {', '.join(BACKENDS)}")
    if name == "local" and address:
        raise InputError("--address is for the ray backend; drop it or use --backend ray")
    if isinstance(workers, bool) or int(workers) < 0:
        raise InputError(f"workers={workers} must be >= 0 (0 runs in this process)")


def get_backend(name: str, workers: int = 1, address: str | None = None) -> Backend:
    """Build a backend by name: ``"local"`` (process pool) or ``"ray"``."""
    check_backend(name, workers, address)
    if name == "local":
        return LocalBackend(workers=workers)
    if name == "ray":
        from traindx.experiments.backends.ray import RayBackend

        return RayBackend(workers=workers, address=address)
    raise InputError(f"unknown backend {name!r}; use one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "LocalBackend", "check_backend", "get_backend"]
