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


def test_suggest_trains_refits_and_suggests_again(tmp_path):
    spec = tmp_path / "tiny.toml"
    spec.write_text(SPEC)
    db = tmp_path / "loop.duckdb"
    res = CliRunner().invoke(
        app, ["suggest", str(spec), "--store", str(db), "-n", "2", "--train", "--rounds", "2"]
    )
    assert res.exit_code == 0, res.output
    assert "round 1/2: 2 random configurations" in res.output  # empty store: explore first
    assert "round 2/2: 2 most promising untried" in res.output  # then the predictor fitted on round 1
    runs = RunStore(db, read_only=True).runs()
    assert len(runs) == 4 and set(runs["status"]) == {"finished"}  # every trained run is in the store
    res = CliRunner().invoke(app, ["suggest", str(spec), "--store", str(db), "--rounds", "2"])
    assert res.exit_code == 2 and "add --train" in res.output


def test_suggest_loop_stops_when_the_spec_is_exhausted_and_shows_the_best(tmp_path):
    spec = tmp_path / "three.toml"
    spec.write_text(SPEC.replace("[0.001, 0.003, 0.01, 0.03, 0.1, 0.3]", "[0.003, 0.03, 0.3]"))
    db = tmp_path / "loop.duckdb"
    res = CliRunner().invoke(
        app, ["suggest", str(spec), "--store", str(db), "-n", "2", "--train", "--rounds", "3"]
    )
    assert res.exit_code == 0, res.output
    assert "round 2/3: 1 most promising untried" in res.output  # only one configuration was left
    assert "has been tried; stopping after round 2" in res.output
    assert "best of three.toml" in res.output
    assert set(RunStore(db, read_only=True).runs()["status"]) == {"finished"}


def test_suggest_reports_a_round_whose_runs_all_failed(tmp_path):
    spec = tmp_path / "broken.toml"
    spec.write_text(SPEC.replace("n_train = 300", "n_train = 5000"))  # digits has 1,347 training examples
    db = tmp_path / "broken.duckdb"
    res = CliRunner().invoke(
        app, ["suggest", str(spec), "--store", str(db), "-n", "2", "--train", "--rounds", "2"]
    )
    assert res.exit_code == 3, res.output
    assert "every run of round 1 failed" in res.output and "lower n_train" in res.output
    assert "round 2/2" not in res.output
    # the failed configurations are not suggested again
    res = CliRunner().invoke(app, ["suggest", str(spec), "--store", str(db), "-n", "2", "--train"])
    assert "2 configurations failed before and are left out" in res.output
    ids = RunStore(db, read_only=True).runs()["run_id"]
    assert len(ids) == 4 and ids.is_unique
