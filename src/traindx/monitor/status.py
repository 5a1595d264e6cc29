"""One indicator's current state, as the live view shows it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["ok", "warning", "critical", "off", "pending"]


@dataclass
class IndicatorStatus:
    """The light, latest value and a short detail of one indicator.

    ``off``: the indicator does not apply to this model (e.g. saturation without tanh/sigmoid) or was
    disabled after an error; ``pending``: not enough evidence yet.

    Example:
        >>> IndicatorStatus("nan_inf", "ok", 0.0, "all finite").level
        'ok'
    """

    name: str
    level: Level
    value: float | None
    detail: str
