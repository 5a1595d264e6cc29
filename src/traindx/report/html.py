"""An HTML page of learning curves with their diagnosis: one small chart per run, the calls in its title.

The page is self-contained (plotly's JavaScript is embedded), so it opens offline in any browser. Runs with
a raised call come first; ``max_runs`` bounds the page for large stores.

Example:
    >>> import pandas as pd, tempfile, pathlib
    >>> c = pd.DataFrame({"run_id": ["a"] * 3, "epoch": [1, 2, 3], "train_acc": [0.5, 0.8, 0.9],
    ...                   "val_acc": [0.5, 0.7, 0.72]})
    >>> out = curves_report(c, pathlib.Path(tempfile.mkdtemp()) / "report.html")
    >>> out.suffix, "plotly" in out.read_text()[:100_000].lower()
    ('.html', True)
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from traindx.curves.schema import validate_curves
from traindx.errors import InputError

#: curve columns drawn, with their colour: accuracies solid, losses dotted on a second axis
SERIES = {
    "train_acc": "#1f77b4",
    "val_acc": "#ff7f0e",
    "test_acc": "#2ca02c",
    "train_loss": "#1f77b4",
    "val_loss": "#ff7f0e",
    "test_loss": "#2ca02c",
}
COLUMNS = 3


def _calls(diagnosis: pd.DataFrame | None, run_id: str) -> list[str]:
    if diagnosis is None or run_id not in diagnosis.index:
        return []
    row = diagnosis.loc[run_id]
    labels = [c[2:] for c in diagnosis.columns if c.startswith("p_")]
    return [label for label in labels if bool(row.get(label, False))]


def _title(run_id: str, calls: list[str], per_line: int = 3) -> str:
    """Run id in bold, then its calls a few per line, so that titles of neighbouring charts do not collide."""
    if not calls:
        return f"<b>{run_id}</b><br>no call raised"
    lines = [", ".join(calls[i : i + per_line]) for i in range(0, len(calls), per_line)]
    return f"<b>{run_id}</b><br>" + "<br>".join(lines)


def curves_figure(
    curves: pd.DataFrame,
    diagnosis: pd.DataFrame | None = None,
    max_runs: int = 30,
    title: str = "traindx: learning curves",
    names: dict[str, str] | None = None,
):
    """The plotly figure of :func:`curves_report`: one chart per run, flagged runs first.

    ``names`` maps run ids to the labels shown in the chart titles.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    c = validate_curves(curves, allow_gaps=True)
    if max_runs < 1:
        raise InputError(f"max_runs must be at least 1, got {max_runs}")
    names = names or {}
    # flagged runs first, otherwise in table order (the sort is stable)
    run_ids = sorted(pd.unique(c["run_id"].astype(str)), key=lambda r: not _calls(diagnosis, r))
    shown = run_ids[:max_runs]
    series = [s for s in SERIES if s in c.columns and c[s].notna().any()]
    if not series:
        raise InputError("the curve table has no accuracy or loss column to draw (train_acc, val_acc, ...)")
    losses = [s for s in series if s.endswith("_loss")]
    rows = math.ceil(len(shown) / COLUMNS)
    titles = [_title(names.get(r, r), _calls(diagnosis, r)) for r in shown]
    fig = make_subplots(
        rows=rows,
        cols=COLUMNS,
        subplot_titles=titles,
        specs=[[{"secondary_y": bool(losses)}] * COLUMNS for _ in range(rows)],
        vertical_spacing=min(0.16, 0.9 / max(rows, 1)),
        horizontal_spacing=0.09,
    )
    by_run = {str(k): g.sort_values("epoch") for k, g in c.groupby(c["run_id"].astype(str))}
    for i, r in enumerate(shown):
        g = by_run[r]
        pos = {"row": i // COLUMNS + 1, "col": i % COLUMNS + 1}
        for s in series:
            loss = s.endswith("_loss")
            fig.add_trace(
                go.Scatter(
                    x=g["epoch"],
                    y=g[s],
                    name=s,
                    legendgroup=s,
                    showlegend=i == 0,
                    mode="lines+markers",  # markers keep a one-epoch run (stopped early) visible
                    marker={"size": 4},
                    line={"color": SERIES[s], "dash": "dot" if loss else "solid"},
                ),
                secondary_y=loss if losses else None,
                **pos,
            )
    hidden = len(run_ids) - len(shown)
    note = f" (showing {len(shown)} of {len(run_ids)} runs, flagged first)" if hidden else ""
    fig.update_layout(
        title=title + note, height=max(360, 330 * rows), template="plotly_white", margin={"t": 110}
    )
    fig.update_annotations(font_size=11)
    fig.update_xaxes(title_text="epoch")
    return fig


def curves_report(
    curves: pd.DataFrame,
    path: str | os.PathLike,
    diagnosis: pd.DataFrame | None = None,
    max_runs: int = 30,
    title: str = "traindx: learning curves",
) -> Path:
    """Write an HTML page with each run's accuracy (and loss) curves and the diagnosis' calls; return its path.

    ``diagnosis`` is the frame :func:`traindx.diagnose` returns (optional); runs it flags are drawn first.
    """
    fig = curves_figure(curves, diagnosis, max_runs=max_runs, title=title)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(out, include_plotlyjs=True, full_html=True)
    return out
