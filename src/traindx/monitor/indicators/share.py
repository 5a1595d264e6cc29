"""A base for indicators that judge a per-layer share pooled over layers (dead units, saturated outputs)."""

from __future__ import annotations

import math
from typing import ClassVar

from traindx.monitor.indicator import Indicator


class ShareIndicator(Indicator):
    """Pools ``values[key]`` [(share, size)] weighted by size and compares it with ``warning``/``critical``.

    Subclasses set ``key``, ``signal`` (the record's name), ``code`` and the three message templates.

    A share over the limit needs two samples of three; at an epoch end the latest sample's share counts
    again only with new evidence from the epoch's losses (read with ``epoch_end`` anyway): the run has not
    learned at all, at two epoch ends of three. So a run whose budget affords only its first sample (a short
    MLP run) is judged too.
    """

    key: ClassVar[str] = ""
    signal: ClassVar[str] = ""
    code: ClassVar[str] = ""
    detail_bad: ClassVar[str] = ""
    symptom: ClassVar[str] = ""
    detail_ok: ClassVar[str] = ""
    events = frozenset({"sample", "epoch"})

    def __init__(self) -> None:
        self._last: tuple[float, int] | None = None  # the latest sample's pooled share and unit count

    def update(self, ctx, values) -> None:
        if self.key not in values:  # epoch end
            lt = ctx.loss
            if self._last is not None and not math.isnan(lt.improvement()):
                frac, n = self._last
                self._judge(ctx, frac, n, ctx.persist(frac >= self.t("warning") and lt.stuck(), key="epoch"))
            return
        parts = values[self.key]
        if not parts:
            return
        n = sum(size for _, size in parts)
        frac = sum(share * size for share, size in parts) / max(n, 1)
        ctx.record(self.signal, frac)
        self._last = (frac, n)
        self._judge(ctx, frac, n, ctx.persist(frac >= self.t("warning")))

    def _judge(self, ctx, frac: float, n: int, bad: bool) -> None:
        pct = f"{100 * frac:.0f}"
        if bad:
            severity = "critical" if frac >= self.t("critical") else "warning"
            ctx.status(severity, frac, self.detail_bad.format(pct=pct, n=n))
            ctx.fire(self.code, severity, self.symptom.format(pct=pct, n=n), value=frac)
        else:
            ctx.status("ok", frac, self.detail_ok.format(pct=pct, n=n))
