"""W&B: offline run folders written by the real wandb client, and its chart CSV download layout."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import traindx as tdx
from traindx.errors import InputError
from traindx.store.importers.wandb_offline import run_files

EPOCHS, STEPS = 4, 3


def _values(run: int, epoch: int) -> dict:
    return {"val_acc": 0.4 + 0.1 * epoch + 0.01 * run, "val_loss": 1.0 / (epoch + 1 + run)}


@pytest.fixture(scope="module")
def wandb_dir(tmp_path_factory):
    """Two offline runs: per-batch train/loss logged with the epoch (0-based), validation once per epoch in
    its own log call; returns (root holding wandb/, {run name: the train/loss values per epoch})."""
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DISABLE_GIT="true")
    import wandb

    root = tmp_path_factory.mktemp("wb")
    truth = {}
    for run_no, name in enumerate(("baseline", "wider")):
        with wandb.init(project="demo", name=name, dir=str(root), config={"lr": 0.1 * (run_no + 1)}) as run:
            losses = {}
            for epoch in range(EPOCHS):
                for step in range(STEPS):
                    loss = 2.0 / (epoch + 1) + 0.1 * step + run_no
                    losses.setdefault(epoch + 1, []).append(loss)
                    run.log({"train/loss": loss, "epoch": epoch})
                run.log({**_values(run_no, epoch), "epoch": epoch})
        truth[name] = losses
    # as transformers' WandbCallback logs: fractional train/epoch (1.0 = end of the first epoch), eval/ keys
    with wandb.init(project="hf", name="trainer", dir=str(root / "hf")) as run:
        for step in range(1, 9):
            run.log({"train/loss": 1.0 / step, "train/epoch": step / 4, "train/global_step": step})
            if step % 4 == 0:
                run.log({"eval/accuracy": 0.3 * step / 4, "train/epoch": step / 4})
    wandb.teardown()  # the service process writes the run logs; it has flushed them once it has exited
    return root, truth


def test_wandb_offline_runs(wandb_dir):
    root, truth = wandb_dir
    runs, curves = tdx.load_runs(root / "wandb")
    assert runs["run_id"].tolist() == ["baseline", "wider"]
    assert runs["lr"].tolist() == pytest.approx([0.1, 0.2]) and runs["project"].tolist() == ["demo", "demo"]
    for run_no, (name, losses) in enumerate(truth.items()):
        run = curves[curves["run_id"] == name]
        assert run["epoch"].tolist() == [1, 2, 3, 4]
        np.testing.assert_allclose(run["train_loss"], [np.mean(losses[e]) for e in (1, 2, 3, 4)])
        np.testing.assert_allclose(run["val_acc"], [_values(run_no, e)["val_acc"] for e in range(EPOCHS)])
    one = run_files(root / "wandb")[1]
    for source in (root, one.parent, one):  # the folder above wandb/, a run folder, its .wandb file
        _, part = tdx.load_runs(source)
        assert set(part["run_id"]) <= {"baseline", "wider"}
    assert tdx.load_runs(one)[1]["run_id"].unique().tolist() == ["wider"]


def test_wandb_fractional_epochs_as_the_trainer_logs_them(wandb_dir):
    root, _ = wandb_dir
    _, curves = tdx.load_runs(root / "hf")
    assert curves["epoch"].tolist() == [1, 2]
    np.testing.assert_allclose(
        curves["train_loss"], [np.mean([1, 1 / 2, 1 / 3, 1 / 4]), np.mean([1 / 5, 1 / 6, 1 / 7, 1 / 8])]
    )
    np.testing.assert_allclose(curves["val_acc"], [0.3, 0.6])


def test_wandb_chart_csv_download(wandb_dir, tmp_path):
    """A line plot's "Export panel data" CSV: Step, then '<run> - <metric>' with __MIN/__MAX per run. The
    download itself needs the W&B app; the file here is laid out as those downloads are, from the offline runs."""
    root, _ = wandb_dir
    _, offline = tdx.load_runs(root / "wandb")
    for metric in ("val_acc", "val_loss"):
        table = pd.DataFrame({"Step": [STEPS + i * (STEPS + 1) for i in range(EPOCHS)]})
        for name, run in offline.groupby("run_id"):
            for suffix in ("", "__MIN", "__MAX"):
                table[f"{name} - {metric}{suffix}"] = run[metric].to_numpy()
        table.to_csv(tmp_path / f"wandb_export_{metric}.csv", index=False)
    _, curves = tdx.load_runs(tmp_path)
    pd.testing.assert_frame_equal(
        curves, offline[["run_id", "epoch", "val_acc", "val_loss"]], check_dtype=False
    )
    runs, one = tdx.load_runs(tmp_path / "wandb_export_val_acc.csv")
    assert runs["source"].tolist() == ["wandb-csv", "wandb-csv"] and "val_loss" not in one


def test_wandb_runs_table_download_is_refused_with_the_reason(tmp_path):
    table = pd.DataFrame({"Name": ["baseline", "wider"], "State": ["finished"] * 2, "Runtime": [12, 14],
                          "lr": [0.1, 0.2], "val_acc": [0.7, 0.75], "val_loss": [0.5, 0.45]})  # fmt: skip
    table.to_csv(tmp_path / "wandb_export.csv", index=False)
    with pytest.raises(
        InputError, match="no epochs: one final value per run, like MLflow's or W&B's runs-table"
    ):
        tdx.load_runs(tmp_path / "wandb_export.csv")


def test_wandb_bad_run_files(wandb_dir, tmp_path):
    root, _ = wandb_dir
    data = run_files(root / "wandb")[0].read_bytes()
    (tmp_path / "cut.wandb").write_bytes(data[: int(len(data) * 0.9)])
    _, curves = tdx.load_runs(tmp_path / "cut.wandb")  # a run killed mid-write: read up to its last record
    assert curves["epoch"].min() == 1 and any("cut short" in n for n in curves.attrs["notices"])
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0xFF
    (tmp_path / "damaged.wandb").write_bytes(bytes(damaged))
    with pytest.raises(InputError, match="damaged.wandb is corrupt at byte .* checksum"):
        tdx.load_runs(tmp_path / "damaged.wandb")
    (tmp_path / "other.wandb").write_bytes(b"not a run log at all")
    with pytest.raises(InputError, match="not a W&B run log"):
        tdx.load_runs(tmp_path / "other.wandb")
    (tmp_path / "short.wandb").write_bytes(data[:200])
    with pytest.raises(InputError, match="logged no history .*before the log was cut short"):
        tdx.load_runs(tmp_path / "short.wandb")
