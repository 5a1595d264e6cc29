"""``traindx monitor-report``: the HTML page of a monitor's signal record."""

from __future__ import annotations

from pathlib import Path

import typer

from traindx.cli.app import command, output_file, writing


@command(name="monitor-report")
def monitor_report(
    record: Path = typer.Argument(..., help="Signal record Monitor.save wrote (.parquet or .csv)."),
    html: Path = typer.Option(None, "--html", help="Page to write (default: the record's name, .html)."),
) -> None:
    """Draw each indicator of a monitor's signal record over the steps, with its findings marked.

    The findings are read from <record stem>.findings.json beside the record when it is there.

    Example: traindx monitor-report traindx-demo/lr_too_high_signals.parquet
    """
    from traindx.report.signals import load_signal_record, signals_report

    out = output_file(html or Path(record).with_suffix(".html"), "--html")
    hist, findings = load_signal_record(record)
    with writing(out) as tmp:
        signals_report(hist, findings, tmp, title=f"traindx: monitor signals of {Path(record).name}")
    n = hist["name"].nunique()
    typer.echo(f"wrote {out}: {n} signal(s), {len(findings)} finding(s)")
