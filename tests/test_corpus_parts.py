"""Many-task corpus parts: a tiny sweep exported in parts, read back whole, described by its data card; the
factorial spec's conditions are independent of each other and of the modality by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from traindx.cli import app
from traindx.experiments.corpus import applied_conditions, data_card, export_part, load_parts
from traindx.experiments.spec import load_spec, parse_spec
from traindx.experiments.sweep import run_sweep
from traindx.store import RunStore


def _spec(seeds):
    return parse_spec({
        "name": "tiny",
        "base": {"model": "mlp", "epochs": 2, "n_train": 200, "val_size": 60, "eval_subset": 100,
                 "cap_to_task": True, "signals": True},
        "grid": {"dataset": ["moons", "circles"], "seed": seeds},
        "cases": [{}, {"shift": "noise", "label_noise": 0.2}],
    })  # fmt: skip


def test_parts_roundtrip_and_data_card(tmp_path):
    store = RunStore(tmp_path / "s.duckdb")
    run_sweep(_spec([0]), store, workers=0)
    folder = tmp_path / "corpus"
    path, n = export_part(store, folder)
    assert n == 4 and path.name == "part-000_runs.parquet"
    assert export_part(store, folder) is None  # nothing new: no empty part
    run_sweep(_spec([0, 1]), store, workers=0)
    assert export_part(store, folder)[1] == 4  # only the new runs
    runs, curves, signals = load_parts(folder)
    assert len(runs) == runs["run_id"].nunique() == 8
    assert set(curves["run_id"]) == set(runs["run_id"]) == set(signals["run_id"])
    cond = applied_conditions(runs)
    assert cond["shift"].sum() == 4 and cond["label_noise"].sum() == 4 and cond["imbalance"].sum() == 0
    card = data_card(runs, curves, "tiny", "traindx sweep tiny.toml", 8)
    assert "finished runs: **8**" in card and "| moons | tabular |" in card
    assert "Correlation of applied conditions" in card and "traindx sweep tiny.toml" in card


def test_factorial_spec_is_balanced_across_modalities():
    spec = load_spec("examples/tasks_causes.toml")
    df = pd.DataFrame(spec.configs)
    assert len(df) >= 6000 and df["dataset"].nunique() >= 40 and df["part"].nunique() == 4
    assert set(df["seed"]) == {0, 1, 2} and df["epochs"].between(20, 60).all()
    for n in (192, 2 * 192, len(df)):  # a complete round of blocks, two, and the whole design
        head = df.iloc[:n]
        cond = applied_conditions(head)
        corr = cond.corr().abs().to_numpy()
        assert (corr[~np.eye(len(corr), dtype=bool)] <= 0.1).all(), n
        rates = cond.groupby(head["part"]).mean()
        assert ((rates.max() - rates.min()) <= 0.10).all(), (n, rates)
        assert 0.05 <= (cond.sum(axis=1) == 0).mean() <= 0.08  # healthy baselines


def test_factorial_blocks_are_orthogonal_and_interleaved():
    spec = parse_spec({
        "order": "interleave",
        "base": {"model": "mlp", "epochs": 2},
        "parts": [
            {"name": name, "base": {"dataset": ds}, "grid": {"seed": [0, 1]},
             "factorial": {"blocks": 2, "seed": 0, "label_noise": {"healthy": 0.0, "applied": [0.2, 0.4]},
                           "imbalance": {"healthy": 1.0, "applied": [0.5]},
                           "dropout": {"healthy": 0.0, "applied": [0.1]}},
             "random": {"seed": 1, "lr": {"log_uniform": [1e-3, 1e-2]}}}
            for name, ds in (("a", "moons"), ("b", "circles"))
        ],
    })  # fmt: skip
    df = pd.DataFrame(spec.configs)
    assert len(df) == 2 * 2 * 4 * 2  # parts x blocks x 4 rows (3 keys -> Hadamard order 4) x seeds
    assert df["part"].tolist()[:4] == ["a", "b", "a", "b"]
    cond = applied_conditions(df)
    a = cond[df["part"] == "a"][["label_noise", "imbalance", "dropout"]]
    assert (a.mean() == 0.5).all() and (a.corr().abs().to_numpy()[~np.eye(3, dtype=bool)] < 1e-9).all()
    from traindx.errors import InputError

    with pytest.raises(InputError, match="healthy"):
        parse_spec({"base": {"dataset": "moons"}, "factorial": {"blocks": 1, "dropout": [0.1]}})
    with pytest.raises(InputError, match="order must be"):
        parse_spec({"order": "zigzag", "base": {"dataset": "moons"}})


def test_sweep_shuffle_option(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(
        'name = "t"\n[base]\ndataset = "moons"\nmodel = "logreg"\nval_size = 50\nepochs = 1\nn_train = 100\n'
        "[grid]\nseed = [0, 1, 2]\n"
    )
    res = CliRunner().invoke(app, ["sweep", str(spec), "--store", str(tmp_path / "r.duckdb"), "--workers", "0",
                                   "--shuffle", "3"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "3 finished" in res.output


@pytest.mark.parametrize("bad", [{"shift": "rotate"}, {"model": "cnn"}])
def test_spec_refuses_conditions_foreign_to_the_modality(bad):
    from traindx.errors import InputError

    with pytest.raises(InputError, match="tabular"):
        parse_spec({"base": {"dataset": "moons", **bad}, "grid": {"seed": [0]}})
