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
        "trees fitted on",
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


def _train_on_task(task, arch: dict, seed: int, steps: int = 30) -> nn.Module:
    from traindx.experiments.models import build_model

    torch.manual_seed(seed)
    kwargs = {k: arch[k] for k in ("width", "depth", "vocab_size") if k in arch}
    model = build_model(arch["model"], tuple(arch["input_shape"]), arch["n_classes"], **kwargs)
    x, y = torch.as_tensor(task.x_train[:400]), torch.as_tensor(task.y_train[:400]).long()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for i in range(steps):
        j = (i * 32) % 368
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[j : j + 32]), y[j : j + 32]).backward()
        opt.step()
    return model


@pytest.mark.parametrize(
    "task_name, arch",
    [
        ("names", {"model": "embbag", "width": 8}),  # text: token ids, an EmbeddingBag (no double backward)
        ("names", {"model": "gru", "width": 8}),
        ("JapaneseVowels", {"model": "cnn", "width": 4}),  # time series
        ("phoneme", {"model": "mlp", "width": 8}),  # tabular
    ],
)
def test_diagnose_models_of_every_modality(tmp_path, task_name, arch):
    from traindx.experiments.tasks import load
    from traindx.landscape import save_model

    task = load(task_name)
    arch = {**arch, "input_shape": list(task.input_shape), "n_classes": task.n_classes}
    if task.tokens:
        arch["vocab_size"] = task.vocab_size
    pt, js = save_model(_train_on_task(task, arch, 0), arch, tmp_path / "a.pt")
    pt2, _ = save_model(_train_on_task(task, arch, 1), arch, tmp_path / "b.pt")
    args = ["mdtree", "diagnose", "--model", str(pt), "--arch", str(js), "--model2", str(pt2)]
    quick = ["--data", task_name, "--max-eval", "300", "--steps", "5", "--trace-probes", "10"]
    result = runner.invoke(app, [*args, *quick])
    assert result.exit_code == 0, result.output
    assert "diagnosis: bs_failure" in result.output and "diagnosis: data_vs_batch" in result.output
    assert "not measured" not in result.output  # both seeds given: CKA and connectivity measured
    assert "trees fitted on" in result.output


def test_diagnose_warns_when_the_model_lies_outside_the_fitted_range(tmp_path):
    from traindx.experiments.models import build_model
    from traindx.landscape import MDTree, save_model

    arch = {"model": "logreg", "input_shape": [1, 8, 8], "n_classes": 10}
    pt, js = save_model(build_model("logreg", (1, 8, 8), 10), arch, tmp_path / "m.pt")
    tree = MDTree.from_dict({
        "question": "batch_size", "nodes": [{"label": "small"}], "fitted_on": "a narrow collection",
        "ranges": {"hessian_t": [50.0, 60.0], "train_error": [0.0, 1.0]},
    })  # fmt: skip
    saved = tree.save(tmp_path / "tree.json")
    args = [
        "mdtree",
        "diagnose",
        "--model",
        str(pt),
        "--arch",
        str(js),
        "--data",
        "digits",
        "--tree",
        str(saved),
    ]
    result = runner.invoke(app, [*args, "--max-eval", "200"])
    assert result.exit_code == 0, result.output
    assert "warning: this model lies outside" in result.output
    assert "log Hessian trace" in result.output and "below the range" in result.output
    assert "training error (%)" in result.output and "above the range" in result.output


@pytest.mark.parametrize(
    "arch, message",
    [
        ({"model": "mlp", "input_shape": [15], "n_classes": 2}, "reads float inputs"),
        ({"model": "embbag", "input_shape": [15], "n_classes": 2}, "no vocab_size"),
        ({"model": "embbag", "input_shape": [15], "n_classes": 2, "vocab_size": -3}, "vocab_size must be"),
        ({"model": "embbag", "input_shape": [40], "n_classes": 2, "vocab_size": 30}, "has inputs"),
    ],
)
def test_diagnose_explains_a_model_that_cannot_read_the_task(tmp_path, arch, message):
    js = tmp_path / "m.json"
    js.write_text(json.dumps(arch))
    pt = tmp_path / "m.pt"
    torch.save({}, pt)
    result = runner.invoke(
        app, ["mdtree", "diagnose", "--model", str(pt), "--arch", str(js), "--data", "names"]
    )
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_unknown_collection_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["mdtree", "fit", "--collection", "mine", "--out", str(tmp_path / "t.json")])
    assert result.exit_code == 2 and "unknown collection" in result.output


def test_fit_on_our_collection_keeps_ranges(tmp_path):
    out = tmp_path / "tree.json"
    result = runner.invoke(app, ["mdtree", "fit", "--collection", "ours", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert (
        "landscape collection" in data["fitted_on"]
        and data["ranges"]["hessian_t"][0] < data["ranges"]["hessian_t"][1]
    )
