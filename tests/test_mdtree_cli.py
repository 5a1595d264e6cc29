"""`traindx mdtree fit|diagnose` end to end on a tiny MNIST CNN saved in the model-file convention."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from traindx.cli import app

runner = CliRunner()


def _train_cnn(seed: int, x, y) -> nn.Module:
    from traindx.experiments.models import build_model

    torch.manual_seed(seed)
    model = build_model("cnn_small", (1, 28, 28), 10, width=4)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for i in range(0, 1000, 50):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[i : i + 50]), y[i : i + 50]).backward()
        opt.step()
    return model


def test_fit_writes_json(tmp_path):
    out = tmp_path / "tree.json"
    result = runner.invoke(app, ["mdtree", "fit", "--question", "batch_size", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["question"] == "batch_size" and len(data["thresholds"]) == 3


def test_fit_bad_question_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["mdtree", "fit", "--question", "lr", "--out", str(tmp_path / "t.json")])
    assert result.exit_code == 2
    assert "unknown question" in result.output


def test_diagnose_a_saved_mnist_cnn(tmp_path, mnist_dir):
    from traindx.experiments.datasets import load
    from traindx.landscape import save_model

    ds = load("mnist")
    x, y = torch.as_tensor(ds.x_train[:1000]), torch.as_tensor(ds.y_train[:1000])
    arch = {"model": "cnn_small", "input_shape": [1, 28, 28], "n_classes": 10, "width": 4}
    pt, js = save_model(_train_cnn(0, x, y), arch, tmp_path / "model.pt")
    pt2, _ = save_model(_train_cnn(1, x, y), arch, tmp_path / "seed2.pt")
    args = [
        "mdtree",
        "diagnose",
        "--model",
        str(pt),
        "--arch",
        str(js),
        "--data",
        "mnist",
        "--max-eval",
        "1000",
    ]
    result = runner.invoke(app, [*args, "--model2", str(pt2), "--steps", "20"])
    assert result.exit_code == 0, result.output
    for text in (
        "log Hessian trace",
        "diagnosis: bs_failure",
        "diagnosis: width_vs_batch",
        "advice:",
        "ResNet-18",
    ):
        assert text in result.output
    tree = tmp_path / "learned.json"
    fitted = ["mdtree", "fit", "--question", "width_vs_batch", "--variant", "learned", "--out", str(tree)]
    assert runner.invoke(app, fitted).exit_code == 0
    learned = runner.invoke(app, [*args, "--tree", str(tree)])  # no second seed: degrades gracefully
    assert learned.exit_code == 0, learned.output
    assert "not measured" in learned.output
    assert "boosted depth-2 trees" in learned.output and "diagnosis: width_vs_batch" in learned.output


def test_diagnose_refuses_a_mismatched_architecture(tmp_path):
    from traindx.experiments.models import build_model
    from traindx.landscape import save_model

    pt, _ = save_model(
        build_model("logreg", (1, 8, 8), 10),
        {"model": "logreg", "input_shape": [1, 8, 8], "n_classes": 10},
        tmp_path / "m.pt",
    )
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"model": "mlp_small", "input_shape": [1, 8, 8], "n_classes": 10}))
    result = runner.invoke(
        app, ["mdtree", "diagnose", "--model", str(pt), "--arch", str(other), "--data", "digits"]
    )
    assert result.exit_code == 2
    assert "does not match" in result.output


@pytest.mark.parametrize("payload", [b"not a torch file"])
def test_diagnose_refuses_garbage_weights(tmp_path, payload):
    pt = tmp_path / "m.pt"
    pt.write_bytes(payload)
    js = tmp_path / "m.json"
    js.write_text(json.dumps({"model": "logreg", "input_shape": [1, 8, 8], "n_classes": 10}))
    result = runner.invoke(
        app, ["mdtree", "diagnose", "--model", str(pt), "--arch", str(js), "--data", "digits"]
    )
    assert result.exit_code == 2 and "state_dict" in result.output
