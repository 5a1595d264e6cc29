"""The monitor's terminal view: a live status table during training and an end-of-run findings summary.

Each indicator shows one light (🟢 ok, 🟡 warning, 🔴 critical, ⚪ off or pending), its latest value and a
short detail. Where the terminal cannot show emoji (not a TTY, or an encoding other than UTF-8) the same
content is drawn with plain words (``OK``/``WARN``/``CRIT``/``off``/``wait``), and a non-interactive output
(a log file, CI) gets a plain-text block per epoch instead of a redrawing table.

The view only renders what the monitor returns (``Monitor.status()`` and ``Monitor.findings``); it never
changes the monitor.

Example:
    >>> from types import SimpleNamespace as S
    >>> print(status_text([S(name="nan_inf", level="ok", value=0.0, detail="finite")]))
    OK    nan_inf             0          finite
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from traindx.monitor.findings import Finding

LEVELS = ("ok", "warning", "critical", "off", "pending")

_EMOJI = {"ok": "🟢", "warning": "🟡", "critical": "🔴", "off": "⚪", "pending": "⚪"}
_WORDS = {"ok": "OK", "warning": "WARN", "critical": "CRIT", "off": "off", "pending": "wait"}
_STYLE = {"ok": "green", "warning": "yellow", "critical": "bold red", "off": "dim", "pending": "dim"}
_SEVERITY_ORDER = {"critical": 0, "warning": 1}


def supports_emoji(console: Console) -> bool:
    """Whether ``console`` can draw the colored-circle emoji: an interactive terminal with a UTF encoding.

    Example:
        >>> import io
        >>> supports_emoji(Console(file=io.StringIO()))
        False
    """
    encoding = (console.encoding or "").lower().replace("-", "")
    return bool(console.is_terminal and encoding.startswith("utf") and not console.legacy_windows)


def level_symbol(level: str, emoji: bool) -> str:
    """The light for one indicator level (unknown levels draw as ``?``).

    Example:
        >>> level_symbol("critical", emoji=False)
        'CRIT'
    """
    return (_EMOJI if emoji else _WORDS).get(level, "?")


def format_value(value: Any) -> str:
    """A compact, fixed-width-friendly number: ``-`` for none, 3 significant digits otherwise.

    Example:
        >>> format_value(0.000123456), format_value(None), format_value(12345.0)
        ('0.000123', '-', '1.23e+04')
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v) or math.isinf(v):
        return str(v)
    if v == 0:
        return "0"
    if 1e-4 <= abs(v) < 1e4:
        return f"{v:.3g}"
    return f"{v:.2e}"


