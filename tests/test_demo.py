"""The demo: a healthy and a broken run, live view, findings and signal records, on CPU in seconds."""

from __future__ import annotations

import io

from rich.console import Console
from typer.testing import CliRunner

from traindx.cli import app
from traindx.report.demo import load_demo_data, run_demo


def test_demo_data_falls_back_to_digits_without_mnist(monkeypatch):
    monkeypatch.setenv("TRAINDX_MNIST_DIR", "/nonexistent")
    monkeypatch.setenv("HOME", "/nonexistent")
    from traindx.experiments import datasets

    datasets._load_cached.cache_clear()
    try:
        data = load_demo_data(max_train=100, max_val=40)
    finally:
        datasets._load_cached.cache_clear()
    assert data.name == "digits"
    assert tuple(data.x_train.shape) == (100, 1, 8, 8) and len(data.y_val) == 40


def test_demo_shows_a_clean_run_and_a_broken_one(tmp_path):
    buf = io.StringIO()
    result = run_demo(epochs=1, out=tmp_path, console=Console(file=buf, width=120), max_train=1024)
    healthy, broken = result.runs
    assert healthy.val_acc > 0.6
    assert not [f for f in healthy.findings if f.severity == "critical"]
    assert broken.findings, "the lr-too-high run must raise a finding"
    assert broken.stopped_early and broken.steps < healthy.steps
    assert healthy.record.exists() and broken.record.exists()
    text = buf.getvalue()
    assert text.isascii()  # not a terminal: the plain-text fallback, no emoji
    assert "healthy: MLP" in text and "broken_lr: MLP" in text
    codes = {f.code for f in broken.findings}
    assert any(code in text for code in codes)  # the summary names the finding


def test_demo_command_rejects_bad_epochs(tmp_path):
    res = CliRunner().invoke(app, ["demo", "--epochs", "0", "--out", str(tmp_path / "d")])
    assert res.exit_code == 2
    assert "epochs must be at least 1" in res.output


def test_demo_cnn_feeds_mdtree_diagnose(tmp_path):
    result = run_demo(epochs=1, out=tmp_path, console=Console(file=io.StringIO(), width=120), max_train=1024)
    first, second = result.cnn_files
    assert first.exists() and first.with_suffix(".json").exists() and second.exists()
    assert result.mdtree_command.startswith("traindx mdtree diagnose --model ")
    args = result.mdtree_command.split()[1:] + ["--max-eval", "500", "--steps", "20", "--trace-probes", "10"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "mode connectivity" in res.output.lower() or "connectivity" in res.output
    for question in ("batch_size", "width_vs_batch", "data_vs_batch"):
        assert question in res.output
