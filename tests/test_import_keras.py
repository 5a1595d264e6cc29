"""Keras 3 (torch backend) runs: CSVLogger files (CSV, TSV, gzipped) and the History saved as JSON load alike."""

from __future__ import annotations

import gzip
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before anything imports keras

import numpy as np
import pandas as pd
import pytest

import traindx as tdx
from traindx.errors import InputError


@pytest.fixture(scope="module")
def keras_run(tmp_path_factory):
    """One real fit logged by CSVLogger (comma and tab separated), its History dumped to JSON, and a second fit
    whose accuracy metric is logged in percent."""
    import keras

    folder = tmp_path_factory.mktemp("keras")
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(96, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")

    def model(metrics):
        m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(2, activation="softmax")])
        m.compile(
            optimizer=keras.optimizers.SGD(0.3), loss="sparse_categorical_crossentropy", metrics=metrics
        )
        return m

    loggers = [keras.callbacks.CSVLogger(str(folder / "log.csv")),
               keras.callbacks.CSVLogger(str(folder / "log.tsv"), separator="\t")]  # fmt: skip
    history = model(["accuracy"]).fit(x, y, epochs=3, batch_size=32, validation_split=0.25, verbose=0,
                                      callbacks=loggers)  # fmt: skip
    (folder / "history.json").write_text(json.dumps(history.history))
    with open(folder / "log.csv", "rb") as src, gzip.open(folder / "log.csv.gz", "wb") as dst:
        dst.write(src.read())

    def acc(y_true, y_pred):  # what many codebases log: accuracy in percent
        hit = keras.ops.cast(keras.ops.argmax(y_pred, axis=-1) == keras.ops.cast(y_true, "int64"), "float32")
        return 100.0 * keras.ops.mean(hit)

    logger = keras.callbacks.CSVLogger(str(folder / "percent.csv"))
    model([acc]).fit(x, y, epochs=3, batch_size=32, validation_split=0.25, verbose=0, callbacks=[logger])
    return folder, history


def test_keras_csvlogger_and_history_json_agree(keras_run):
    folder, history = keras_run
    _, expected = tdx.load_runs(history, run_id="log")
    assert expected["epoch"].tolist() == [1, 2, 3]
    np.testing.assert_allclose(expected["val_acc"], history.history["val_accuracy"])
    cols = ["run_id", "epoch", "train_acc", "val_acc", "train_loss", "val_loss"]
    for name in ("log.csv", "log.tsv", "log.csv.gz", "history.json"):
        _, curves = tdx.load_runs(folder / name)
        assert curves["run_id"].unique().tolist() == ["history" if name == "history.json" else "log"]
        got = curves[cols].assign(run_id="log")
        pd.testing.assert_frame_equal(got, expected[cols], rtol=1e-6, check_dtype=False)


def test_keras_percent_accuracy_detected_and_said(keras_run):
    folder, _ = keras_run
    raw = pd.read_csv(folder / "percent.csv")
    assert raw["acc"].max() > 1  # Keras wrote percent
    _, curves = tdx.load_runs(folder / "percent.csv")
    np.testing.assert_allclose(curves["train_acc"], raw["acc"] / 100, rtol=1e-6)
    np.testing.assert_allclose(curves["val_acc"], raw["val_acc"] / 100, rtol=1e-6)
    assert len(curves.attrs["notices"]) == 1
    assert curves.attrs["notices"][0].startswith(
        "accuracies read as percent and divided by 100: train_acc, val_acc"
    )


def test_keras_bad_files(keras_run, tmp_path):
    folder, _ = keras_run
    text = (folder / "history.json").read_text()
    (tmp_path / "cut.json").write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match="cut.json is not valid JSON .* truncated"):
        tdx.load_runs(tmp_path / "cut.json")
    (tmp_path / "other.json").write_text('{"name": "x", "layers": 3}')
    with pytest.raises(InputError, match="JSON but not a Keras History"):
        tdx.load_runs(tmp_path / "other.json")
    (tmp_path / "ragged.json").write_text('{"loss": [0.9, 0.5], "val_loss": [0.8]}')
    with pytest.raises(InputError, match="different lengths"):
        tdx.load_runs(tmp_path / "ragged.json")
    data = (folder / "log.csv.gz").read_bytes()
    (tmp_path / "cut.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="not a whole gzip archive .* cut short"):
        tdx.load_runs(tmp_path / "cut.csv.gz")
    (tmp_path / "latin1.csv").write_bytes((folder / "log.csv").read_bytes().replace(b"loss", b"p\xe9rte", 1))
    with pytest.raises(InputError, match="latin1.csv is not UTF-8 text .* iconv"):
        tdx.load_runs(tmp_path / "latin1.csv")
    (tmp_path / "utf16.csv").write_text((folder / "log.csv").read_text(), encoding="utf-16")  # with its BOM
    assert tdx.load_runs(tmp_path / "utf16.csv")[1]["epoch"].tolist() == [1, 2, 3]
