"""Importers round-trip: runs logged with TensorBoard, MLflow, CSV and Keras load back to the same tidy table."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")  # before anything imports keras

import numpy as np
import pandas as pd
import pytest

from traindx.errors import InputError
from traindx.store import load_runs
from traindx.store.importers.csv import load_csv
from traindx.store.importers.names import canonical_metric
from traindx.store.importers.tensorboard import load_tensorboard

METRICS = ["train_acc", "val_acc", "train_loss", "val_loss"]
# the names each tool's users typically log under, per tidy column
TB_TAGS = {"train_acc": "train/acc", "val_acc": "val/acc", "train_loss": "Loss/train", "val_loss": "Loss/val"}
MLFLOW_KEYS = {
    "train_acc": "accuracy",
    "val_acc": "val_accuracy",
    "train_loss": "loss",
    "val_loss": "val_loss",
}


def _reference() -> pd.DataFrame:
    """Two runs of four and three epochs; values exact in float32, as TensorBoard stores them."""
    rng = np.random.default_rng(0)
    rows = []
    for run, n in (("run_a", 4), ("run_b", 3)):
        for epoch in range(1, n + 1):
            acc = np.float32(rng.uniform(0.1, 1.0))
            rows.append(
                {
                    "run_id": run,
                    "epoch": epoch,
                    "train_acc": float(np.round(acc, 3)),
                    "val_acc": float(np.round(acc * 0.9, 3)),
                    "train_loss": float(np.round(2 - acc, 3)),
                    "val_loss": float(np.round(2.2 - acc, 3)),
                }
            )
    return pd.DataFrame(rows)


REF = _reference()


def _assert_same(curves: pd.DataFrame, expected: pd.DataFrame = REF) -> None:
    got = curves[["run_id", "epoch", *METRICS]].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-6)
    assert got["epoch"].dtype == np.int64


# --- TensorBoard -------------------------------------------------------------------------------------------
def test_tensorboard_round_trip(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    for run, part in REF.groupby("run_id"):
        offset = 0 if run == "run_a" else 1  # run_b logs 0-based steps, as many training loops do
        with SummaryWriter(str(tmp_path / "logs" / run)) as writer:
            for row in part.itertuples():
                for col, tag in TB_TAGS.items():
                    writer.add_scalar(tag, getattr(row, col), row.epoch - offset)
                writer.add_scalar("lr", 0.1, row.epoch - offset)  # an unmapped tag is left out
    runs, curves = load_runs(tmp_path / "logs")
    _assert_same(curves)
    assert runs["run_id"].tolist() == ["run_a", "run_b"]


def test_tensorboard_keras_layout_split_subfolders(tmp_path):
    """Keras' TensorBoard callback writes <run>/train and <run>/validation, both logging epoch_accuracy at
    0-based epochs, as TensorFlow 2 scalar tensor summaries (written here for the validation split)."""
    from tensorboard.plugins.scalar.summary_v2 import scalar_pb
    from torch.utils.tensorboard import SummaryWriter

    part = REF[REF["run_id"] == "run_a"]
    for split, prefix in (("train", "train"), ("validation", "val")):
        with SummaryWriter(str(tmp_path / "run_a" / split)) as writer:
            for row in part.itertuples():
                for tag, col in (("epoch_accuracy", f"{prefix}_acc"), ("epoch_loss", f"{prefix}_loss")):
                    if split == "train":
                        writer.add_scalar(tag, getattr(row, col), row.epoch - 1)
                    else:
                        writer.file_writer.add_summary(scalar_pb(tag, getattr(row, col)), row.epoch - 1)
    _, curves = load_tensorboard(tmp_path)
    _assert_same(curves, part.reset_index(drop=True))


def test_tensorboard_without_mappable_tags_lists_them(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / "r")) as writer:
        writer.add_scalar("grad_norm", 1.0, 1)
        writer.add_scalar("acc_top5", 0.9, 1)
    with pytest.raises(InputError, match=r"found: \['acc_top5', 'grad_norm'\].*val_accuracy"):
        load_runs(tmp_path)
    with pytest.raises(InputError, match="no TensorBoard event files"):
        load_tensorboard(tmp_path / "r" / "nothing-here")


# --- MLflow ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory):
    """An MLflow sqlite tracking store holding the reference runs, logged with the MLflow client at 0-based
    steps (as Keras and Lightning autologging do); returns (uri, {mlflow run id: reference run id})."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    artifacts = tmp_path_factory.mktemp("artifacts")
    exp = client.create_experiment("curves", artifact_location=str(artifacts / "curves"))
    client.create_experiment("empty", artifact_location=str(artifacts / "empty"))
    ids = {}
    for run, part in REF.groupby("run_id"):
        mlrun = client.create_run(exp, run_name=run)
        client.log_param(mlrun.info.run_id, "lr", "0.01")
        for row in part.itertuples():
            for col, key in MLFLOW_KEYS.items():
                client.log_metric(mlrun.info.run_id, key, getattr(row, col), step=row.epoch - 1)
        client.log_metric(mlrun.info.run_id, "learning_rate", 0.01, step=0)
        client.set_terminated(mlrun.info.run_id)
        ids[mlrun.info.run_id] = run
    return uri, ids