def status_table(statuses: Sequence[Any], *, emoji: bool = True, title: str | None = None) -> Table:
    """A rich table with one row per indicator status (``name``, ``level``, ``value``, ``detail``).

    Example:
        >>> from types import SimpleNamespace as S
        >>> status_table([S(name="plateau", level="pending", value=None, detail="")]).row_count
        1
    """
    table = Table(title=title, title_justify="left", expand=False, pad_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("indicator", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("detail")
    for s in statuses:
        level = getattr(s, "level", "pending")
        table.add_row(
            Text(level_symbol(level, emoji), style=_STYLE.get(level, "")),
            str(getattr(s, "name", "?")),
            format_value(getattr(s, "value", None)),
            str(getattr(s, "detail", "") or ""),
        )
    return table


def status_text(statuses: Sequence[Any]) -> str:
    """The status table as plain text, one line per indicator (for logs and non-interactive output)."""
    lines = []
    for s in statuses:
        level = getattr(s, "level", "pending")
        lines.append(
            f"{level_symbol(level, False):<5} {getattr(s, 'name', '?'):<19} "
            f"{format_value(getattr(s, 'value', None)):<10} {getattr(s, 'detail', '') or ''}".rstrip()
        )
    return "\n".join(lines)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Critical before warning, then by the step first seen."""
    return sorted(findings, key=lambda f: (_SEVERITY_ORDER.get(f.severity, 2), f.step))


def _seen(f: Finding) -> str:
    where = f"step {f.step}" if f.last_step in (None, f.step) else f"steps {f.step}-{f.last_step}"
    if f.count > 1:
        where += f", {f.count}x"
    return where + (f", {f.layer}" if f.layer else "")


def findings_table(findings: Iterable[Finding], *, emoji: bool = True, title: str | None = None) -> Table:
    """The end-of-run summary: one row per finding, symptom → likely cause → fix.

    Example:
        >>> f = Finding("lr_too_high", "warning", 5, 0, "updates are 10x the weights", "lower the lr 3-10x")
        >>> findings_table([f]).row_count
        1
    """
    table = Table(title=title, title_justify="left", show_lines=True)
    table.add_column("", no_wrap=True)
    table.add_column("finding", no_wrap=True)
    table.add_column("symptom (seen at)")
    table.add_column("fix")
    for f in sort_findings(findings):
        table.add_row(
            Text(level_symbol(f.severity, emoji), style=_STYLE.get(f.severity, "")),
            f.code,
            f"{f.message} ({_seen(f)})",
            f.advice,
        )
    return table


def findings_text(findings: Iterable[Finding]) -> str:
    """The end-of-run summary as plain text: ``LEVEL code: symptom (seen at) -> fix`` per finding.

    Example:
        >>> f = Finding("nan_inf", "critical", 7, 0, "loss is NaN", "lower the lr; check inputs")
        >>> findings_text([f])
        'CRIT  nan_inf: loss is NaN (step 7) -> lower the lr; check inputs'
    """
    found = sort_findings(findings)
    if not found:
        return "no findings: every indicator stayed healthy"
    return "\n".join(
        f"{level_symbol(f.severity, False):<5} {f.code}: {f.message} ({_seen(f)}) -> {f.advice}"
        for f in found
    )


def render_summary(findings: Sequence[Finding], console: Console, title: str = "findings") -> None:
    """Print the end-of-run summary to ``console``: a table on a terminal, plain text otherwise."""
    if supports_emoji(console):
        if findings:
            console.print(findings_table(findings, emoji=True, title=title))
        else:
            console.print(
                f"[bold]{title}[/bold]: [green]no findings[/green] — every indicator stayed healthy"
            )
    else:
        console.print(f"{title}:", markup=False, highlight=False)
        console.print(findings_text(findings), markup=False, highlight=False, soft_wrap=True)


class LiveView:
    """Shows a monitor's indicator lights while training runs; a context manager.

    On an interactive terminal the table redraws in place (at most ``refresh_per_second``); elsewhere it
    prints a plain-text block at each :meth:`epoch_end` call, so logs stay readable. Call :meth:`update`
    after ``mon.step`` (cheap: it redraws only when rich's refresh is due) and :meth:`epoch_end` after
    ``mon.epoch_end``. The findings summary is printed on exit unless ``summary=False``.

    Example:
        >>> import io
        >>> from types import SimpleNamespace as S
        >>> mon = S(status=lambda: [S(name="nan_inf", level="ok", value=0, detail="")], findings=[])
        >>> out = io.StringIO()
        >>> with LiveView(mon, console=Console(file=out), title="run") as view:
        ...     view.epoch_end(1)
        >>> "nan_inf" in out.getvalue()
        True
    """

    def __init__(
        self,
        monitor: Any,
        console: Console | None = None,
        *,
        title: str = "training monitor",
        refresh_per_second: float = 4.0,
        summary: bool = True,
    ) -> None:
        self.monitor = monitor
        self.console = console if console is not None else Console()
        self.title = title
        self.refresh_per_second = refresh_per_second
        self.summary = summary
        self.emoji = supports_emoji(self.console)
        self._live: Live | None = None
        self._caption = ""
        self._last_draw = 0.0

    def _renderable(self) -> Group:
        table = status_table(self.monitor.status(), emoji=self.emoji, title=self.title)
        return Group(table, Text(self._caption, style="dim")) if self._caption else Group(table)

    def __enter__(self) -> LiveView:
        if self.console.is_terminal:
            self._live = Live(
                self._renderable(),
                console=self.console,
                refresh_per_second=self.refresh_per_second,
                auto_refresh=False,
            )
            self._live.__enter__()
        return self

    def update(self, caption: str | None = None) -> None:
        """Redraw the live table (interactive terminals only), e.g. after each training step."""
        if caption is not None:
            self._caption = caption
        now = time.monotonic()
        # status() and a redraw cost far more than a step's bookkeeping, so redraw at the refresh rate only
        if self._live is not None and now - self._last_draw >= 1.0 / self.refresh_per_second:
            self._last_draw = now
            self._live.update(self._renderable(), refresh=True)

    def epoch_end(self, epoch: int, caption: str | None = None) -> None:
        """Redraw after an epoch; on non-interactive output print a plain-text status block."""
        if caption is not None:
            self._caption = caption
        if self._live is not None:
            self._last_draw = time.monotonic()
            self._live.update(self._renderable(), refresh=True)
            return
        header = f"{self.title} | {self._caption or f'epoch {epoch}'}"
        self.console.print(header, markup=False, highlight=False, soft_wrap=True)
        self.console.print(status_text(self.monitor.status()), markup=False, highlight=False, soft_wrap=True)

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._renderable(), refresh=True)
            self._live.__exit__(*exc)
            self._live = None
        if self.summary:
            render_summary(list(self.monitor.findings), self.console, title=f"{self.title}: findings")
