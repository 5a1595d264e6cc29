"""The finding: one diagnosed pathology, with its symptom, likely cause and fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["warning", "critical"]

#: Stable finding codes (see DESIGN.md). Outside code may match on these strings.
CODES: tuple[str, ...] = (
    "nan_inf",
    "exploding_gradients",
    "vanishing_gradients",
    "dead_relu",
    "saturation",
    "lr_too_high",
    "lr_too_low",
    "no_update",
    "loss_spike",
    "oscillation",
    "plateau",
    "overfitting",
    "underfitting",
    "poor_init",
    "input_scale",
    "indicator_disabled",
)

_RANK = {"warning": 1, "critical": 2}


@dataclass
class Finding:
    """A diagnosed pathology.

    ``step``/``epoch`` are where it was first seen; ``last_step`` and ``count`` grow as it recurs, and
    ``severity`` keeps the worst seen.

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