def test_mlflow_round_trip(mlflow_store):
    uri, ids = mlflow_store
    runs, curves = load_runs(f"mlflow:{uri}")
    curves = curves[curves["run_id"].isin(ids)]  # other tests may add experiments to this store
    curves = curves.assign(run_id=curves["run_id"].map(ids)).sort_values(["run_id", "epoch"])
    _assert_same(curves)
    by_name = runs[runs["run_id"].isin(ids)].set_index("run_name")
    assert by_name.loc["run_a", "lr"] == "0.01" and by_name.loc["run_b", "status"] == "FINISHED"
    assert set(by_name["experiment"]) == {"curves"}


def test_mlflow_metric_history_csv_export(mlflow_store, tmp_path):
    """MLflow's metric history (key, value, timestamp, step per row) saved as CSV loads like the store."""
    from mlflow.tracking import MlflowClient

    uri, ids = mlflow_store
    client = MlflowClient(tracking_uri=uri)
    rows = [
        {"run_id": rid, "key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step}
        for rid in ids
        for key in MLFLOW_KEYS.values()
        for m in client.get_metric_history(rid, key)
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "history.csv", index=False)
    _, curves = load_runs(tmp_path / "history.csv")
    curves = curves.assign(run_id=curves["run_id"].map(ids)).sort_values(["run_id", "epoch"])
    _assert_same(curves)


def test_mlflow_sqlite_file_loads_without_a_uri(mlflow_store):
    uri, ids = mlflow_store
    db = Path(uri.removeprefix("sqlite:///"))
    runs, curves = load_runs(db)  # the mlflow.db itself, recognised by its tables
    assert sorted(runs["run_name"]) == ["run_a", "run_b"]
    pd.testing.assert_frame_equal(curves, load_runs(uri if uri.startswith("mlflow:") else f"mlflow:{uri}")[1])


def test_mlflow_file_store_folder(tmp_path, monkeypatch):
    """An mlruns folder of MLflow's older file store: read where MLflow allows it, else the way out is named."""
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    run = client.create_run(client.create_experiment("old"), run_name="legacy")
    for step, acc in enumerate([0.5, 0.7]):
        client.log_metric(run.info.run_id, "val_accuracy", acc, step=step)
    runs, curves = load_runs(tmp_path / "mlruns")
    assert runs["run_name"].tolist() == ["legacy"] and curves["val_acc"].tolist() == [0.5, 0.7]
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    shutil.copytree(tmp_path / "mlruns", tmp_path / "copy")  # a new URI: MLflow caches a store per URI
    with pytest.raises(InputError, match="MLflow refused the file store .*migrate-filestore"):
        load_runs(tmp_path / "copy")


def test_mlflow_bad_input(mlflow_store):
    uri, _ = mlflow_store
    from traindx.store.importers.mlflow import load_mlflow

    with pytest.raises(InputError, match=r"experiment\(s\) \['nope'\] not found.*'curves'"):
        load_mlflow(uri, experiments=["nope"])
    with pytest.raises(InputError, match="no MLflow runs found"):
        load_mlflow(uri, experiments=["empty"])
    with pytest.raises(InputError, match="empty MLflow tracking URI"):
        load_runs("mlflow:")


def test_lightning_loggers_agree(mlflow_store, tmp_path):
    """One real Lightning training logged by its CSV, TensorBoard and MLflow loggers loads to one table: each
    logs against the global step with an extra ``epoch`` metric, and splits per-step from per-epoch values."""
    import lightning as L
    import torch
    from lightning.pytorch.loggers import CSVLogger, MLFlowLogger, TensorBoardLogger

    from traindx.store.importers.mlflow import load_mlflow

    class Net(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(8, 2)

        def _step(self, batch, prefix, **kw):
            out = self.net(batch[0])
            loss = torch.nn.functional.cross_entropy(out, batch[1])
            self.log(f"{prefix}_loss", loss, **kw)
            self.log(
                f"{prefix}_acc", (out.argmax(1) == batch[1]).float().mean(), on_epoch=True, on_step=False
            )
            return loss

        def training_step(self, batch, _):
            return self._step(batch, "train", on_step=True, on_epoch=True)

        def validation_step(self, batch, _):
            self._step(batch, "val")

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.5)

    torch.manual_seed(0)
    x = torch.randn(128, 8)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, (x[:, 0] > 0).long()), batch_size=16)
    loggers = [
        CSVLogger(tmp_path / "csv", name="pl"),
        TensorBoardLogger(tmp_path / "tb", name="pl"),
        MLFlowLogger("lightning", tracking_uri=mlflow_store[0]),
    ]
    trainer = L.Trainer(
        max_epochs=3, logger=loggers, log_every_n_steps=2, enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False,
    )  # fmt: skip
    trainer.fit(Net(), data, data)
    tables = [
        load_runs(tmp_path / "csv" / "pl" / "version_0" / "metrics.csv")[1],
        load_runs(tmp_path / "tb")[1],
        load_mlflow(mlflow_store[0], experiments=["lightning"])[1],
    ]
    expected = tables[0][["epoch", *METRICS]]
    assert expected["epoch"].tolist() == [1, 2, 3] and expected[METRICS].notna().all().all()
    for table in tables[1:]:
        pd.testing.assert_frame_equal(table[["epoch", *METRICS]], expected, check_dtype=False, rtol=1e-6)


