"""Framework cases for the realistic fault benchmark: Lightning, Keras 3 (torch backend) and the Hugging Face
Trainer, each healthy and with injected faults, watched through traindx's own callbacks for those libraries
(``TraindxCallback``, ``TraindxKerasCallback``, ``TraindxTrainerCallback``) at their defaults.

Imported by ``benchmarks/faults.py --realistic`` (and ``--frameworks`` for these alone). Families:

- ``pl_cnn``: a LightningModule (two Conv-BN-ReLU-pool blocks, ``zoo.cnn_bn``) on 2,000 Fashion-MNIST images,
  Adam 1e-3, batch 64, 5 epochs; its faults are written the Lightning way: manual optimization that forgets
  ``zero_grad()``, ``configure_optimizers`` over the feature layers only (a stale optimizer: the head never
  trains), a ``forward`` that ends in softmax fed to ``F.cross_entropy``;
- ``keras_mlp``: a Keras ``Sequential`` MLP (256-128, ReLU) on 2,000 flattened MNIST images, Adam 1e-3,
  batch 64, 6 epochs; the softmax fault is Keras' classic one, ``Dense(10, activation="softmax")`` with
  ``SparseCategoricalCrossentropy(from_logits=True)``;
- ``hf_gpt2``: ``GPT2LMHeadModel`` from a 2-layer config (n_embd 48) on tiny shakespeare characters (960
  windows of 32), ``Trainer`` defaults (AdamW, linear decay, lr 1e-3), batch 16, 3 epochs;
- ``hf_bert``: ``BertForSequenceClassification`` from a 2-layer config on a token task (label = whether
  token 1 occurs), ``Trainer`` defaults, lr 1e-3, batch 16, 4 epochs, gradient accumulation 2.

Missing ``zero_grad()`` and eval mode do not apply where the framework owns the step (Keras, the Trainer).
No threshold was chosen on these runs.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")  # before anything imports keras

import numpy as np
import torch
from torch.nn import functional as F
from zoo import char_batch, char_data, cnn_bn

from traindx.experiments.datasets import load

UNSTABLE = {"missing_zero_grad", "exploding_gradients", "divergence", "lr_too_high", "nan_inf", "loss_spike"}
STUCK = {"lr_too_low", "plateau", "underfitting"}

#: fault -> (codes that count as caught, codes that are the right primary finding, families)
FAULTS: dict[str, tuple[set[str], set[str], tuple[str, ...]]] = {
    "no_zero_grad_sgd": (UNSTABLE, {"missing_zero_grad"}, ("pl_cnn",)),
    "no_zero_grad_adam": (UNSTABLE, {"missing_zero_grad"}, ("pl_cnn",)),
    "lr_x100_adam": (
        UNSTABLE | {"oscillation", "dead_relu"},
        {"lr_too_high", "divergence", "nan_inf", "exploding_gradients"},
        ("pl_cnn", "keras_mlp", "hf_gpt2", "hf_bert"),
    ),
    "lr_div_1000": (STUCK, {"lr_too_low"}, ("pl_cnn", "keras_mlp", "hf_gpt2", "hf_bert")),
    "unnormalized_input": (
        {"input_scale", "saturation", "dead_relu", "exploding_gradients"},
        {"input_scale"},
        ("pl_cnn", "keras_mlp"),
    ),
    "stale_optimizer": ({"no_update"}, {"no_update"}, ("pl_cnn",)),
    "random_labels": (
        {"plateau", "underfitting", "overfitting"},
        {"plateau", "underfitting", "overfitting"},
        ("pl_cnn", "keras_mlp", "hf_bert"),
    ),
    "tiny_train_set": ({"overfitting"}, {"overfitting"}, ("keras_mlp", "hf_gpt2")),
    "softmax_layer_before_ce": (
        {"softmax_before_loss"},
        {"softmax_before_loss"},
        ("pl_cnn", "keras_mlp"),
    ),
}
FAMILIES = ("pl_cnn", "keras_mlp", "hf_gpt2", "hf_bert")


def cases(seeds: int) -> list[tuple[str, str, int]]:
    """(family, fault, seed): every family healthy and every fault, once per seed."""
    out = [(fam, "healthy", s) for s in range(seeds) for fam in FAMILIES]
    out += [(fam, fault, s) for s in range(seeds) for fault, (_, _, fams) in FAULTS.items() for fam in fams]
    return out


def _images(name: str, seed: int, n: int, fault: str, flat: bool):
    ds = load(name)
    rng = np.random.default_rng(seed)
    n = 256 if fault == "tiny_train_set" else n
    idx = rng.choice(len(ds.x_train), n, replace=False)
    vidx = rng.choice(len(ds.x_test), 1000, replace=False)
    x, y = ds.x_train[idx].astype(np.float32), ds.y_train[idx].astype(np.int64)
    xv, yv = ds.x_test[vidx].astype(np.float32), ds.y_test[vidx].astype(np.int64)
    if fault == "random_labels":
        y = rng.permutation(y)
    if fault == "unnormalized_input":
        x, xv = x * 255.0, xv * 255.0
    if flat:
        x, xv = x.reshape(len(x), -1), xv.reshape(len(xv), -1)
    return x, y, xv, yv


# --- Lightning ------------------------------------------------------------------------------------------
def _run_lightning(fault: str, seed: int):
    import lightning.pytorch as pl

    from traindx.monitor.callbacks.lightning import TraindxCallback

    x, y, xv, yv = _images("fashion_mnist", seed, 2000, fault, flat=False)
    lr = {"lr_x100_adam": 0.1, "lr_div_1000": 1e-6}.get(fault, 1e-3)
    manual = fault.startswith("no_zero_grad_")

    class Lit(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            net = cnn_bn(1, 10)
            self.features, self.head = net[:-1], net[-1]
            self.automatic_optimization = not manual

        def forward(self, xb):
            out = self.head(self.features(xb))
            return F.softmax(out, dim=-1) if fault == "softmax_layer_before_ce" else out

        def training_step(self, batch, _i):
            xb, yb = batch
            out = self(xb)
            loss = F.cross_entropy(out, yb)
            acc = (out.argmax(-1) == yb).float().mean()
            self.log_dict({"train_loss": loss, "train_acc": acc}, on_step=False, on_epoch=True)
            if manual:  # manual optimization, and the zero_grad() call forgotten
                opt = self.optimizers()
                self.manual_backward(loss)
                opt.step()
                return loss.detach()
            return loss

        def validation_step(self, batch, _i):
            xb, yb = batch
            out = self(xb)
            self.log_dict(
                {"val_loss": F.cross_entropy(out, yb), "val_acc": (out.argmax(-1) == yb).float().mean()}
            )

        def configure_optimizers(self):
            if fault == "no_zero_grad_sgd":
                return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)
            # the stale optimizer: built over the feature extractor only, so the head never trains
            params = self.features.parameters() if fault == "stale_optimizer" else self.parameters()
            return torch.optim.Adam(params, lr=lr)

    g = torch.Generator().manual_seed(seed)
    dl = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
        batch_size=64,
        shuffle=True,
        generator=g,
    )
    vdl = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(xv), torch.from_numpy(yv)), batch_size=500
    )
    pl.seed_everything(seed, verbose=False)
    cb = TraindxCallback()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = pl.Trainer(
            max_epochs=5,
            callbacks=[cb],
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator="cpu",
            devices=1,
            default_root_dir=tmp,
            num_sanity_val_steps=0,
        )
        trainer.fit(Lit(), dl, vdl)
    return cb.monitor


# --- Keras 3 ----------------------------------------------------------------------------------------------
def _run_keras(fault: str, seed: int):
    import keras

    from traindx.monitor.callbacks.keras import TraindxKerasCallback

    x, y, xv, yv = _images("mnist", seed, 2000, fault, flat=True)
    lr = {"lr_x100_adam": 0.1, "lr_div_1000": 1e-6}.get(fault, 1e-3)
    keras.utils.set_random_seed(seed)
    head = "softmax" if fault == "softmax_layer_before_ce" else None
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation=head),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    cb = TraindxKerasCallback()
    epochs = 24 if fault == "tiny_train_set" else 6
    model.fit(x, y, batch_size=64, epochs=epochs, validation_data=(xv, yv), callbacks=[cb], verbose=0)
    return cb.monitor


# --- Hugging Face Trainer -----------------------------------------------------------------------------------
class _CharWindows(torch.utils.data.Dataset):
    def __init__(self, text: torch.Tensor, n: int, seed: int) -> None:
        x, _ = char_batch(text, n, 32, torch.Generator().manual_seed(seed))
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.x[i], "labels": self.x[i]}


class _Tokens(torch.utils.data.Dataset):
    """Sequences of 12 tokens whose label is whether token 1 occurs (learnable in a few dozen steps)."""

    def __init__(self, n: int, seed: int, random_labels: bool = False) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(2, 64, (n, 12), generator=g)
        self.labels = torch.randint(0, 2, (n,), generator=g)
        self.ids[self.labels == 1, 0] = 1
        if random_labels:
            self.labels = self.labels[torch.randperm(n, generator=g)]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        return {
            "input_ids": self.ids[i],
            "attention_mask": torch.ones(12, dtype=torch.long),
            "labels": self.labels[i],
        }


def _accuracy(pred) -> dict:
    logits, labels = pred
    return {"accuracy": float((np.asarray(logits).argmax(-1) == np.asarray(labels)).mean())}


def _run_hf(family: str, fault: str, seed: int):
    import transformers

    from traindx.monitor.callbacks.transformers import TraindxTrainerCallback

    transformers.set_seed(seed)
    lr = {"lr_x100_adam": 0.1, "lr_div_1000": 1e-6}.get(fault, 1e-3)
    if family == "hf_gpt2":
        text, vocab = char_data()
        split = int(0.9 * len(text))
        train_text = text[:2000] if fault == "tiny_train_set" else text[:split]
        config = transformers.GPT2Config(
            vocab_size=vocab, n_positions=32, n_embd=48, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0
        )
        model = transformers.GPT2LMHeadModel(config)
        train, val = _CharWindows(train_text, 960, seed), _CharWindows(text[split:], 256, 1000 + seed)
        extra, epochs, metrics = {}, (12 if fault == "tiny_train_set" else 3), None
    else:
        config = transformers.BertConfig(
            vocab_size=64,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=12,
            num_labels=2,
        )
        model = transformers.BertForSequenceClassification(config)
        train = _Tokens(1024, seed, random_labels=fault == "random_labels")
        val = _Tokens(256, 1000 + seed)
        extra, epochs, metrics = {"gradient_accumulation_steps": 2}, 4, _accuracy
    cb = TraindxTrainerCallback()
    with tempfile.TemporaryDirectory() as tmp:
        args = transformers.TrainingArguments(
            output_dir=tmp,
            per_device_train_batch_size=16,
            per_device_eval_batch_size=64,
            num_train_epochs=epochs,
            learning_rate=lr,
            eval_strategy="epoch",
            logging_strategy="no",
            save_strategy="no",
            report_to=[],
            use_cpu=True,
            dataloader_num_workers=0,
            disable_tqdm=True,
            seed=seed,
            **extra,
        )
        trainer = transformers.Trainer(
            model=model,
            args=args,
            train_dataset=train,
            eval_dataset=val,
            callbacks=[cb],
            compute_metrics=metrics,
        )
        trainer.train()
    return cb.monitor


def run_case(family: str, fault: str, seed: int) -> dict:
    """Train one case through the family's framework and its traindx callback; return what the monitor said."""
    import faults_realistic as fr

    torch.manual_seed(seed)
    if family == "pl_cnn":
        mon = _run_lightning(fault, seed)
    elif family == "keras_mlp":
        mon = _run_keras(fault, seed)
    else:
        mon = _run_hf(family, fault, seed)
    return fr.summarize_monitor(mon, family, fault, seed, FAULTS)
