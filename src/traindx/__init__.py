"""traindx: diagnoses neural-network training.

Four parts share one package: a live monitor for PyTorch runs (:class:`Monitor`), a learning-curve
meta-diagnoser (:func:`diagnose`, :class:`CurveDiagnoser`), loss-landscape diagnosis (:mod:`traindx.landscape`)
and meta-learning (:mod:`traindx.search`). Heavy submodules load on first use, so ``import traindx`` is cheap.

Example:
    >>> import traindx as tdx
    >>> tdx.Finding.__name__
    'Finding'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> (module, attribute); attribute None means the module itself
_LAZY: dict[str, tuple[str, str | None]] = {
    "Monitor": ("traindx.monitor", "Monitor"),
    "Finding": ("traindx.monitor.findings", "Finding"),
    "load_runs": ("traindx.store", "load_runs"),
    "CurveDiagnoser": ("traindx.diagnose", "CurveDiagnoser"),
    "diagnose": ("traindx.diagnose", "diagnose"),
    "EarlyStopping": ("traindx.search", "EarlyStopping"),
    "signals": ("traindx.signals", None),
    "monitor": ("traindx.monitor", None),
    "experiments": ("traindx.experiments", None),
    "store": ("traindx.store", None),
    "curves": ("traindx.curves", None),
    "landscape": ("traindx.landscape", None),
    "search": ("traindx.search", None),
    "report": ("traindx.report", None),
    "tasks": ("traindx.experiments.tasks", None),
}

__all__ = [
    "CurveDiagnoser",
    "EarlyStopping",
    "Finding",
    "Monitor",
    "curves",
    "diagnose",
    "experiments",
    "landscape",
    "load_runs",
    "monitor",
    "report",
    "search",
    "signals",
    "store",
    "tasks",
]


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'traindx' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover
    from traindx import curves, experiments, landscape, monitor, report, search, signals, store
    from traindx.diagnose import CurveDiagnoser, diagnose
    from traindx.experiments import tasks
    from traindx.monitor import Monitor
    from traindx.monitor.findings import Finding
    from traindx.search import EarlyStopping
    from traindx.store import load_runs