# --- CSV ---------------------------------------------------------------------------------------------------
def test_csv_tidy_round_trip_with_aliases(tmp_path):
    REF.to_csv(tmp_path / "tidy.csv", index=False)
    _assert_same(load_runs(tmp_path / "tidy.csv")[1])
    renamed = REF.rename(
        columns={"run_id": "run", "train_acc": "accuracy", "val_acc": "valid_acc", "train_loss": "loss"}
    )
    renamed.assign(epoch=renamed["epoch"] - 1, note="x").to_csv(
        tmp_path / "aliased.tsv", sep="\t", index=False
    )
    runs, curves = load_runs(tmp_path / "aliased.tsv")
    _assert_same(curves)
    assert (curves["note"] == "x").all()  # unknown columns are carried


def test_csv_keras_csvlogger_file_is_one_run(tmp_path):
    part = REF[REF["run_id"] == "run_a"]
    logged = pd.DataFrame(
        {
            "epoch": part["epoch"] - 1,
            "accuracy": part["train_acc"],
            "loss": part["train_loss"],
            "val_accuracy": part["val_acc"],
            "val_loss": part["val_loss"],
        }
    )
    logged.to_csv(tmp_path / "run_a.csv", index=False)
    _assert_same(load_runs(tmp_path / "run_a.csv")[1], part.reset_index(drop=True))


