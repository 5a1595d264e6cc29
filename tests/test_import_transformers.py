"""transformers' Trainer: the trainer_state.json it writes (output_dir and checkpoints) loads as epoch curves."""

from __future__ import annotations

import json

import numpy as np
import pytest

import traindx as tdx
from traindx.errors import InputError

EPOCHS = 3


@pytest.fixture(scope="module")
def trainer_output(tmp_path_factory):
    """A real Trainer run (tiny torch model, 8 steps per epoch, loss logged every 2 steps, evaluation each
    epoch, a checkpoint each epoch, then save_state); returns (output_dir, the Trainer's in-memory log_history)."""
    import torch
    from transformers import Trainer, TrainingArguments

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 2)

        def forward(self, x, labels=None):
            logits = self.linear(x)
            return {"loss": torch.nn.functional.cross_entropy(logits, labels), "logits": logits}

    class Data(torch.utils.data.Dataset):
        def __init__(self, n, seed):
            self.x = torch.randn(n, 4, generator=torch.Generator().manual_seed(seed))
            self.y = (self.x[:, 0] > 0).long()

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return {"x": self.x[i], "labels": self.y[i]}

    def accuracy(pred):
        return {"accuracy": float((np.argmax(pred.predictions, 1) == pred.label_ids).mean())}

    out = tmp_path_factory.mktemp("hf") / "tiny-run"
    args = TrainingArguments(
        str(out), num_train_epochs=EPOCHS, per_device_train_batch_size=8, logging_steps=2, eval_strategy="epoch",
        save_strategy="epoch", report_to=[], disable_tqdm=True, use_cpu=True, learning_rate=0.1, seed=0,
    )  # fmt: skip
    trainer = Trainer(model=Net(), args=args, train_dataset=Data(64, 0), eval_dataset=Data(32, 1),
                      compute_metrics=accuracy)  # fmt: skip
    trainer.train()
    trainer.save_state()
    return out, list(trainer.state.log_history)


def _expected(log_history, key, epoch):
    """Mean of ``key`` over the entries logged during ``epoch`` (fractional epoch in (epoch - 1, epoch])."""
    vals = [
        e[key]
        for e in log_history
        if key in e and "train_runtime" not in e and epoch - 1 < e["epoch"] <= epoch
    ]
    return float(np.mean(vals))


def test_trainer_output_dir(trainer_output):
    out, log_history = trainer_output
    runs, curves = tdx.load_runs(out)
    assert curves["run_id"].unique().tolist() == ["tiny-run"]
    assert curves["epoch"].tolist() == [1, 2, 3]
    for row in curves.itertuples():
        assert row.train_loss == pytest.approx(_expected(log_history, "loss", row.epoch))
        assert row.val_loss == pytest.approx(_expected(log_history, "eval_loss", row.epoch))
        assert row.val_acc == pytest.approx(_expected(log_history, "eval_accuracy", row.epoch))
    summary = next(e for e in log_history if "train_runtime" in e)
    assert not np.isclose(curves["train_loss"].iloc[-1], summary["train_loss"])  # the run average is left out
    run = runs.iloc[0]
    assert (run["max_epochs"], run["batch_size"], run["global_step"]) == (EPOCHS, 8, 24)


def test_trainer_checkpoint_state_and_folder_of_runs(trainer_output):
    out, _ = trainer_output
    _, curves = tdx.load_runs(out / "checkpoint-16")  # after 2 of 3 epochs
    assert curves["run_id"].unique().tolist() == ["tiny-run"] and curves["epoch"].tolist() == [1, 2]
    _, state_file = tdx.load_runs(out / "trainer_state.json")
    assert state_file["epoch"].tolist() == [1, 2, 3]
    runs, _ = tdx.load_runs(out.parent)  # a folder of output dirs: one run each
    assert runs["run_id"].tolist() == ["tiny-run"]


def test_trainer_bad_state_files(trainer_output, tmp_path):
    out, _ = trainer_output
    text = (out / "trainer_state.json").read_text()
    (tmp_path / "trainer_state.json").write_text(text[: len(text) // 3])
    with pytest.raises(InputError, match="not valid JSON .*truncated .*earlier checkpoint"):
        tdx.load_runs(tmp_path / "trainer_state.json")
    (tmp_path / "trainer_state.json").write_text(json.dumps({"global_step": 3}))
    with pytest.raises(InputError, match="no 'log_history' list, so it is not a transformers Trainer state"):
        tdx.load_runs(tmp_path / "trainer_state.json")
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": [{"train_runtime": 1.0}]}))
    with pytest.raises(InputError, match="logged no metrics per epoch"):
        tdx.load_runs(tmp_path)
