"""The demo: a sweep with the monitor on, the curve diagnosis, suggest, the MD tree and one HTML report."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from traindx.cli import app
from traindx.report.demo import DEMO_RUNS, demo_dataset, run_demo
from traindx.store import RunStore

STAGES = ("1/5 sweep", "2/5 diagnosis", "3/5 suggest", "4/5 MD tree", "5/5 report")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One quick demo shared by the tests below (about half a minute on 2 cores)."""
    out = tmp_path_factory.mktemp("demo")
    buf = io.StringIO()
    result = run_demo(out=out, console=Console(file=buf, width=120), quick=True)
    return result, buf.getvalue()


def test_every_stage_is_named_in_one_line(demo):
    result, text = demo
    positions = [text.index(stage) for stage in STAGES]
    assert positions == sorted(positions)
    assert text.isascii()  # not a terminal: the plain-text fallback, no emoji
    assert f"Open the report: {result.report}" in text


def test_the_sweep_has_healthy_and_broken_runs_in_the_store(demo):
    result, text = demo
    runs = {r.name: r for r in result.runs}
    assert list(runs) == [r.name for r in DEMO_RUNS]
    assert not [f for f in runs["healthy"].findings if f.severity == "critical"]
    assert runs["healthy"].val_acc > 0.6
    assert runs["lr_too_high"].findings and runs["lr_too_high"].stopped_early
    assert runs["lr_too_high"].steps < runs["healthy"].steps
    store = RunStore(result.store, read_only=True)
    assert set(store.runs()["run_id"]) == {r.run_id for r in result.runs}
    assert set(store.signals()["run_id"]) == {r.run_id for r in result.runs}
    assert all(r.record.exists() for r in result.runs)
    codes = {f.code for f in runs["lr_too_high"].findings}
    assert any(code in text for code in codes)  # the sweep's summary names the findings


def test_the_diagnosis_reads_every_run_and_passes_the_healthy_one(demo):
    result, _ = demo
    d = result.diagnosis
    assert set(d.index) == {r.run_id for r in result.runs}
    healthy = next(r.run_id for r in result.runs if r.name == "healthy")
    labels = [c[2:] for c in d.columns if c.startswith("p_")]
    assert not d.loc[healthy, labels].any()  # a sane run raises no call
    broken = [r.run_id for r in result.runs if r.name != "healthy"]
    assert d.loc[broken, labels].any(axis=1).sum() >= len(broken) - 1


def test_suggestions_are_untried_and_ranked(demo):
    result, _ = demo
    s = result.suggestions
    assert len(s) == 5 and not set(s["run_id"]) & {r.run_id for r in result.runs}
    score = s["score"].to_numpy()
    assert (score[:-1] >= score[1:]).all()


def test_the_mdtree_answers_every_question(demo):
    result, _ = demo
    assert set(result.mdtree["answers"]) == {"batch_size", "width_vs_batch", "data_vs_batch"}
    assert all(lines[-1].startswith("advice:") for lines in result.mdtree["answers"].values())
    assert result.mdtree["metrics"]["CKA"] == result.mdtree["metrics"]["CKA"]  # measured (not NaN)


def test_the_printed_mdtree_command_runs(demo):
    result, _ = demo
    args = result.mdtree_command.split()[1:] + ["--max-eval", "300", "--steps", "10", "--trace-probes", "5"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    for question in ("batch_size", "width_vs_batch", "data_vs_batch"):
        assert question in res.output


def test_the_report_holds_every_stage(demo):
    result, _ = demo
    page = result.report.read_text()
    assert page.count("<script") >= 3 and "cdn.plot.ly" not in page.split("</head>")[1]  # plotly inlined
    for section in ('id="sweep"', 'id="diagnosis"', 'id="suggest"', 'id="mdtree"'):
        assert section in page
    assert all(r.name in page for r in result.runs)
    assert "predicted val acc" in page and "width_vs_batch" in page


def test_a_browser_draws_every_chart_of_the_report(browser_dom, demo):
    result, _ = demo
    dom = browser_dom(result.report, budget_ms=10000, timeout=180)
    # plotly draws SVG only once its inlined script has run: both charts, every curve and indicator trace
    assert dom.count('class="main-svg"') >= 2 * 2  # each chart has a main and an overlay svg
    n_runs = len(result.runs)
    curve_traces = n_runs * 6  # train/val/test accuracy and loss per run
    with_findings = sum(1 for r in result.runs if r.findings)
    assert dom.count('class="trace scatter') >= curve_traces + n_runs + with_findings
    assert len(re.findall(r'class="g-x\d*title"', dom)) >= n_runs
    assert "lr_too_high" in dom


def test_demo_falls_back_to_digits_without_mnist(monkeypatch):
    monkeypatch.setenv("TRAINDX_MNIST_DIR", "/nonexistent")
    monkeypatch.setenv("TRAINDX_DATA_DIR", "/nonexistent")  # the task suite's mnist/ is looked at too
    monkeypatch.setenv("HOME", "/nonexistent")
    from traindx.experiments import datasets

    datasets._load_cached.cache_clear()
    try:
        assert demo_dataset() == "digits"
    finally:
        datasets._load_cached.cache_clear()


def test_demo_command_rejects_bad_input(tmp_path):
    res = CliRunner().invoke(app, ["demo", "--epochs", "0", "--out", str(tmp_path / "d")])
    assert res.exit_code == 2
    (tmp_path / "file").write_text("x")
    res = CliRunner().invoke(app, ["demo", "--quick", "--out", str(tmp_path / "file")])
    assert res.exit_code == 2 and "is a file" in res.output
