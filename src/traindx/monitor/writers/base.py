"""What every writer is: a sink for the monitor's indicator values and findings.

A :class:`Writer` gets ``write(step, values)`` with the indicator values recorded at one step (names like
``gradient_norm`` for whole-model values, ``grad_rms/fc1`` for per-layer ones), ``write_findings(findings)``
with the findings that are new or changed since the last call, and ``close()``. :class:`WriterSet` is the
monitor's side: it turns the signal record into those calls, each row once, and keeps a failing writer from
touching the training run (the writer is dropped with one warning).

Example:
    >>> class Printer(Writer):
    ...     def write(self, step, values):
    ...         print(step, values)
    >>> import pandas as pd
    >>> class Source:
    ...     history = pd.DataFrame({"step": [0, 0], "epoch": [0, 0], "name": ["loss", "grad_rms"],
    ...                             "layer": ["", "fc1"], "value": [0.7, 0.1]})
    ...     findings = []
    >>> ws = WriterSet([Printer()]); ws.flush(Source())
    0 {'loss': 0.7, 'grad_rms/fc1': 0.1}
    >>> ws.flush(Source())  # rows are written once
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from traindx.errors import InputError

#: how often (seconds) sampled steps push new rows to the writers between epoch ends
FLUSH_SECONDS = 30.0


class Writer:
    """Base class: override :meth:`write`, and :meth:`write_findings` / :meth:`close` where useful."""

    def write(self, step: int, values: Mapping[str, float]) -> None:
        """Send the indicator values recorded at ``step``."""
        raise NotImplementedError

    def write_findings(self, findings: Sequence[Any]) -> None:
        """Send findings that are new or changed (count, severity) since the last call."""

    def close(self) -> None:
        """Flush and release what the writer holds."""


def ranked(findings: Iterable[Any]) -> list[Any]:
    """Findings in the monitor's order (episodes, primary finding first): a later finding can change it."""
    from traindx.monitor.diagnosis import diagnose

    return [f for d in diagnose(findings) for f in (d.primary, *d.symptoms)]


def series_name(name: str, layer: str) -> str:
    """The value's name as writers show it: ``name`` or ``name/layer``."""
    return f"{name}/{layer}" if layer else name


class WriterSet:
    """The writers of one monitor: feeds each the rows and findings it has not seen yet.

    ``writers`` is a sequence of :class:`Writer` objects or registry names (``"tensorboard"``, ``"mlflow"``,
    ``"wandb"``), which are built with their defaults.
    """

    def __init__(self, writers: Iterable[Writer | str] | None = ()) -> None:
        from traindx.monitor.writers.registry import make_writer

        if isinstance(writers, (str, Writer)):
            writers = [writers]
        self.writers: list[Writer] = []
        for w in writers or ():
            w = make_writer(w) if isinstance(w, str) else w
            if not isinstance(w, Writer):
                raise InputError(
                    f"writers must be traindx Writer objects or names, got {type(w).__name__}; "
                    "e.g. writers=[TensorBoardWriter('runs/x')] or writers=['tensorboard']"
                )
            self.writers.append(w)
        self._rows = 0
        self._seen: dict[str, tuple] = {}
        self._last = time.monotonic()

    def __bool__(self) -> bool:
        return bool(self.writers)

    def maybe_flush(self, source: Any) -> None:
        """Flush when :data:`FLUSH_SECONDS` have passed since the last flush (called on sampled steps)."""
        if self.writers and time.monotonic() - self._last >= FLUSH_SECONDS:
            self.flush(source)

    def flush(self, source: Any) -> None:
        """Send ``source.history`` rows not written yet and findings new or changed since the last flush."""
        self._last = time.monotonic()
        if not self.writers:
            return
        hist = source.history
        new = hist.iloc[self._rows :]
        self._rows = len(hist)
        by_step: dict[int, dict[str, float]] = {}
        for step, name, layer, value in zip(
            new["step"], new["name"], new["layer"], new["value"], strict=True
        ):
            by_step.setdefault(int(step), {})[series_name(name, layer)] = float(value)
        changed = []
        for f in source.findings:
            key = (f.count, f.severity, f.last_step, getattr(f, "caused_by", None))
            if self._seen.get(f.code) != key:
                self._seen[f.code] = key
                changed.append(f)
        for w in list(self.writers):
            try:
                for step, values in by_step.items():
                    w.write(step, values)
                if changed:
                    w.write_findings(changed)
            except Exception as exc:  # noqa: BLE001 - a broken sink must never stop the training run
                self._drop(w, exc)

    def close(self, source: Any | None = None) -> None:
        """Flush what is left (when ``source`` is given), then close every writer."""
        if source is not None:
            self.flush(source)
        for w in self.writers:
            try:
                w.close()
            except Exception as exc:  # noqa: BLE001
                warnings.warn(f"traindx: closing {type(w).__name__} failed: {exc}", stacklevel=2)
        self.writers = []

    def _drop(self, w: Writer, exc: BaseException) -> None:
        self.writers.remove(w)
        warnings.warn(
            f"traindx: {type(w).__name__} failed ({type(exc).__name__}: {exc}); it is off for the rest of the run",
            stacklevel=3,
        )


def findings_markdown(findings: Sequence[Any]) -> str:
    """A Markdown table of findings (TensorBoard's text plugin and W&B render it).

    Example:
        >>> from traindx.monitor import Finding
        >>> print(findings_markdown([Finding("nan_inf", "critical", 3, 0, "loss is nan", "lower lr")]))
        | code | severity | step | count | message | advice |
        |---|---|---|---|---|---|
        | nan_inf | critical | 3 | 1 | loss is nan | lower lr |
    """
    lines = ["| code | severity | step | count | message | advice |", "|---|---|---|---|---|---|"]
    for f in findings:
        cells = [f.code, f.severity, str(f.step), str(f.count), f.message, f.advice]
        lines.append("| " + " | ".join(c.replace("|", "/").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines)
