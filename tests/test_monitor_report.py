"""The signal report: a real monitor record drawn as HTML, from the command line, checked in a real browser."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from traindx.cli import app
from traindx.errors import InputError
from traindx.monitor import Monitor
from traindx.report.signals import load_signal_record, signals_report


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    """A 60-step MLP run whose input turns unnormalized at step 30: a signal record with findings."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    mon = Monitor(model, opt, every=3)
    for step in range(60):
        x = torch.randn(32, 8) * (50.0 if step >= 30 else 1.0)
        loss = nn.functional.cross_entropy(model(x), torch.randint(0, 2, (32,)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        mon.step(loss)
        if step % 20 == 19:
            mon.epoch_end(train_loss=loss.item(), val_loss=loss.item())
    mon.close()
    path = tmp_path_factory.mktemp("record") / "signals.parquet"
    mon.save(path)
    return path, mon


def test_every_signal_gets_a_chart_and_every_finding_a_marker(record, tmp_path):
    path, mon = record
    hist, findings = load_signal_record(path)
    codes = [f["code"] for f in findings]
    assert codes == [f.code for f in mon.findings] and "input_scale" in codes
    html = signals_report(hist, findings, tmp_path / "s.html").read_text()
    assert "plotly" in html.lower() and "<script" in html  # self-contained
    for name in set(hist["name"]):
        assert f"\\u003cb\\u003e{name}\\u003c\\u002fb\\u003e" in html  # one chart title per signal
    for f in findings:
        assert f'"text":["{f["code"]}"]' in html  # one labelled marker per finding


def test_command_writes_the_page_and_names_bad_input(record, tmp_path):
    path, mon = record
    out = tmp_path / "out.html"
    res = CliRunner().invoke(app, ["monitor-report", str(path), "--html", str(out)])
    assert res.exit_code == 0, res.output
    assert f"{len(mon.findings)} finding(s)" in res.output and out.stat().st_size > 1_000_000
    res = CliRunner().invoke(app, ["monitor-report", str(tmp_path / "missing.parquet")])
    assert res.exit_code == 2 and "does not exist" in res.output
    bad = tmp_path / "bad.csv"
    bad.write_text("step,value\n0,1.0\n")
    res = CliRunner().invoke(app, ["monitor-report", str(bad), "--html", str(tmp_path / "b.html")])
    assert res.exit_code == 2 and "lacks column(s) ['name', 'layer']" in res.output
    assert not (tmp_path / "b.html").exists()  # no partial output
    broken = tmp_path / "broken.parquet"
    shutil.copy(path, broken)
    (tmp_path / "broken.findings.json").write_text(json.dumps({"not": "a list"}))
    with pytest.raises(InputError, match="not a findings file"):
        load_signal_record(broken)


def test_a_browser_draws_every_chart_and_marker(browser_dom, record, tmp_path):
    path, mon = record
    hist, findings = load_signal_record(path)
    page = signals_report(hist, findings, tmp_path / "s.html")
    dom = browser_dom(page)
    lines = sum(len(set(g["layer"])) for _, g in hist.groupby("name"))
    assert 'class="main-svg"' in dom
    # plotly draws SVG once its script ran: one trace per signal line plus one per finding marker
    assert dom.count('class="trace scatter') == lines + len(findings)
    assert len(re.findall(r'class="g-x\d*title"', dom)) == hist["name"].nunique()  # one chart per signal
    assert dom.count(">step</text>") == 1  # the shared x-axis title, under the last chart
    assert all(f">{f['code']}<" in dom for f in findings)  # marker labels are drawn text
