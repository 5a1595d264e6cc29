"""The words of each finding code: the likely cause and concrete advice, gathered from the indicators.

Example:
    >>> ADVICE["nan_inf"][1].startswith("lower the learning rate")
    True
"""

from __future__ import annotations

from traindx.monitor.indicators import REGISTRY

#: code -> (likely cause, advice), in registry order; the monitor's own code last.
ADVICE: dict[str, tuple[str, str]] = {code: words for cls in REGISTRY for code, words in cls.codes.items()}
ADVICE["indicator_disabled"] = (
    "an indicator failed on this model and turned itself off; the others keep running",
    "report the message with the model's structure; the other findings are unaffected",
)
