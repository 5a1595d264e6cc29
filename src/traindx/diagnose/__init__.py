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

from traindx.diagnose.api import diagnose, drivers
from traindx.diagnose.curve_diagnoser import MODELS, CurveDiagnoser

__all__ = ["MODELS", "CurveDiagnoser", "diagnose", "drivers"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return diagnose(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
