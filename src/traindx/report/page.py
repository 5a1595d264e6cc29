"""The demo's HTML report: one self-contained page with every stage's result.

Sections: the sweep (one row per run with its findings), the learning curves with the diagnosis' calls, the
monitor's indicator plots with each finding marked where it fired, the diagnosis table (state now, where each
run is heading, likely cause, advice), the suggested configurations, and the MD tree's answer. plotly's
JavaScript is inlined once in the page, so it opens offline in any browser.

Example:
    >>> import pandas as pd
    >>> h = pd.DataFrame({"step": [0, 1, 2], "epoch": 0, "name": "loss", "layer": "", "value": [2.3, 1.9, 9.0]})
    >>> fig = indicator_figure({"run": (h, [])})
    >>> len(fig.data)
    1
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import pandas as pd

#: whole-model indicators drawn per run, in this order, when the run recorded them
INDICATORS = ("loss", "gradient_norm", "update_ratio", "dead_fraction")
SEVERITY_COLOUR = {"critical": "#d62728", "warning": "#ff9f1c"}


def indicator_figure(runs: dict[str, tuple[pd.DataFrame, list]], indicators=INDICATORS):
    """One row of charts per run (its whole-model indicator values per step), findings marked with an X.

    ``runs`` maps a run name to (monitor history in the long format of ``Monitor.history``, findings).
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    present = [i for i in indicators if any((h["name"] == i).any() for h, _ in runs.values())]
    cols = max(len(present), 1)
    names = list(runs)
    fig = make_subplots(
        rows=len(names),
        cols=cols,
        subplot_titles=[f"{n}: {i}" for n in names for i in present],
        vertical_spacing=min(0.12, 0.8 / max(len(names), 1)),
        horizontal_spacing=0.07,
    )
    for r, name in enumerate(names, start=1):
        hist, findings = runs[name]
        whole = hist[hist["layer"].fillna("") == ""]
        for c, ind in enumerate(present, start=1):
            series = whole[whole["name"] == ind].sort_values("step")
            if series.empty:
                continue
            fig.add_trace(
                go.Scatter(
                    x=series["step"],
                    y=series["value"],
                    mode="lines",
                    name=ind,
                    showlegend=False,
                    line={"color": "#1f77b4", "width": 1},
                ),  # fmt: skip
                row=r,
                col=c,
            )
            if ind != "loss" or not findings:
                continue
            at = [f.step for f in findings]
            y = [float(series["value"].iloc[(series["step"] - s).abs().argmin()]) for s in at]
            fig.add_trace(
                go.Scatter(
                    x=at, y=y, mode="markers", showlegend=False, name="findings",
                    marker={"symbol": "x", "size": 11,
                            "color": [SEVERITY_COLOUR.get(f.severity, "#d62728") for f in findings]},
                    text=[f"{f.code} ({f.severity}): {f.message}" for f in findings],
                    hovertemplate="step %{x}<br>%{text}<extra></extra>",
                ),
                row=r,
                col=c,
            )  # fmt: skip
    fig.update_layout(
        title="monitor: indicator values per step (X: a finding fired; hover for its message)",
        height=max(300, 230 * len(names)),
        template="plotly_white",
        margin={"t": 90},
    )
    fig.update_annotations(font_size=11)
    fig.update_xaxes(title_text="step")
    return fig


def _table(df: pd.DataFrame, caption: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
        for row in df.itertuples(index=False)
    )
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "-" if v != v else f"{v:.3g}"
    return str(v)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
p.lead { color: #555; } table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } caption { text-align: left; color: #555; padding: 4px 0; }
li { margin: 2px 0; }
"""


def demo_report(result, path: str | os.PathLike) -> Path:
    """Write the demo's report for a :class:`traindx.report.demo.DemoResult`; return its path."""
    import plotly.offline

    from traindx.report.html import curves_figure
    from traindx.report.tables import call_summary
    from traindx.store import RunStore

    _, curves = RunStore(result.store, read_only=True).read()
    names = {r.run_id: r.name for r in result.runs}
    figures = {
        "curves": curves_figure(
            curves, result.diagnosis, names=names, title="learning curves (runs with a call first)"
        ),  # fmt: skip
        "indicators": indicator_figure({r.name: (r.history, r.findings) for r in result.runs}),
    }
    charts = {
        k: f.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{k}") for k, f in figures.items()
    }
    sweep = pd.DataFrame(
        [
            {"run": r.name, "what it shows": r.shows, "steps": r.steps, "epochs": r.epochs, "val acc": r.val_acc,
             "findings": ", ".join(sorted({f.code for f in r.findings})) or "none",
             "stopped by the monitor": "yes" if r.stopped_early else "no"}
            for r in result.runs
        ]
    )  # fmt: skip
    findings = pd.DataFrame(
        [
            {"run": r.name, "code": f.code, "severity": f.severity, "step": f.step, "symptom": f.message,
             "fix": f.advice}
            for r in result.runs for f in r.findings
        ],
        columns=["run", "code", "severity", "step", "symptom", "fix"],
    )  # fmt: skip
    summary = call_summary(result.diagnosis)
    summary.insert(0, "run", [names.get(i, i) for i in summary.index])
    summary.insert(1, "epoch", result.diagnosis["epoch"].to_numpy())
    sugg = result.suggestions
    shown = [c for c in ("model", "optimizer", "lr", "n_train", "epochs") if c in sugg.columns]
    suggestions = sugg[shown].assign(**{"predicted val acc": sugg["pred_acc"], "+-": sugg["pred_std"]})
    metrics = pd.DataFrame(
        [
            {"metric": k, "value": v}
            for k, v in result.mdtree["metrics"].items()
            if isinstance(v, (int, float))
        ]
    )
    answers = "".join(
        f"<h3>{html.escape(q)}</h3><ol>"
        + "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        + "</ol>"
        for q, lines in result.mdtree["answers"].items()
    )
    stages = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items())
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>traindx demo report</title>
<style>{_STYLE}</style>
<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script></head>
<body>
<h1>traindx demo report</h1>
<p class="lead">{len(result.runs)} real trainings on {html.escape(result.data)}, diagnosed from their curves,
with the next configurations to try and a loss-landscape diagnosis. Stages: {html.escape(stages)}.
Run store: <code>{html.escape(str(result.store))}</code>.</p>

<h2 id="sweep">1. Sweep: trainings with the live monitor on</h2>
{_table(sweep)}
{_table(findings, "findings of the monitor, in the order they fired") if len(findings) else "<p>no findings</p>"}
{charts["indicators"]}

<h2 id="diagnosis">2. Curve diagnosis: state now, where each run is heading, likely cause</h2>
{charts["curves"]}
{_table(summary, "the default curve diagnoser's calls (probability at least 0.5) and its advice")}

<h2 id="suggest">3. Suggested next configurations</h2>
{_table(suggestions, "untried configurations ranked by a performance predictor (shipped corpus + these runs)")}

<h2 id="mdtree">4. MD tree: which knob to turn for the small CNN</h2>
{_table(metrics, "loss-landscape metrics of the first seed against the second")}
{answers}
<p>Reproduce: <code>{html.escape(result.mdtree_command or "")}</code></p>
</body></html>
"""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
