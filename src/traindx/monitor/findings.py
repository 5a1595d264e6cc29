"""The finding: one diagnosed pathology, with its symptom, likely cause and fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["warning", "critical"]

#: Codes that belong to the monitor itself rather than to an indicator.
MONITOR_CODES: tuple[str, ...] = ("indicator_disabled",)


def __getattr__(name: str):
    # CODES is built from the indicator registry, which imports this module: resolve it on first use
    if name == "CODES":
        from traindx.monitor.advice import ADVICE

        return tuple(ADVICE)
    raise AttributeError(name)


_RANK = {"warning": 1, "critical": 2}


@dataclass
class Finding:
    """A diagnosed pathology.

    ``step``/``epoch`` are where it was first seen; ``last_step`` and ``count`` grow as it recurs, and
    ``severity`` keeps the worst seen. ``primary`` is False when another finding of the same episode explains
    this one, and ``caused_by`` then names that finding's code (see :mod:`traindx.monitor.diagnosis`).

    Example:
        >>> f = Finding("lr_too_high", "warning", step=10, epoch=0, message="updates are large", advice="lower lr")
        >>> f.code, f.severity
        ('lr_too_high', 'warning')
    """

    code: str
    severity: Severity
    step: int
    epoch: int
    message: str
    advice: str
    last_step: int | None = None
    count: int = 1
    layer: str | None = None
    value: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    primary: bool = True
    caused_by: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in _RANK:
            raise ValueError(f"severity must be 'warning' or 'critical', got {self.severity!r}")
        if self.last_step is None:
            self.last_step = self.step

    def merge(self, other: Finding) -> None:
        """Fold a recurrence of the same finding into this one (worst severity wins)."""
        self.last_step = max(self.last_step or other.step, other.step)
        self.count += other.count
        if _RANK[other.severity] > _RANK[self.severity]:
            self.severity = other.severity
            self.message, self.advice, self.value = other.message, other.advice, other.value

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
