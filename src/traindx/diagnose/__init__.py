"""traindx.diagnose: meta-models that read learning curves.

``traindx.diagnose`` is both this subpackage and the function :func:`traindx.diagnose.api.diagnose`: importing
the subpackage binds its name on ``traindx``, so the module itself is made callable and forwards to the
function. ``tdx.diagnose(curves)`` and ``tdx.diagnose.CurveDiagnoser`` both work.

Example:
    >>> import traindx as tdx
    >>> tdx.diagnose.CurveDiagnoser().model, callable(tdx.diagnose)
    ('rf', True)
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from traindx.diagnose.api import diagnose, drivers

__all__ = ["MODELS", "CurveDiagnoser", "diagnose", "drivers"]

if TYPE_CHECKING:  # pragma: no cover
    from traindx.diagnose.curve_diagnoser import MODELS, CurveDiagnoser


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return diagnose(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # scikit-learn loads only when the estimator is asked for: diagnosing with the shipped model needs none
        if name in ("MODELS", "CurveDiagnoser"):
            from traindx.diagnose import curve_diagnoser

            return getattr(curve_diagnoser, name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")


sys.modules[__name__].__class__ = _CallableModule
