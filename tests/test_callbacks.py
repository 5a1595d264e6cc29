"""Lightning and Keras callbacks: the same monitor core watching real (tiny) trainings in each framework."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before anything imports keras

import numpy as np
import pytest
import torch
from torch import nn

from traindx.experiments.datasets import load

N_TRAIN = 256
BATCH = 32


@pytest.fixture(scope="module")
def digits():
    ds = load("digits")
    x = ds.x_train[:N_TRAIN].reshape(N_TRAIN, -1).astype(np.float32)
    y = ds.y_train[:N_TRAIN].astype(np.int64)
    return x, y


# --- Lightning ---------------------------------------------------------------------------------------------
pl = pytest.importorskip(
    "lightning.pytorch", reason="lightning is an optional extra: pip install traindx[lightning]"
)


class LitMLP(pl.LightningModule):
    def __init__(self, lr: float) -> None:
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        loss = nn.functional.cross_entropy(logits, y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        self.log("train_acc", (logits.argmax(1) == y).float().mean(), on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)


def _loaders(digits):
    x, y = (torch.from_numpy(a) for a in digits)
    ds = torch.utils.data.TensorDataset(x, y)
    train = torch.utils.data.DataLoader(ds, batch_size=BATCH, shuffle=True)
    val = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[:64], y[:64]), batch_size=64)
    return train, val


def _trainer(max_epochs: int):
    return pl.Trainer(
        max_epochs=max_epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )


def test_lightning_callback_monitors_a_real_fit(digits, tmp_path):
    from traindx.monitor.callbacks.lightning import TraindxCallback

    torch.manual_seed(0)
    cb = TraindxCallback(every=1, save_to=str(tmp_path / "signals.parquet"))
    trainer = _trainer(max_epochs=2)
    trainer.callbacks.append(cb)
    trainer.fit(LitMLP(lr=0.05), *_loaders(digits))
    mon = cb.monitor
    steps_per_epoch = N_TRAIN // BATCH
    assert trainer.global_step == 2 * steps_per_epoch
    assert not mon.should_stop
    history = mon.history
    assert history["step"].max() >= 2 * steps_per_epoch - 1  # every optimizer step reached the monitor
    epoch_metrics = set(history.loc[history["name"].isin(["val_loss", "train_acc"]), "name"])
    assert epoch_metrics == {"val_loss", "train_acc"}  # logged epoch metrics reached epoch_end
    assert not [f for f in mon.findings if f.severity == "critical"]
    assert (tmp_path / "signals.parquet").exists()


def test_lightning_callback_stops_training_on_a_stop_code(digits):
    from traindx.monitor.callbacks.lightning import TraindxCallback

    torch.manual_seed(0)
    cb = TraindxCallback(every=1, stop_on=("nan_inf", "exploding_gradients", "lr_too_high", "loss_spike"))
    trainer = _trainer(max_epochs=5)
    trainer.callbacks.append(cb)
    trainer.fit(LitMLP(lr=1e4), *_loaders(digits))  # a learning rate this far off diverges within steps
    assert cb.monitor.should_stop
    assert cb.monitor.findings
    assert trainer.global_step < 5 * (N_TRAIN // BATCH)


# --- Keras 3 (torch backend) -------------------------------------------------------------------------------
def _keras_model(keras, lr: float):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=lr, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def test_keras_callback_monitors_a_real_fit(digits):
    keras = pytest.importorskip("keras", reason="keras is an optional extra: pip install traindx[keras]")
    from traindx.monitor.callbacks.keras import TraindxKerasCallback

    x, y = digits
    cb = TraindxKerasCallback(every=1)
    model = _keras_model(keras, lr=0.05)
    hist = model.fit(x, y, batch_size=BATCH, epochs=2, validation_split=0.25, callbacks=[cb], verbose=0)
    mon = cb.monitor
    assert len(hist.history["loss"]) == 2
    history = mon.history
    assert history["step"].max() >= 2 * (N_TRAIN * 3 // 4 // BATCH) - 1
    assert {"val_loss", "val_acc"} <= set(history["name"])
    grad_rows = history[~history["name"].isin(["loss", "train_loss", "val_loss", "train_acc", "val_acc"])]
    assert len(grad_rows) > 0  # gradient/weight indicators read the Keras model's torch parameters
    assert not [f for f in mon.findings if f.severity == "critical"]


def test_keras_callback_stops_training_on_a_stop_code(digits):
    keras = pytest.importorskip("keras", reason="keras is an optional extra: pip install traindx[keras]")
    from traindx.monitor.callbacks.keras import TraindxKerasCallback

    x, y = digits
    cb = TraindxKerasCallback(
        every=1, stop_on=("nan_inf", "exploding_gradients", "lr_too_high", "loss_spike")
    )
    model = _keras_model(keras, lr=1e4)
    hist = model.fit(x, y, batch_size=BATCH, epochs=5, callbacks=[cb], verbose=0)
    assert cb.monitor.should_stop
    assert cb.monitor.findings
    assert len(hist.history["loss"]) < 5


def test_keras_callback_refuses_a_non_torch_backend(monkeypatch):
    pytest.importorskip("keras", reason="keras is an optional extra: pip install traindx[keras]")
    from traindx.errors import InputError
    from traindx.monitor.callbacks import keras as keras_cb

    monkeypatch.setattr(keras_cb.keras.backend, "backend", lambda: "jax")
    with pytest.raises(InputError, match="KERAS_BACKEND=torch"):
        keras_cb.check_torch_backend()


def test_keras_callback_passes_the_validation_size(digits, monkeypatch):
    keras = pytest.importorskip("keras", reason="keras is an optional extra: pip install traindx[keras]")
    from traindx.monitor import Monitor
    from traindx.monitor.callbacks.keras import TraindxKerasCallback

    seen = []
    real = Monitor.epoch_end

    def spy(self, **metrics):
        seen.append(metrics.get("val_size"))
        return real(self, **metrics)

    monkeypatch.setattr(Monitor, "epoch_end", spy)
    x, y = digits
    xv, yv = x[:77], y[:77]  # not a multiple of the batch: the short last batch is counted as it is
    model = _keras_model(keras, lr=0.05)
    model.fit(x, y, batch_size=BATCH, epochs=2, validation_data=(xv, yv), callbacks=[TraindxKerasCallback()])
    assert seen == [77, 77]
