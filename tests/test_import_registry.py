"""The importer registry: every entry keeps the contract, load_runs dispatches over it in order, and the file
formats without a library of their own (JSON lines, TSV, gzip) and TensorBoard event files load directly."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

import traindx as tdx
from traindx.errors import InputError
from traindx.store.importers import IMPORTERS, Importer, supported

ROWS = pd.DataFrame(
    {
        "run_id": ["a"] * 3 + ["b"] * 3,
        "epoch": [1, 2, 3] * 2,
        "val_acc": [0.5, 0.6, 0.7, 0.4, 0.5, 0.55],
        "train_loss": [0.9, 0.6, 0.4, 1.0, 0.8, 0.7],
    }
)


@pytest.mark.parametrize("importer", IMPORTERS, ids=lambda imp: imp.name)
def test_every_importer_keeps_the_contract(importer, tmp_path):
    assert isinstance(importer, Importer) and importer.name and importer.reads
    assert importer.name in supported() and importer.reads in supported()
    (tmp_path / "x.bin").write_bytes(b"\x00\x01")
    for foreign in (tmp_path / "missing.csv", tmp_path / "x.bin", 3, None, [1, 2]):
        assert importer.accepts(foreign) is False  # never raises, never claims what it cannot read


def test_names_are_unique_and_the_specific_come_first():
    names = [imp.name for imp in IMPORTERS]
    assert len(set(names)) == len(names)
    order = {n: i for i, n in enumerate(names)}
    assert order["lightning"] < order["csv"] and order["wandb-csv"] < order["csv"]  # both are CSV files too
    assert order["transformers"] < order["keras"]  # both read JSON files


def test_json_lines_tidy_nested_and_gzipped(tmp_path):
    ROWS.to_json(tmp_path / "runs.jsonl", orient="records", lines=True)
    _, curves = tdx.load_runs(tmp_path / "runs.jsonl")
    pd.testing.assert_frame_equal(curves, ROWS, check_dtype=False)
    nested = "".join(
        f'{{"run": "{r.run_id}", "epoch": {r.epoch - 1}, "val": {{"acc": {r.val_acc}}}, "train": {{"loss": {r.train_loss}}}}}\n'
        for r in ROWS.itertuples()
    )
    with gzip.open(tmp_path / "nested.ndjson.gz", "wt") as fh:
        fh.write(nested)
    _, curves = tdx.load_runs(tmp_path / "nested.ndjson.gz")
    pd.testing.assert_frame_equal(curves, ROWS, check_dtype=False)


def test_json_lines_bad_files(tmp_path):
    ROWS.to_json(tmp_path / "runs.jsonl", orient="records", lines=True)
    text = (tmp_path / "runs.jsonl").read_text()
    (tmp_path / "cut.jsonl").write_text(text[:-10])
    with pytest.raises(InputError, match=r"cut.jsonl line 6 is not JSON .*ends mid-line"):
        tdx.load_runs(tmp_path / "cut.jsonl")
    (tmp_path / "list.jsonl").write_text("[1, 2]\n")
    with pytest.raises(InputError, match="line 1 holds a list, not an object"):
        tdx.load_runs(tmp_path / "list.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(InputError, match="empty.jsonl is empty"):
        tdx.load_runs(tmp_path / "empty.jsonl")


def test_tsv_and_semicolon_csv_and_wandb_history_export(tmp_path):
    ROWS.to_csv(tmp_path / "runs.tsv", sep="\t", index=False)
    ROWS.to_csv(tmp_path / "runs_semicolon.csv", sep=";", index=False)
    for name in ("runs.tsv", "runs_semicolon.csv"):
        pd.testing.assert_frame_equal(tdx.load_runs(tmp_path / name)[1], ROWS, check_dtype=False)
    # run.history() saved to CSV: one row per wandb.log call, _step counting them, epoch logged alongside
    history = pd.DataFrame(
        {"_step": range(6), "_runtime": np.linspace(0, 1, 6), "epoch": [0, 0, 0, 1, 1, 1],
         "train/loss": [0.9, 0.7, np.nan, 0.5, 0.3, np.nan], "val/acc": [np.nan, np.nan, 0.6, np.nan, np.nan, 0.7]}
    )  # fmt: skip
    history.to_csv(tmp_path / "history.csv", index=False)
    _, curves = tdx.load_runs(tmp_path / "history.csv")
    assert curves["train_loss"].tolist() == pytest.approx([0.8, 0.4])  # step rows averaged per epoch
    assert curves["val_acc"].tolist() == pytest.approx([0.6, 0.7])


def test_text_file_problems(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="empty.csv is empty"):
        tdx.load_runs(tmp_path / "empty.csv")
    (tmp_path / "wrong.csv").write_text("run_id,epoch,colour\na,1,red\n")
    with pytest.raises(InputError, match=r"no recognised metric column .*\['colour'\]"):
        tdx.load_runs(tmp_path / "wrong.csv")
    (tmp_path / "latin1.tsv").write_bytes("run_id\tepoch\tval_acc\tnote\na\t1\t0.5\tdéjà\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.tsv is not UTF-8 text \(byte 0xe9"):
        tdx.load_runs(tmp_path / "latin1.tsv")


def test_tensorboard_event_file_and_damaged_one(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / "run1")) as writer:
        for epoch in (1, 2):
            writer.add_scalar("Accuracy/val", 0.25 * epoch, epoch)
    event = next((tmp_path / "run1").glob("events.out.tfevents.*"))
    _, curves = tdx.load_runs(event)
    assert curves["val_acc"].tolist() == [0.25, 0.5] and curves["run_id"].unique().tolist() == ["run1"]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / event.name).write_bytes(np.random.default_rng(0).bytes(200))
    with pytest.raises(InputError, match="no scalar values in the event files .* damaged or truncated"):
        tdx.load_runs(tmp_path / "bad")


def test_run_id_names_a_one_run_source(tmp_path):
    ROWS[ROWS["run_id"] == "a"].drop(columns="run_id").to_csv(tmp_path / "one.csv", index=False)
    runs, curves = tdx.load_runs(tmp_path / "one.csv", run_id="mine")
    assert runs["run_id"].tolist() == ["mine"] and set(curves["run_id"]) == {"mine"}
    ROWS.to_csv(tmp_path / "two.csv", index=False)
    with pytest.raises(InputError, match="holds 2 runs; leave run_id out"):
        tdx.load_runs(tmp_path / "two.csv", run_id="mine")
