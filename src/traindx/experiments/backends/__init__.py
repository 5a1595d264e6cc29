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


def get_backend(name: str, workers: int = 1, address: str | None = None) -> Backend:
    """Build a backend by name: ``"local"`` (process pool) or ``"ray"``."""
    if name == "local":
        if address:
            raise InputError("--address is for the ray backend; drop it or use --backend ray")
        return LocalBackend(workers=workers)
    if name == "ray":
        from traindx.experiments.backends.ray import RayBackend

        return RayBackend(workers=workers, address=address)
    raise InputError(f"unknown backend {name!r}; use one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "LocalBackend", "get_backend"]
