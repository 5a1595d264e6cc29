"""An HTML page of a monitor's signal record: each indicator over the training steps, the findings marked.

The record is what :meth:`traindx.monitor.Monitor.save` writes (``signals.parquet`` or ``.csv``: step, epoch,
name, layer, value) with its findings beside it (``signals.findings.json``). Each indicator gets its own chart
(per-layer values as one line per layer); every finding is a marker on the chart of the signal it was judged
on (hover for the message and the advice) and a dotted line at its step on the others, red for critical,
orange for warnings. The page is self-contained (plotly's JavaScript is embedded) and opens offline.

Example:
    >>> import pandas as pd, tempfile, pathlib
    >>> h = pd.DataFrame({"step": [0, 1, 2], "epoch": 0, "name": "loss", "layer": "", "value": [0.9, 0.7, 0.6]})
    >>> out = signals_report(h, [], pathlib.Path(tempfile.mkdtemp()) / "signals.html")
    >>> out.suffix
    '.html'
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from traindx.errors import InputError

COLUMNS = ("step", "name", "layer", "value")
#: finding code -> the recorded signal it is judged on (its marker sits on that chart; others: the loss)
CODE_SIGNAL = {
    "exploding_gradients": "gradient_growth",
    "vanishing_gradients": "vanishing_ratio",
    "dead_relu": "dead_fraction",
    "saturation": "saturated_fraction",
    "input_scale": "input_rms",
    "lr_too_high": "update_ratio",
    "lr_too_low": "update_ratio",
    "no_update": "update_ratio",
    "overfitting": "val_loss",
    "underfitting": "train_loss",
}
SEVERITY_COLOR = {"critical": "#d62728", "warning": "#ff7f0e"}
#: per-layer charts draw at most this many layers (the first ones, in model order)
MAX_LAYERS = 12
FIRST = ("loss", "train_loss", "val_loss", "train_acc", "val_acc")


def load_signal_record(path: str | os.PathLike) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Read a saved record and the findings beside it (``<stem>.findings.json``; none when it is missing).

    Example:
        >>> load_signal_record("no/such/signals.parquet")
        Traceback (most recent call last):
        ...
        traindx.errors.InputError: signal record no/such/signals.parquet does not exist; give the .parquet or .csv file Monitor.save wrote
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"signal record {path} does not exist; give the .parquet or .csv file Monitor.save wrote"
        )
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        hist = pd.read_parquet(path)
    elif suffix == ".csv":
        hist = pd.read_csv(path, keep_default_na=False, na_values={"value": ["", "nan", "NaN"]})
    else:
        raise InputError(
            f"cannot read {path.name!r} as a signal record; give the .parquet or .csv Monitor.save wrote"
        )
    side = path.with_name(path.stem + ".findings.json")
    findings = json.loads(side.read_text()) if side.is_file() else []
    if not isinstance(findings, list) or not all(isinstance(f, dict) and "code" in f for f in findings):
        raise InputError(f"{side} is not a findings file (a JSON list of findings with a 'code' each)")
    return hist, findings


def _validate(hist: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in COLUMNS if c not in hist.columns]
    if missing:
        raise InputError(
            f"the signal record lacks column(s) {missing}; it needs {list(COLUMNS)} as Monitor.save writes them"
        )
    if hist.empty:
        raise InputError(
            "the signal record is empty; the monitor recorded no step (did the loop call step()?)"
        )
    hist = hist.copy()
    hist["layer"] = hist["layer"].fillna("").astype(str)
    hist["step"] = pd.to_numeric(hist["step"], errors="raise")
    hist["value"] = pd.to_numeric(hist["value"], errors="coerce")
    return hist


def _order(names: list[str]) -> list[str]:
    return [n for n in FIRST if n in names] + [n for n in names if n not in FIRST]


def _hover(f: dict[str, Any]) -> str:
    return (
        f"<b>{f['code']}</b> ({f.get('severity', '')}) at step {f.get('step')}, seen {f.get('count', 1)}x"
        f"<br>{f.get('message', '')}<br><i>{f.get('advice', '')}</i>"
    )


def signals_report(
    history: pd.DataFrame,
    findings: Sequence[Any],
    path: str | os.PathLike,
    title: str = "traindx: monitor signals",
) -> Path:
    """Write the page for ``history`` (a monitor record) and its ``findings`` (Finding objects or dicts)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    hist = _validate(history)
    found = [f if isinstance(f, dict) else f.to_dict() for f in findings]
    names = _order(list(dict.fromkeys(hist["name"])))
    by_name = {n: g.sort_values("step") for n, g in hist.groupby("name", sort=False)}
    fig = make_subplots(
        rows=len(names),
        cols=1,
        shared_xaxes=True,  # one step axis: a finding lines up with every signal at that step
        subplot_titles=[f"<b>{n}</b>" for n in names],
        vertical_spacing=min(0.08, 0.6 / max(len(names), 1)),
    )
    for row, name in enumerate(names, start=1):
        g = by_name[name]
        layers = list(dict.fromkeys(g["layer"]))
        for layer in layers[:MAX_LAYERS]:
            part = g[g["layer"] == layer]
            fig.add_trace(
                go.Scatter(
                    x=part["step"],
                    y=part["value"],
                    name=layer or name,
                    mode="lines+markers" if len(part) <= 30 else "lines",  # sparse epoch metrics show points
                    showlegend=False,
                ),
                row=row,
                col=1,
            )
        values = g["value"].to_numpy()
        positive = values[(values > 0) & pd.notna(values)]
        if len(positive) == len(values) and len(positive) and positive.max() / positive.min() > 100:
            fig.update_yaxes(type="log", row=row, col=1)  # gradient norms, growth ratios span decades
        if len(layers) > MAX_LAYERS:
            fig.layout.annotations[row - 1].text += f" (first {MAX_LAYERS} of {len(layers)} layers)"
    for f in found:
        color = SEVERITY_COLOR.get(f.get("severity"), "#7f7f7f")
        target = CODE_SIGNAL.get(f["code"], "loss")
        target = target if target in by_name else ("loss" if "loss" in by_name else names[0])
        step = f.get("step", 0)
        g = by_name[target]
        g = g[g["layer"] == g["layer"].iloc[0]]
        near = g.iloc[(g["step"] - step).abs().argsort()[:1]]["value"]
        y = float(near.iloc[0]) if len(near) and math.isfinite(float(near.iloc[0])) else None
        row = names.index(target) + 1
        fig.add_trace(
            go.Scatter(
                x=[step],
                y=[y if y is not None else 0.0],
                mode="markers+text",
                marker={"color": color, "size": 12, "symbol": "x"},
                text=[f["code"]],
                textposition="top center",
                hovertext=[_hover(f)],
                hoverinfo="text",
                name=f["code"],
                showlegend=False,
            ),
            row=row,
            col=1,
        )
        for other in range(1, len(names) + 1):
            if other != row:
                fig.add_vline(x=step, line={"color": color, "dash": "dot", "width": 1}, row=other, col=1)
    summary = ", ".join(f"{f['code']} @ {f.get('step')}" for f in found) if found else "no findings"
    fig.update_layout(
        title=f"{title}<br><sup>{summary}</sup>",
        height=max(420, 240 * len(names)),
        template="plotly_white",
        margin={"t": 110},
    )
    fig.update_xaxes(showticklabels=True)
    fig.update_xaxes(title_text="step", row=len(names), col=1)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(out, include_plotlyjs=True, full_html=True)
    return out
