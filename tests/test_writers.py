"""Writers against the real libraries: what the monitor sends is read back with each library's own reader."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from traindx.errors import InputError
from traindx.monitor import Monitor
from traindx.monitor.writers import Writer, WriterSet, make_writer


def _run(writers, steps: int = 40, epochs: int = 2, blow_up: bool = True) -> Monitor:
    """A small MLP run with the monitor every 5 steps; its input is badly scaled, so a finding fires."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    mon = Monitor(model, opt, every=5, writers=writers)
    for e in range(epochs):
        for _ in range(steps // epochs):
            x = torch.randn(32, 8) * (100.0 if blow_up else 1.0)
            loss = nn.functional.cross_entropy(model(x), torch.randint(0, 2, (32,)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            mon.step(loss)
        mon.epoch_end(train_loss=loss.item(), val_loss=loss.item() + 0.1 * e)
    mon.close()
    return mon


def _expected(mon: Monitor) -> dict[str, list[tuple[int, float]]]:
    """The whole-model series of the monitor's record: name -> [(step, value)]."""
    hist = mon.history
    hist = hist[hist["layer"] == ""]
    return {
        n: list(zip(g["step"].tolist(), g["value"].tolist(), strict=True)) for n, g in hist.groupby("name")
    }


def test_tensorboard_writer_round_trip(tmp_path):
    pytest.importorskip(
        "tensorboard", reason="tensorboard is an optional extra: pip install traindx[tensorboard]"
    )
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    mon = _run([make_writer("tensorboard", log_dir=tmp_path)])
    acc = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    expected = _expected(mon)
    assert {f"traindx/{n}" for n in expected} <= tags
    assert any(t.startswith("traindx/grad_rms/") for t in tags)  # per-layer values under name/layer
    for name in ("loss", "gradient_norm", "input_rms", "val_loss"):
        got = [(e.step, e.value) for e in acc.Scalars(f"traindx/{name}")]
        assert [s for s, _ in got] == [s for s, _ in expected[name]]
        assert [v for _, v in got] == pytest.approx([v for _, v in expected[name]], rel=1e-6)
    text = acc.Tensors("traindx/findings/text_summary")
    assert text and "input_scale" in text[-1].tensor_proto.string_val[0].decode()


def test_mlflow_writer_round_trip(tmp_path):
    pytest.importorskip("mlflow", reason="mlflow is an optional extra: pip install traindx[mlflow]")
    from mlflow.tracking import MlflowClient

    from traindx.monitor.writers.mlflow import MLflowWriter

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    writer = MLflowWriter(
        tracking_uri=uri,
        experiment="traindx-test",
        run_name="mlp",
        artifact_location=(tmp_path / "artifacts").as_uri(),
    )
    mon = _run([writer])
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(writer.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "mlp"
    expected = _expected(mon)
    for name in ("loss", "gradient_norm", "val_loss"):
        got = sorted((m.step, m.value) for m in client.get_metric_history(writer.run_id, f"traindx/{name}"))
        assert [s for s, _ in got] == [s for s, _ in expected[name]]
        assert [v for _, v in got] == pytest.approx([v for _, v in expected[name]], rel=1e-6)
    codes = [f.code for f in mon.findings]
    assert "input_scale" in codes and run.data.tags["traindx.findings"].split(",") == codes
    path = client.download_artifacts(writer.run_id, "traindx/findings.json", str(tmp_path))
    assert [d["code"] for d in json.loads(Path(path).read_text())] == codes


def _wandb_records(path):
    """The protobuf records of an offline run's ``.wandb`` log, decoded with wandb's own ``Record`` message
    (the log's block format is read by the W&B importer)."""
    from wandb.proto import wandb_internal_pb2 as pb

    from traindx.store.importers.wandb_offline import _chunks

    for chunk in _chunks(path.read_bytes(), path):
        record = pb.Record()
        record.ParseFromString(chunk)
        yield record


def test_wandb_writer_offline_run_folder(tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb", reason="wandb is an optional extra: pip install traindx[wandb]")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    from traindx.monitor.writers.wandb import WandbWriter

    writer = WandbWriter(project="traindx-test", dir=str(tmp_path), settings=wandb.Settings(silent=True))
    mon = _run([writer])
    run_dirs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(run_dirs) == 1
    wandb.teardown()  # finish() may return before W&B's service has written the whole log: wait for it
    log = next(run_dirs[0].glob("run-*.wandb"))
    assert any(r.WhichOneof("record_type") == "exit" for r in _wandb_records(log))
    logged: dict[str, list[tuple[int, float]]] = {}
    summary: dict[str, str] = {}
    for record in _wandb_records(log):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            row = {item.key or "/".join(item.nested_key): item.value_json for item in record.history.item}
            step = int(row.pop("traindx/step", -1))
            for key, value in row.items():
                if key.startswith("traindx/") and not key.startswith("traindx/findings"):
                    logged.setdefault(key[len("traindx/") :], []).append((step, float(value)))
        elif kind == "summary":
            summary.update(
                {item.key or "/".join(item.nested_key): item.value_json for item in record.summary.update}
            )
    expected = _expected(mon)
    assert set(logged) >= set(expected), (sorted(logged), sorted(summary)[:20])
    for name in ("loss", "gradient_norm", "input_rms", "val_loss"):
        assert [s for s, _ in logged[name]] == [s for s, _ in expected[name]]
        assert [v for _, v in logged[name]] == pytest.approx([v for _, v in expected[name]], rel=1e-6)
    assert json.loads(summary["traindx/finding_codes"]).split(",") == [f.code for f in mon.findings]
    tables = sorted((run_dirs[0] / "files").glob("media/table/traindx/findings_*.table.json"))
    assert tables, "the findings table was not written"
    table = json.loads(tables[-1].read_text())
    assert "input_scale" in [row[table["columns"].index("code")] for row in table["data"]]


class Failing(Writer):
    def write(self, step, values):
        raise OSError("disk full")


class Counting(Writer):
    def __init__(self) -> None:
        self.rows, self.findings, self.closed = 0, [], False

    def write(self, step, values):
        self.rows += len(values)

    def write_findings(self, findings):
        self.findings += [f.code for f in findings]

    def close(self):
        self.closed = True


def test_a_failing_writer_is_dropped_once_and_training_goes_on():
    ok = Counting()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mon = _run([Failing(), ok])
    assert sum("Failing failed" in str(w.message) for w in caught) == 1
    # every row reached the healthy writer exactly once, findings once per change, and it was closed
    assert ok.rows == len(mon.history) and ok.closed
    assert set(ok.findings) == {f.code for f in mon.findings} and "input_scale" in ok.findings


def test_bad_writers_are_named():
    with pytest.raises(InputError, match="unknown writer 'csv'"):
        WriterSet(["csv"])
    with pytest.raises(InputError, match="Writer objects or names"):
        Monitor(nn.Linear(2, 1), writers=[print])
