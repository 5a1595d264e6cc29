"""The HTML page of learning curves: written offline, flagged runs first, and drawn by a real browser."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from test_cli_diagnose import _curves, small_default  # noqa: F401 - the fixture is used by name
from typer.testing import CliRunner

from traindx.cli import app
from traindx.errors import InputError
from traindx.report.html import curves_report


def test_report_puts_flagged_runs_first_and_bounds_the_page(tmp_path):
    curves = _curves(5, seed=3)
    diagnosis = pd.DataFrame(
        {"overfitting": [False, True, False, False, False], "p_overfitting": [0.1, 0.9, 0.2, 0.1, 0.1]},
        index=pd.Index([f"run{i}" for i in range(5)], name="run_id"),
    )
    html = curves_report(curves, tmp_path / "r.html", diagnosis=diagnosis, max_runs=2).read_text()
    assert "plotly" in html.lower() and "<script" in html  # self-contained: the library is inlined
    # titles sit in the page's JSON, where "<" and "/" are escaped
    assert html.index("run1\\u003c\\u002fb") < html.index("run0\\u003c\\u002fb")  # the flagged run leads
    assert "run2" not in html and "showing 2 of 5 runs" in html


def test_report_bad_input_is_named(tmp_path):
    with pytest.raises(InputError, match="max_runs"):
        curves_report(_curves(1, seed=0), tmp_path / "r.html", max_runs=0)
    no_metrics = pd.DataFrame({"run_id": ["a"], "epoch": [1], "lr": [0.1]})
    with pytest.raises(InputError):
        curves_report(no_metrics, tmp_path / "r.html")


def test_diagnose_command_writes_the_page(tmp_path, small_default):  # noqa: F811
    path = tmp_path / "curves.csv"
    _curves(4, seed=1).to_csv(path, index=False)
    out = tmp_path / "report.html"
    res = CliRunner().invoke(app, ["diagnose", str(path), "--html", str(out)])
    assert res.exit_code == 0, res.output
    html = out.read_text()
    assert "overfitting" in html and all(f"run{i}\\u003c\\u002fb" in html for i in range(4))


def test_a_browser_draws_every_chart(browser_dom, tmp_path):
    page = curves_report(_curves(4, seed=1), tmp_path / "r.html")
    dom = browser_dom(page)
    # plotly draws the charts as SVG only once its script has run: 4 runs x 5 curves, 4 x-axis titles
    assert 'class="main-svg"' in dom
    assert dom.count('class="trace scatter') == 20
    assert len(re.findall(r'class="g-x\d*title"', dom)) == 4
