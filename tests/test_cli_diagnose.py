"""`traindx diagnose PATH`: rich table per run, JSON/CSV output, clear errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import traindx as tdx
import traindx.diagnose.default as default
from traindx.cli import app
from traindx.curves import checkpoint_rule_labels


def _curves(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        over = i % 2 == 1
        for e in range(1, 11):
            t = 0.98 * (1 - np.exp(-0.5 * e)) + rng.normal(0, 0.003)
            v = t - (0.02 * e if over else 0.005) + rng.normal(0, 0.003)
            rows.append((f"run{i}", e, t, v, v, 1 - t, 1 - v))
    return pd.DataFrame(
        rows, columns=["run_id", "epoch", "train_acc", "val_acc", "test_acc", "train_loss", "val_loss"]
    )


@pytest.fixture
def small_default(monkeypatch):
    """A small model fitted on simulated curves stands in for the corpus-fitted default (seconds, not minutes)."""
    train = _curves(30, seed=0)
    diag = tdx.CurveDiagnoser(n_estimators=20).fit(train, checkpoint_rule_labels(train, [2, 5, 10]))
    monkeypatch.setattr(default, "default_diagnoser", lambda: diag)


def test_diagnose_csv_prints_and_writes(tmp_path, small_default):
    path = tmp_path / "curves.csv"
    _curves(4, seed=1).to_csv(path, index=False)
    out_json, out_csv = tmp_path / "d.json", tmp_path / "d.csv"
    res = CliRunner().invoke(app, ["diagnose", str(path), "--json", str(out_json), "--csv", str(out_csv)])
    assert res.exit_code == 0, res.output
    for run in ("run0", "run1", "run2", "run3"):
        assert f"run {run}" in res.output
    assert "advice" in res.output
    records = json.loads(out_json.read_text())
    assert [r["run_id"] for r in records] == ["run0", "run1", "run2", "run3"]
    assert [r["overfitting"] for r in records] == [False, True, False, True]
    table = pd.read_csv(out_csv)
    assert {"run_id", "overfitting", "p_overfitting", "advice", "drivers"} <= set(table.columns)


def test_at_epoch_option(tmp_path, small_default):
    path = tmp_path / "curves.csv"
    _curves(2, seed=2).to_csv(path, index=False)
    out_json = tmp_path / "d.json"
    res = CliRunner().invoke(app, ["diagnose", str(path), "--at-epoch", "3", "--json", str(out_json)])
    assert res.exit_code == 0, res.output
    assert {r["epoch"] for r in json.loads(out_json.read_text())} == {3}


def test_missing_file_is_a_clear_error(tmp_path):
    res = CliRunner().invoke(app, ["diagnose", str(tmp_path / "nope.csv")])
    assert res.exit_code == 2
    assert "error:" in res.output and "Traceback" not in res.output


def test_csv_without_metrics_is_a_clear_error(tmp_path, small_default):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"run_id": ["a", "a"], "epoch": [1, 2], "lr": [0.1, 0.1]}).to_csv(path, index=False)
    res = CliRunner().invoke(app, ["diagnose", str(path)])
    assert res.exit_code == 2
    assert "error:" in res.output and "Traceback" not in res.output


def test_many_runs_get_one_summary_row_each(tmp_path, small_default):
    path = tmp_path / "curves.csv"
    _curves(12, seed=4).to_csv(path, index=False)
    res = CliRunner().invoke(app, ["diagnose", str(path)])
    assert res.exit_code == 0, res.output
    assert "12 runs" in res.output and "run run0" not in res.output  # a summary, not twelve tables
    assert all(f"run{i} " in res.output for i in range(12)) and "--details" in res.output
    res = CliRunner().invoke(app, ["diagnose", str(path), "--details"])
    assert "run run11" in res.output