@pytest.mark.parametrize("marker", ["_{k}", "@{k}", "[{k}]", "_epoch{k}"])
def test_csv_wide_round_trip(tmp_path, marker):
    wide = REF.pivot(index="run_id", columns="epoch", values=METRICS)
    wide.columns = [m + marker.format(k=k) for m, k in wide.columns]
    wide = wide.reset_index().assign(model="mlp")
    wide.to_csv(tmp_path / "wide.csv", index=False)
    runs, curves = load_runs(tmp_path / "wide.csv")
    _assert_same(curves)  # run_b has no epoch 4: its empty cells are not rows
    assert runs[["run_id", "model"]].values.tolist() == [["run_a", "mlp"], ["run_b", "mlp"]]


def test_csv_tensorboard_scalar_downloads(tmp_path):
    """TensorBoard's 'download CSV' gives one file per (run, tag): run-<run>-tag-<tag>.csv with Wall time, Step,
    Value; a folder of them merges into the tidy table."""
    for run, part in REF.groupby("run_id"):
        for col, tag in TB_TAGS.items():
            frame = pd.DataFrame(
                {"Wall time": 1.7e9 + part["epoch"], "Step": part["epoch"], "Value": part[col]}
            )
            frame.to_csv(tmp_path / f"run-{run}-tag-{tag.replace('/', '_')}.csv", index=False)
    runs, curves = load_runs(tmp_path)
    _assert_same(curves)
    assert runs["run_id"].tolist() == ["run_a", "run_b"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "run_id,epoch,foo,bar\na,1,0.1,0.2\n",
            r"no recognised metric column.*\['foo', 'bar'\].*val_accuracy",
        ),
        ("run_id,step,acc\na,1,0.1\n", "cannot tell the layout.*'step' column: pass epoch_column='step'"),
        ("", "is empty"),
        ("Run ID,Name,lr,metrics.val_acc\nabc,r1,0.1,0.9\n", "no epochs: one final value per run"),
        ("run_id,epoch,acc\na,1,0.5\na,1,0.6\n", r"share a \(run_id, epoch\)"),
        ("run_id,epoch,acc\na,1,55\na,2,175\n", r"ranges 55\.\.175, outside \[0, 1\]"),
    ],
)
def test_csv_bad_input(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=match):
        load_runs(path)


def test_csv_step_column_on_request(tmp_path):
    (tmp_path / "s.csv").write_text("run_id,step,acc\na,1,0.1\na,2,0.3\n")
    _, curves = load_csv(tmp_path / "s.csv", epoch_column="step")
    assert curves["epoch"].tolist() == [1, 2] and curves["train_acc"].tolist() == [0.1, 0.3]


# --- Keras -------------------------------------------------------------------------------------------------
def test_keras_history_round_trip():
    import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=32, validation_split=0.25, verbose=0)
    runs, curves = load_runs(history, run_id="k1")
    expected = pd.DataFrame(
        {
            "run_id": "k1",
            "epoch": [1, 2, 3],
            "train_acc": history.history["accuracy"],
            "val_acc": history.history["val_accuracy"],
            "train_loss": history.history["loss"],
            "val_loss": history.history["val_loss"],
        }
    )
    _assert_same(curves, expected)
    assert runs.loc[0, "epochs"] == 3


def test_keras_bad_input():
    with pytest.raises(InputError, match="different lengths"):
        load_runs({"accuracy": [0.5, 0.6], "val_accuracy": [0.5]})
    with pytest.raises(InputError, match=r"no recognised metric.*\['f1'\].*metrics=\['accuracy'\]"):
        load_runs({"f1": [0.5]})
    with pytest.raises(InputError, match="history is empty"):
        load_runs({})


def test_metric_names_map_conservatively():
    mapped = {
        "acc": "train_acc",
        "train_accuracy": "train_acc",
        "Accuracy/test": "test_acc",
        "valLoss": "val_loss",
        "sparse_categorical_accuracy": "train_acc",
        "metrics.val_acc": "val_acc",
        "eval/loss": "val_loss",
    }
    for name, column in mapped.items():
        assert canonical_metric(name) == column, name
    for name in ("lr", "train_loss_step", "val_acc_top5", "train_val_acc", "loss_acc", "f1"):
        assert canonical_metric(name) is None, name
