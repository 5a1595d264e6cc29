"""`traindx suggest SPEC.toml --store runs.duckdb -n K` on a real (tiny) run store."""

from __future__ import annotations

from typer.testing import CliRunner

from traindx.cli import app
from traindx.experiments.runner import run_experiment
from traindx.experiments.spec import load_spec
from traindx.store import RunStore

SPEC = """
name = "tiny"
[base]
dataset = "digits"
model = "logreg"
n_train = 300
val_size = 200
eval_subset = 200
epochs = 2
[grid]
lr = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3]
"""


def test_suggest_prints_untried_configs(tmp_path):
    spec = tmp_path / "tiny.toml"
    spec.write_text(SPEC)
    store = RunStore(tmp_path / "runs.duckdb")
    configs = load_spec(spec).configs
    for cfg in configs[::2]:  # train half of the grid
        out = run_experiment(cfg)
        store.write_run(out["run"], out["epochs"])
    res = CliRunner().invoke(app, ["suggest", str(spec), "--store", str(tmp_path / "runs.duckdb"), "-n", "2"])
    assert res.exit_code == 0, res.output
    assert "predicted val acc" in res.output
    tried = {f"{c['lr']:.3g}" for c in configs[::2]}
    shown = [line for line in res.output.splitlines() if "│" in line and line.split("│")[1].strip().isdigit()]
    assert len(shown) == 2
    assert not any(f" {lr} " in line for line in shown for lr in tried)


def test_suggest_bad_input(tmp_path):
    res = CliRunner().invoke(app, ["suggest", "missing.toml", "--store", str(tmp_path / "none.duckdb")])
    assert res.exit_code == 2 and "not found" in res.output
