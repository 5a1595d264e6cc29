"""A base for indicators that judge a per-layer share pooled over layers (dead units, saturated outputs)."""

from __future__ import annotations

from typing import ClassVar

from traindx.monitor.indicator import Indicator


class ShareIndicator(Indicator):
    """Pools ``values[key]`` [(share, size)] weighted by size and compares it with ``warning``/``critical``.

    Subclasses set ``key``, ``signal`` (the record's name), ``code`` and the three message templates.
    """

    key: ClassVar[str] = ""
    signal: ClassVar[str] = ""
    code: ClassVar[str] = ""
    detail_bad: ClassVar[str] = ""
    symptom: ClassVar[str] = ""
    detail_ok: ClassVar[str] = ""
    events = frozenset({"sample"})

    def update(self, ctx, values) -> None:
        parts = values[self.key]
        if not parts:
            return
        n = sum(size for _, size in parts)
        frac = sum(share * size for share, size in parts) / max(n, 1)
        ctx.record(self.signal, frac)
        pct = f"{100 * frac:.0f}"
        if ctx.persist(frac >= self.t("warning")):
            severity = "critical" if frac >= self.t("critical") else "warning"
            ctx.status(severity, frac, self.detail_bad.format(pct=pct, n=n))
            ctx.fire(self.code, severity, self.symptom.format(pct=pct, n=n), value=frac)
        else:
            ctx.status("ok", frac, self.detail_ok.format(pct=pct, n=n))
