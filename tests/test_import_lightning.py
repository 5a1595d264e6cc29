"""Lightning's CSVLogger folders, written by real Lightning trainings, load with each step row averaged per epoch."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import traindx as tdx
from traindx.errors import InputError

EPOCHS, N, BATCH = 3, 64, 16


@pytest.fixture(scope="module")
def lightning_logs(tmp_path_factory):
    """Two real fits logged by CSVLogger into save_dir/lightning_logs/version_{0,1}; returns (save_dir, truth)
    where truth[version] holds the step losses and accuracies each training_step saw, per epoch."""
    import lightning as L
    import torch
    from lightning.pytorch.loggers import CSVLogger

    class Net(L.LightningModule):
        def __init__(self, lr: float):
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Linear(8, 2)
            self.seen: dict[int, list[tuple[float, float]]] = {}

        def training_step(self, batch, _):
            out = self.net(batch[0])
            loss = torch.nn.functional.cross_entropy(out, batch[1])
            acc = (out.argmax(1) == batch[1]).float().mean()
            self.log("train_loss", loss)  # per step only: the importer averages the step rows
            self.log("train_acc", acc, on_step=True, on_epoch=True)  # train_acc_step and train_acc_epoch
            self.seen.setdefault(self.current_epoch + 1, []).append((loss.item(), acc.item()))
            return loss

        def validation_step(self, batch, _):
            out = self.net(batch[0])
            self.log("val_loss", torch.nn.functional.cross_entropy(out, batch[1]))
            self.log("val_acc", (out.argmax(1) == batch[1]).float().mean())

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    save_dir = tmp_path_factory.mktemp("pl")
    torch.manual_seed(0)
    x = torch.randn(N, 8)
    data = torch.utils.data.TensorDataset(x, (x[:, 0] > 0).long())
    truth = {}
    for version, lr in enumerate((0.5, 0.05)):
        model = Net(lr)
        trainer = L.Trainer(
            max_epochs=EPOCHS, logger=CSVLogger(save_dir, name="lightning_logs"), log_every_n_steps=1,
            enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
            num_sanity_val_steps=0,
        )  # fmt: skip
        loader = torch.utils.data.DataLoader(data, batch_size=BATCH)
        trainer.fit(model, loader, loader)
        truth[f"version_{version}"] = model.seen
    return save_dir, truth


def test_lightning_logs_folder_is_one_run_per_version(lightning_logs):
    save_dir, truth = lightning_logs
    runs, curves = tdx.load_runs(save_dir / "lightning_logs")
    assert runs["run_id"].tolist() == ["version_0", "version_1"]
    assert runs["lr"].tolist() == [0.5, 0.05]  # from hparams.yaml
    for version, seen in truth.items():
        run = curves[curves["run_id"] == version]
        assert run["epoch"].tolist() == [1, 2, 3]
        means = np.array([np.mean(seen[e], axis=0) for e in (1, 2, 3)])
        np.testing.assert_allclose(run["train_loss"], means[:, 0], rtol=1e-5)  # step rows averaged
        np.testing.assert_allclose(run["train_acc"], means[:, 1], rtol=1e-5)  # train_acc_epoch, not _step
        assert run[["val_loss", "val_acc"]].notna().all().all()


def test_lightning_one_version_its_file_and_the_folder_above(lightning_logs):
    save_dir, _ = lightning_logs
    whole = tdx.load_runs(save_dir / "lightning_logs")[1]
    version = whole[whole["run_id"] == "version_1"].reset_index(drop=True)
    for source in (
        save_dir / "lightning_logs" / "version_1",
        save_dir / "lightning_logs" / "version_1" / "metrics.csv",
    ):
        _, curves = tdx.load_runs(source)
        assert curves["run_id"].unique().tolist() == ["version_1"]
        np.testing.assert_allclose(curves["train_loss"], version["train_loss"])
    runs, _ = tdx.load_runs(save_dir)
    assert runs["run_id"].tolist() == ["lightning_logs/version_0", "lightning_logs/version_1"]


def test_lightning_bad_files(lightning_logs, tmp_path):
    save_dir, _ = lightning_logs
    logs = tmp_path / "lightning_logs"
    shutil.copytree(save_dir / "lightning_logs" / "version_0", logs / "version_0")
    (logs / "version_1").mkdir()
    (logs / "version_1" / "metrics.csv").write_text("")
    with pytest.raises(InputError, match="version_1/metrics.csv is empty: the run stopped before Lightning"):
        tdx.load_runs(logs)
    (logs / "version_1" / "metrics.csv").write_text("step,foo\n0,1\n")
    with pytest.raises(InputError, match="has no 'epoch' column.*not its metrics.csv"):
        tdx.load_runs(logs)
    (logs / "version_1" / "metrics.csv").write_bytes(b"epoch,step,val_acc\n0,0,0.5\n" + b"\xe9\n")
    with pytest.raises(InputError, match=r"not UTF-8 text \(byte 0xe9"):
        tdx.load_runs(logs)
    (logs / "version_1" / "metrics.csv").write_text("epoch,step,lr-SGD\n0,0,0.1\n")
    with pytest.raises(
        InputError, match=r"none of the columns .* is a recognised curve metric \(found: \['step'"
    ):
        tdx.load_runs(logs)
