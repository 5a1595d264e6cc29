"""Sweeps: spec expansion, the CLI, resumability after SIGINT/SIGKILL (real subprocesses) and the Ray backend."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from traindx.cli import app
from traindx.errors import InputError
from traindx.experiments.runner import run_id
from traindx.experiments.spec import load_spec, parse_spec
from traindx.experiments.sweep import run_sweep
from traindx.store import RunStore

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# 12 short real trainings on scikit-learn digits (~0.2 s each): long enough to interrupt mid-way
KILL_SPEC = """
name = "kill_test"
[base]
dataset = "digits"
model = "mlp_small"
n_train = 1000
val_size = 200
eval_subset = 300
epochs = 20
[grid]
seed = [0, 1, 2, 3, 4, 5]
lr = [0.001, 0.003]
"""


def test_grid_cases_random_and_parts():
    spec = parse_spec(
        {
            "name": "s",
            "base": {"dataset": "digits", "epochs": 2},
            "parts": [
                {
                    "name": "a",
                    "grid": {"model": ["logreg", "mlp_small"], "seed": [0, 1]},
                    "cases": [{"shift": "none"}, {"shift": "blur"}],
                },
                {
                    "name": "b",
                    "base": {"model": "cnn_small"},
                    "random": {
                        "n": 3,
                        "seed": 1,
                        "lr": {"log_uniform": [1e-4, 1e-1]},
                        "batch_size": {"choice": [16, 32]},
                        "width": {"int_uniform": [2, 8]},
                    },
                },
            ],
        }
    )
    assert len(spec) == 8 + 3
    a = [c for c in spec.configs if c["part"] == "a"]
    assert {(c["model"], c["seed"], c["shift"]) for c in a} == {
        (m, s, sh) for m in ("logreg", "mlp_small") for s in (0, 1) for sh in ("none", "blur")
    }
    b = [c for c in spec.configs if c["part"] == "b"]
    assert all(1e-4 <= c["lr"] <= 1e-1 and c["batch_size"] in (16, 32) and 2 <= c["width"] <= 8 for c in b)
    again = parse_spec(
        {"base": {"dataset": "digits"}, "random": {"n": 3, "seed": 1, "lr": {"log_uniform": [1e-4, 1e-1]}}}
    )
    assert [c["lr"] for c in again.configs] == [
        c["lr"]
        for c in parse_spec(
            {
                "base": {"dataset": "digits"},
                "random": {"n": 3, "seed": 1, "lr": {"log_uniform": [1e-4, 1e-1]}},
            }
        ).configs
    ]
    dup = parse_spec({"grid": {"seed": [0, 0, 1]}})
    assert len(dup) == 2  # the same run id is kept once


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"grid": {"seed": 3}}, "non-empty list"),
        ({"grids": {}}, "unknown top-level"),
        ({"random": {"n": 2, "lr": {"normal": [0, 1]}}}, "distribution"),
        ({"random": {"lr": {"uniform": [0, 1]}}}, "needs n"),
        ({"parts": [{"name": "p", "grid": {"model": ["vgg"]}}]}, "part 'p'.*unknown model"),
        ({"grid": {"optimizer": ["lion"]}}, "optimizer"),
    ],
)
def test_spec_errors(data, match):
    with pytest.raises(InputError, match=match):
        parse_spec(data)


def test_example_specs_have_the_study_design():
    study = load_spec(EXAMPLES / "mnist_meta.toml")
    assert len(study) == 270
    keys = {(c["model"], c["n_train"], c["seed"], c["imbalance"], c["shift"]) for c in study.configs}
    assert len(keys) == 270 and all(c["epochs"] >= 26 for c in study.configs)
    assert {c["dataset"] for c in load_spec(EXAMPLES / "fashion_meta.toml").configs} == {"fashion_mnist"}
    causes = load_spec(EXAMPLES / "mnist_causes.toml")
    parts = {c["part"] for c in causes.configs}
    assert {
        "lr_too_low",
        "lr_too_high",
        "label_noise",
        "undersized",
        "tiny_train_long",
        "shift_kinds",
    } <= parts


def test_cli_sweep_and_bad_input(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(
        'name = "t"\n[base]\ndataset = "digits"\nmodel = "logreg"\nval_size = 100\nepochs = 2\n'
        "[grid]\nseed = [0, 1]\nn_train = [200, 5000]\n"  # digits has too few examples for 5000: fails
    )
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "sweep",
            str(spec),
            "--store",
            str(tmp_path / "r.duckdb"),
            "--workers",
            "0",
            "--corpus",
            str(tmp_path / "c" / "t"),
        ],
    )
    assert res.exit_code == 1, res.output  # some runs failed: the exit status says so
    assert "2 finished, 2 failed" in res.output
    assert (tmp_path / "c" / "t_runs.parquet").is_file() and (tmp_path / "c" / "t_epochs.parquet").is_file()
    runs = RunStore(tmp_path / "r.duckdb").runs()
    assert sorted(runs["status"]) == ["failed", "failed", "finished", "finished"]
    assert runs.loc[runs.status == "failed", "error"].str.contains("only 1347 are available").all()
    res = runner.invoke(app, ["sweep", str(spec), "--store", str(tmp_path / "r.duckdb"), "--workers", "0"])
    assert "0 finished, 2 failed, 2 skipped" in res.output  # finished skipped, failed retried
    res = runner.invoke(app, ["sweep", str(tmp_path / "missing.toml")])
    assert res.exit_code == 2 and "not found" in res.output
    res = runner.invoke(
        app, ["sweep", str(spec), "--store", str(tmp_path / "r.duckdb"), "--backend", "slurm"]
    )
    assert res.exit_code == 2 and "unknown backend" in res.output


def _finished(store: RunStore) -> int:
    try:
        return len(store.finished_ids())
    except InputError:  # the sweep holds the file this instant
        return 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_sweep_resumes_without_loss_or_duplicates(tmp_path, sig):
    spec = tmp_path / "kill.toml"
    spec.write_text(KILL_SPEC)
    path = tmp_path / "runs.duckdb"
    cmd = [sys.executable, "-m", "traindx.cli", "sweep", str(spec), "--store", str(path), "--workers", "2"]
    proc = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ
    )
    store = RunStore(path)
    deadline = time.monotonic() + 120
    while _finished(store) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, "sweep ended before it could be interrupted; make KILL_SPEC longer"
    os.killpg(proc.pid, sig)  # like Ctrl-C in a terminal (whole process group) or a hard kill
    out = proc.communicate(timeout=60)[0].decode()
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "interrupted" in out and "Traceback" not in out
    before = store.runs()
    assert 2 <= len(before) < 12 and (before["status"] == "finished").all()
    rerun = run_sweep(load_spec(spec), store, workers=0)
    assert rerun.skipped == len(before) and rerun.finished == 12 - len(before) and rerun.failed == 0
    runs, curves = store.runs(), store.curves()
    assert len(runs) == 12 and runs["run_id"].is_unique and (runs["status"] == "finished").all()
    assert set(runs["run_id"]) == {run_id(c) for c in load_spec(spec).configs}
    assert len(curves) == 12 * 20 and not curves.duplicated(["run_id", "epoch"]).any()
    kept = runs.set_index("run_id").loc[before["run_id"], "created_at"]
    assert (kept.values == before["created_at"].values).all()  # runs written before the kill were not redone


def test_ray_backend_matches_local(tmp_path):
    pytest.importorskip("ray", reason="Ray is an optional extra (pip install 'traindx[ray]')")
    spec = parse_spec(
        {
            "base": {"dataset": "digits", "n_train": 300, "val_size": 100, "epochs": 3, "lr": 0.01},
            "grid": {"model": ["logreg", "cnn_small"]},
        }
    )
    local, ray = RunStore(tmp_path / "local.duckdb"), RunStore(tmp_path / "ray.duckdb")
    assert run_sweep(spec, local, backend="local", workers=0).finished == 2
    assert run_sweep(spec, ray, backend="ray", workers=2).finished == 2
    cols = ["run_id", "epoch", "train_acc", "val_acc", "test_acc", "train_loss", "val_loss", "test_loss"]
    a, b = local.curves()[cols], ray.curves()[cols]
    assert (a["run_id"] == b["run_id"]).all() and len(a) == 6
    assert (a.drop(columns="run_id") - b.drop(columns="run_id")).abs().max().max() <= 1e-6


def test_ctrl_c_is_raised_between_waits_and_the_handler_restored():
    from traindx.experiments.backends.base import DeferredInterrupt

    before = signal.getsignal(signal.SIGINT)
    with DeferredInterrupt() as interrupt:
        os.kill(os.getpid(), signal.SIGINT)  # noted, not raised where the main thread happens to be
        time.sleep(0.05)
        assert interrupt.requested
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
    assert signal.getsignal(signal.SIGINT) is before
