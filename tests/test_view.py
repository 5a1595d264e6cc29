"""The monitor's terminal view: lights, plain-text fallback, live table and findings summary."""

from __future__ import annotations

import io
from dataclasses import dataclass

from rich.console import Console

from traindx.monitor.findings import Finding
from traindx.monitor.view import (
    LiveView,
    findings_table,
    findings_text,
    format_value,
    level_symbol,
    render_summary,
    status_table,
    status_text,
    supports_emoji,
)


@dataclass
class Status:
    name: str
    level: str
    value: float | None
    detail: str


STATUSES = [
    Status("nan_inf", "ok", 0.0, "loss finite"),
    Status("update_ratio", "warning", 0.21, "updates 21% of weights"),
    Status("exploding_gradients", "critical", 3.4e5, "grad norm 1e4x baseline"),
    Status("saturation", "off", None, "no tanh/sigmoid"),
    Status("overfitting", "pending", None, "needs val metrics"),
]

FINDINGS = [
    Finding(
        "lr_too_high", "warning", 40, 1, "updates are 20% of the weights", "lower the learning rate 3-10x"
    ),
    Finding("nan_inf", "critical", 55, 1, "loss became NaN", "lower the learning rate; check the inputs"),
]


class FakeMonitor:
    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.calls = 0

    def status(self):
        self.calls += 1
        return STATUSES


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=terminal, width=120, color_system=None, _environ={}), buf


def test_emoji_only_on_utf_terminals():
    assert supports_emoji(_console(True)[0])
    assert not supports_emoji(_console(False)[0])  # a pipe or a log file
    ascii_file = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    assert not supports_emoji(Console(file=ascii_file, force_terminal=True))  # e.g. LANG=C


def test_every_level_has_a_light_and_a_word():
    lights = {level: level_symbol(level, emoji=True) for level in ("ok", "warning", "critical", "off")}
    assert lights == {"ok": "🟢", "warning": "🟡", "critical": "🔴", "off": "⚪"}
    words = [level_symbol(level, emoji=False) for level in ("ok", "warning", "critical", "off", "pending")]
    assert words == ["OK", "WARN", "CRIT", "off", "wait"]
    assert all(w.isascii() for w in words)


def test_values_are_compact():
    assert format_value(0.0123456) == "0.0123"
    assert format_value(3.4e5) == "3.40e+05"
    assert format_value(float("nan")) == "nan"
    assert format_value(None) == "-"


def test_status_table_has_a_row_per_indicator_with_lights():
    console, buf = _console(True)
    console.print(status_table(STATUSES, emoji=True, title="run"))
    text = buf.getvalue()
    for s in STATUSES:
        assert s.name in text
    assert "🔴" in text and "🟡" in text and "🟢" in text
    assert "3.40e+05" in text


def test_plain_text_fallback_is_ascii_and_complete():
    text = status_text(STATUSES)
    assert text.isascii()
    lines = text.splitlines()
    assert len(lines) == len(STATUSES)
    assert lines[2].startswith("CRIT") and "exploding_gradients" in lines[2]


def test_findings_summary_lists_symptom_and_fix_critical_first():
    text = findings_text(FINDINGS)
    first, second = text.splitlines()
    assert first.startswith("CRIT  nan_inf: loss became NaN (step 55)")
    assert "-> lower the learning rate 3-10x" in second
    assert findings_table(FINDINGS).row_count == 2
    assert "no findings" in findings_text([])


def test_recurring_finding_shows_its_span_and_count():
    f = Finding("loss_spike", "warning", 10, 0, "loss 8x its running mean", "lower the learning rate")
    f.merge(Finding("loss_spike", "critical", 90, 1, "loss 30x its running mean", "add gradient clipping"))
    text = findings_text([f])
    assert "CRIT" in text and "steps 10-90, 2x" in text and "gradient clipping" in text


def test_live_view_on_a_pipe_prints_plain_blocks_per_epoch_and_the_summary():
    mon = FakeMonitor()
    console, buf = _console(False)
    with LiveView(mon, console=console, title="healthy") as view:
        for _ in range(50):
            view.update("step")  # no terminal: nothing is drawn per step
        view.epoch_end(1, "epoch 1/1 val_acc 0.9")
        mon.findings = FINDINGS
    out = buf.getvalue()
    assert out.isascii()
    assert mon.calls == 1  # only the epoch block asked for the status
    assert "healthy | epoch 1/1 val_acc 0.9" in out
    assert "CRIT  exploding_gradients" in out
    assert "CRIT  nan_inf: loss became NaN" in out


def test_live_view_on_a_terminal_redraws_at_its_refresh_rate():
    mon = FakeMonitor()
    console, buf = _console(True)
    with LiveView(mon, console=console, title="run", refresh_per_second=1e-6) as view:
        for _ in range(100):
            view.update()
        view.epoch_end(1)
    # the first update draws; the rest fall inside the refresh interval; epoch ends always redraw
    assert mon.calls <= 5
    out = buf.getvalue()
    assert "🟢" in out and "exploding_gradients" in out
    assert "no findings" in out


def test_summary_on_a_terminal_is_a_table():
    console, buf = _console(True)
    render_summary(FINDINGS, console, title="run: findings")
    out = buf.getvalue()
    assert "🔴" in out and "lr_too_high" in out and "lower the learning rate 3-10x" in out
