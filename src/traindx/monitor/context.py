"""What an indicator sees of the monitor: the run so far, and three ways to report.

Example:
    >>> import torch, traindx as tdx
    >>> mon = tdx.Monitor(torch.nn.Linear(2, 1), every=1)
    >>> ctx = mon._contexts["nan_inf"]
    >>> ctx.status("ok", 0.0, "finite"); mon.status()[0].detail
    'finite'
    >>> mon.close()
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from traindx.monitor.indicator import Indicator
    from traindx.monitor.monitor import Monitor

#: A finding needs its condition in K of the last N evaluations (persistence keeps one noisy sample from
#: alarming; AutoTrainer likewise waits for symptoms to persist before acting).
PERSIST_K, PERSIST_N = 2, 3


class Context:
    """One indicator's handle on its monitor (status, record, fire, persistence, the run's loss)."""

    def __init__(self, monitor: Monitor, indicator: Indicator) -> None:
        self._mon = monitor
        self._ind = indicator
        self._evidence: dict[str, deque] = {}

    @property
    def step(self) -> int:
        """The step being judged (0-based)."""
        return self._mon._at

    @property
    def epoch(self) -> int:
        return self._mon._epoch

    @property
    def loss(self):
        """The run's :class:`~traindx.monitor.loss_track.LossTrack`."""
        return self._mon._loss

    @property
    def epochs(self) -> list[dict[str, float]]:
        """Metrics of every ``epoch_end`` so far."""
        return self._mon._epochs

    @property
    def probe(self) -> Any:
        """The model's :class:`~traindx.monitor.torch.TorchProbe` (its layers and modules)."""
        return self._mon._probe

    @property
    def grad_scaler(self) -> Any:
        return self._mon.grad_scaler

    @property
    def optimizer(self) -> Any:
        return self._mon.optimizer

    def status(self, level: str, value: float | None, detail: str) -> None:
        """Set this indicator's light, latest value and detail."""
        self._mon._set(self._ind.name, level, value, detail)

    def record(self, name: str, value: float, layer: str = "", step: int | None = None) -> None:
        """Add a row to the signal record."""
        self._mon._record(self.step if step is None else step, name, value, layer)

    def fire(self, code: str, severity: str, symptom: str, *, step: int | None = None, **kw: Any) -> None:
        """Report a finding (``code`` must be one of this indicator's codes)."""
        if code not in self._ind.codes:
            raise ValueError(f"indicator {self._ind.name!r} has no code {code!r}")
        self._mon._fire(code, severity, symptom, step=step, words=self._ind.codes[code], **kw)

    def persist(self, flag: bool, k: int = PERSIST_K, n: int = PERSIST_N, key: str = "") -> bool:
        """Whether ``flag`` held in ``k`` of the last ``n`` evaluations (per ``key``)."""
        ev = self._evidence.get(key)
        if ev is None or ev.maxlen != n:
            ev = self._evidence[key] = deque(ev or (), maxlen=n)
        ev.append(bool(flag))
        return sum(ev) >= k

    def has(self, code: str) -> bool:
        """Whether ``code`` has fired in this run."""
        return code in self._mon._findings

    def level(self) -> str:
        return self._mon._status[self._ind.name].level
