"""Sweep specs are checked against the key table before anything runs: typos, types, ranges, empty specs."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from traindx.cli import app
from traindx.errors import InputError
from traindx.experiments.runner import canonical_config, run_experiment
from traindx.experiments.spec import load_spec, parse_spec

BASE = '[base]\ndataset = "digits"\nbatch_size = 16\nn_train = 100\neval_subset = 50\n'


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("epcohs = 2", r"unknown key 'epcohs'; did you mean 'epochs'"),
        ("epochs = 2.7", r"epochs must be a whole number, got 2.7"),
        ("epochs = true", r"epochs must be a whole number, got True"),
        ('epochs = "two"', r"epochs must be a whole number, got 'two'"),
        ("epochs = 0", r"epochs must be >= 1"),
        ("val_size = -10", r"val_size must be >= 0, got -10"),
        ("lr = -0.1", r"lr must be > 0"),
        ("lr = nan", r"lr must be finite"),
        ("label_noise = 1.5", r"label_noise must be >= 0 and <= 1"),
        ("seed = -1", r"seed must be >= 0"),
        ('optimizer = "adma"', r"unknown optimizer 'adma'; did you mean 'adam'"),
        ("val_balanced = 1", r"val_balanced must be true or false"),
        ('model = "cnn_smal"', r"did you mean 'cnn_small'"),
    ],
)
def test_bad_key_in_a_spec_file_names_the_key_and_its_line(tmp_path, line, match):
    spec = tmp_path / "s.toml"
    spec.write_text(BASE + line + "\n[grid]\nmomentum = [0.0, 0.5]\n")
    with pytest.raises(InputError, match=match) as err:
        load_spec(spec)
    assert f"{spec}, line 6:" in str(err.value)


def test_bad_grid_value_points_at_the_grid_line(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(BASE + "[grid]\nseed = [0, 1]\nepochs = [2, 2.5]\n")
    with pytest.raises(InputError, match=r"line 8: epochs must be a whole number, got 2.5"):
        load_spec(spec)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({}, "sweep spec is empty"),
        ({"name": "only a name"}, "sweep spec is empty"),
        ({"parts": []}, "sweep spec is empty"),
        ({"epochs": 2}, r"'epochs' is a run key: put it under \[base\]"),
        ({"bsae": {"epochs": 2}}, r"did you mean 'base'"),
        ({"parts": [{"grd": {"seed": [0]}}]}, r"did you mean 'grid'"),
        ({"grid": {"seed": [0]}, "random": {"n": True}}, "needs n"),
        ({"random": {"n": 2, "lr": {"uniform": [1, 0]}}}, "low <= high"),
        ({"random": {"n": 2, "width": {"uniform": [1, 8]}}}, "width must be a whole number"),
        ({"parts": "x"}, r"array of tables"),
    ],
)
def test_spec_structure_errors(data, match):
    with pytest.raises(InputError, match=match):
        parse_spec(data)


def test_empty_spec_file_trains_nothing(tmp_path):
    spec = tmp_path / "empty.toml"
    spec.write_text("# nothing here\n")
    store = tmp_path / "runs.duckdb"
    res = CliRunner().invoke(app, ["sweep", str(spec), "--store", str(store), "--workers", "0"])
    assert res.exit_code == 2 and "sweep spec is empty" in res.output
    assert not store.exists()  # checked before anything ran or was created


def test_typo_in_a_cli_sweep_stops_before_any_training(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(BASE + "epcohs = 2\n[grid]\nmomentum = [0.0, 0.5]\n")
    store = tmp_path / "runs.duckdb"
    res = CliRunner().invoke(app, ["sweep", str(spec), "--store", str(store), "--workers", "0"])
    assert res.exit_code == 2 and "did you mean 'epochs'" in res.output and "line 6" in res.output
    assert "Traceback" not in res.output and not store.exists()


def test_python_api_checks_the_same_table():
    with pytest.raises(InputError, match="did you mean 'epochs'"):
        canonical_config({"epcohs": 2})
    out = run_experiment({"dataset": "digits", "epochs": 2.5})
    assert out["run"]["status"] == "failed" and "whole number" in out["run"]["error"]
    assert canonical_config({"epochs": 2.0})["epochs"] == 2  # an integral float is that integer


def test_every_key_has_a_doc_a_kind_and_a_default_of_its_kind():
    from traindx.experiments.keys import KEYS, check_config

    for key in KEYS:
        assert key.doc and key.kind in ("int", "float", "str", "bool")
        if key.default is not None:
            assert check_config({key.name: key.default}) == {key.name: key.default}
