"""traindx.landscape: Hessian spectrum, CKA, mode connectivity and the MD tree.

Torch-heavy modules load on first use, so ``import traindx.landscape`` stays cheap.

Example:
    >>> import traindx.landscape as L
    >>> L.MDTree("batch_size").question
    'batch_size'
"""

from __future__ import annotations

import importlib

_NAMES = {
    "hessian_top_eigenvalue": "hessian",
    "hessian_eigenvalues": "hessian",
    "hessian_trace": "hessian",
    "hessian_density": "hessian",
    "HessianEstimate": "hessian",
    "cka": "cka",
    "mode_connectivity": "connectivity",
    "Connectivity": "connectivity",
    "MDTree": "mdtree",
    "read_model_diagnosis_csv": "io",
    "model_diagnosis_metrics": "metrics",
    "load_model": "modelfile",
    "save_model": "modelfile",
}
__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        value = getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
