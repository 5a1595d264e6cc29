"""The exceptions traindx raises for bad input: each message names the problem and the fix."""

from __future__ import annotations

import numbers
from typing import Any


class TraindxError(Exception):
    """Base class for errors raised by traindx."""


class InputError(TraindxError, ValueError):
    """Input data are malformed (wrong columns, NaN curves, empty runs, ...).

    Example:
        >>> raise InputError("curve table has no 'epoch' column; add a 1-based epoch per row")
        Traceback (most recent call last):
        ...
        traindx.errors.InputError: curve table has no 'epoch' column; add a 1-based epoch per row
    """


class MissingDependencyError(TraindxError, ImportError):
    """An optional integration is needed but not installed."""


def require(module: str, extra: str):
    """Import an optional dependency or raise an error naming the extra that installs it.

    Example:
        >>> require("json", "none").__name__
        'json'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        if getattr(exc, "name", None) not in (None, module, module.split(".")[0]):
            # installed, but something it imports is missing (e.g. Keras without its chosen backend)
            raise MissingDependencyError(f"{module!r} is installed but failed to import: {exc}") from exc
        raise MissingDependencyError(
            f"{module!r} is required for this feature; install it with: pip install 'traindx[{extra}]'"
        ) from exc


def is_positive_int(value: Any) -> bool:
    """Whether ``value`` is a whole number >= 1 (a Python or NumPy integer, not a bool): the check behind
    every count argument (steps, examples).

    Example:
        >>> [is_positive_int(v) for v in (3, 0, True, 2.0)]
        [True, False, False, False]
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1
