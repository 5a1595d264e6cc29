"""The Hugging Face Trainer callback on a real ``transformers.Trainer`` (a tiny BERT built from a config)."""

from __future__ import annotations

import json

import pytest
import torch

transformers = pytest.importorskip(
    "transformers", reason="transformers is an optional extra: pip install traindx[transformers]"
)

from traindx.monitor.callbacks.transformers import TraindxTrainerCallback  # noqa: E402

VOCAB, SEQ = 64, 12


class Tokens(torch.utils.data.Dataset):
    """Sequences whose label is whether token 1 occurs: learnable in a few steps."""

    def __init__(self, n: int, seed: int, scale_bug: bool = False) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(2, VOCAB, (n, SEQ), generator=g)
        self.labels = torch.randint(0, 2, (n,), generator=g)
        self.ids[self.labels == 1, 0] = 1

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        return {
            "input_ids": self.ids[i],
            "attention_mask": torch.ones(SEQ, dtype=torch.long),
            "labels": self.labels[i],
        }


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=VOCAB,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=SEQ,
        num_labels=2,
    )
    return transformers.BertForSequenceClassification(config)


def _args(tmp_path, **kw) -> transformers.TrainingArguments:
    base = {
        "output_dir": str(tmp_path / "out"),
        "per_device_train_batch_size": 16,
        "per_device_eval_batch_size": 32,
        "num_train_epochs": 2,
        "learning_rate": 1e-3,
        "eval_strategy": "epoch",
        "logging_strategy": "no",
        "save_strategy": "no",
        "report_to": [],
        "use_cpu": True,
        "dataloader_num_workers": 0,
        "disable_tqdm": True,
    }
    return transformers.TrainingArguments(**{**base, **kw})


def test_trainer_callback_watches_every_optimizer_step_with_gradients(tmp_path):
    cb = TraindxTrainerCallback(every=2, save_to=str(tmp_path / "signals.parquet"))
    trainer = transformers.Trainer(
        model=_model(),
        args=_args(tmp_path, gradient_accumulation_steps=2),
        train_dataset=Tokens(128, seed=0),
        eval_dataset=Tokens(64, seed=1),
        callbacks=[cb],
    )
    trainer.train()
    hist = cb.monitor.history
    losses = hist[hist["name"] == "loss"]
    # 128 samples / (16 x 2 accumulation) = 4 optimizer steps per epoch, one monitor step each
    assert len(losses) == trainer.state.global_step == 8
    # gradients are read before zero_grad: on_step_end would see none and record no gradient norm
    grads = hist[hist["name"] == "gradient_norm"]
    assert len(grads) == 4 and (grads["value"] > 0).all()
    # the loss fed to the monitor is the mean over the two micro-batches of each step, not one of them
    assert losses["value"].between(0.3, 1.5).all()
    # both evaluations closed an epoch of the monitor with the eval loss and the train loss
    val = hist[hist["name"] == "val_loss"]
    assert len(val) == 2 and len(hist[hist["name"] == "train_loss"]) == 2
    assert abs(val["value"].iloc[-1] - trainer.evaluate()["eval_loss"]) < 1e-6
    saved = json.loads((tmp_path / "signals.findings.json").read_text())
    assert saved == [f.to_dict() for f in cb.monitor.findings] and (tmp_path / "signals.parquet").exists()
    # the hook that read the loss and the monitor's own hooks are gone
    model = trainer.model
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_trainer_stops_when_a_stop_code_fires(tmp_path):
    # a learning rate this large blows the tiny BERT up within a few steps
    cb = TraindxTrainerCallback(
        every=1, stop_on=("nan_inf", "loss_spike", "exploding_gradients", "lr_too_high")
    )
    trainer = transformers.Trainer(
        model=_model(),
        args=_args(tmp_path, learning_rate=1e4, num_train_epochs=20, eval_strategy="no", max_grad_norm=0.0),
        train_dataset=Tokens(128, seed=0),
        callbacks=[cb],
    )
    trainer.train()
    planned = 20 * 128 // 16
    assert cb.monitor.should_stop and trainer.state.global_step < planned
    assert {f.code for f in cb.monitor.findings} & set(cb.monitor.stop_on)


def test_trainer_callback_passes_the_evaluation_size_with_an_accuracy(tmp_path, monkeypatch):
    from traindx.monitor import Monitor

    seen = []
    real = Monitor.epoch_end

    def spy(self, **metrics):
        seen.append((metrics.get("val_size"), "val_acc" in metrics))
        return real(self, **metrics)

    def accuracy(pred):
        return {"accuracy": float((pred.predictions.argmax(-1) == pred.label_ids).mean())}

    monkeypatch.setattr(Monitor, "epoch_end", spy)
    trainer = transformers.Trainer(
        model=_model(),
        args=_args(tmp_path, num_train_epochs=1),
        train_dataset=Tokens(64, seed=0),
        eval_dataset=Tokens(50, seed=1),
        compute_metrics=accuracy,
        callbacks=[TraindxTrainerCallback()],
    )
    trainer.train()
    assert seen == [(50, True)]
