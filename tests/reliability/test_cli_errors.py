"""Every command on a table of bad inputs: exit status 2, one paragraph naming the problem, no traceback, and
no output file left behind (outputs are checked before the work and written whole or not at all)."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from traindx.cli import app
from traindx.errors import InputError

SPEC = '[base]\ndataset = "digits"\nmodel = "logreg"\nepochs = 1\nn_train = 50\nval_size = 20\n[grid]\nseed = [0]\n'


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    from traindx.experiments.models import build_model
    from traindx.landscape.modelfile import save_model
    from traindx.store import RunStore

    d = tmp_path_factory.mktemp("bad")
    f = {"dir": d, "out": d / "out"}
    (d / "out").mkdir()
    (f := {**f, "spec": d / "spec.toml"})["spec"].write_text(SPEC)
    f["latin1"] = d / "latin1.csv"
    f["latin1"].write_bytes("run_id,epoch,val_acc\ncaf\xe9,1,0.5\n".encode("latin-1"))
    f["curves"] = d / "curves.csv"
    pd.DataFrame({"run_id": ["a", "a"], "epoch": [1, 2], "val_acc": [0.5, 0.6]}).to_csv(
        f["curves"], index=False
    )
    pd.DataFrame({"run_id": ["a"] * 50, "epoch": range(1, 51), "val_acc": 0.5}).to_parquet(d / "c.parquet")
    f["truncated_parquet"] = d / "truncated.parquet"
    f["truncated_parquet"].write_bytes((d / "c.parquet").read_bytes()[:200])
    f["noise_duckdb"] = d / "noise.duckdb"
    f["noise_duckdb"].write_bytes(b"\0" * 8 + b"DUCK" + os.urandom(5000))
    f["store"] = d / "runs.duckdb"
    RunStore(f["store"]).write_run({"run_id": "a", "status": "finished", "config": {}},
                                   pd.DataFrame({"epoch": [1, 2], "val_acc": [0.5, 0.6]}))  # fmt: skip
    model = build_model("logreg", (1, 8, 8), 10)
    f["model"], f["arch"] = save_model(model, {"model": "logreg", "input_shape": [1, 8, 8], "n_classes": 10},
                                       d / "m.pt")  # fmt: skip
    f["arch_bad_json"] = d / "bad.json"
    f["arch_bad_json"].write_text('{"model": "logreg", ')
    f["arch_latin1"] = d / "latin1.json"
    f["arch_latin1"].write_bytes(b'{"model": "l\xe9g"}')
    f["arch_list"] = d / "list.json"
    f["arch_list"].write_text("[1, 2]")
    f["arch_huge"] = d / "huge.json"
    f["arch_huge"].write_text(json.dumps({"model": "mlp_small", "input_shape": [1, 8, 8], "n_classes": 10,
                                          "width": 10**9}))  # fmt: skip
    f["garbage_pt"] = d / "garbage.pt"
    f["garbage_pt"].write_bytes(os.urandom(300))
    f["cycle_tree"] = d / "cycle.json"
    f["cycle_tree"].write_text(json.dumps({"question": "batch_size", "nodes": [
        {"feature": "train_error", "threshold": 0.5, "left": 0, "right": 0}]}))  # fmt: skip
    f["mnist_truncated"] = d / "mnist"
    f["mnist_truncated"].mkdir()
    for base in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):  # fmt: skip
        whole = gzip.compress(b"\0\0\x08\x03" + os.urandom(4000))
        (f["mnist_truncated"] / f"{base}.gz").write_bytes(whole[: len(whole) // 2])
    return f


CASES = [
    # (command line with {placeholders}, expected words, output paths that must not appear)
    ("sweep {dir}/missing.toml", "not found", []),
    ("sweep {latin1} --store {dir}/s1.duckdb", "not UTF-8", ["{dir}/s1.duckdb"]),
    ("sweep {curves} --store {dir}/s2.duckdb", "not valid TOML", ["{dir}/s2.duckdb"]),
    ("sweep {spec} --store {out}", "is a folder", []),
    (
        "sweep {spec} --store {dir}/s3.duckdb --export {curves}",
        "is a file, not a folder",
        ["{dir}/s3.duckdb"],
    ),
    (
        "sweep {spec} --store {dir}/s4.duckdb --corpus {dir}/no/such/prefix",
        "does not exist",
        ["{dir}/s4.duckdb"],
    ),
    ("sweep {spec} --store {dir}/s5.duckdb --workers -1", "workers", ["{dir}/s5.duckdb"]),
    ("sweep {spec} --store {dir}/s6.duckdb --backend slurm", "unknown backend", ["{dir}/s6.duckdb"]),
    (
        "sweep {spec} --store {dir}/s7.duckdb --address auto",
        "--address is for the ray backend",
        ["{dir}/s7.duckdb"],
    ),
    ("diagnose {dir}/missing.csv", "does not exist", []),
    ("diagnose {latin1}", "UTF-8", []),
    ("diagnose {truncated_parquet}", "cannot read", []),
    ("diagnose {noise_duckdb}", "run store", []),
    ("diagnose {curves} --json {dir}/no/such/d.json", "does not exist", ["{dir}/no"]),
    ("diagnose {curves} --csv {out}", "is a folder", []),
    ("diagnose {curves} --html {dir}/same.x --json {dir}/same.x", "same file", ["{dir}/same.x"]),
    ("diagnose {curves} --at-epoch 0", "--at-epoch must be at least 1", []),
    ("diagnose mlflow:sqlite:///{dir}/mistyped.db", "does not exist", ["{dir}/mistyped.db"]),
    ("mdtree fit --csv {dir}/missing.csv --out {dir}/t1.json", "", ["{dir}/t1.json"]),
    ("mdtree fit --csv {latin1} --out {dir}/t2.json", "", ["{dir}/t2.json"]),
    ("mdtree fit --out {dir}/no/such/t3.json", "does not exist", ["{dir}/no"]),
    ("mdtree fit --out {out}", "is a folder", []),
    ("mdtree diagnose --model {model} --arch {arch_bad_json} --data digits", "architecture file", []),
    ("mdtree diagnose --model {model} --arch {arch_latin1} --data digits", "architecture file", []),
    ("mdtree diagnose --model {model} --arch {arch_list} --data digits", "JSON object", []),
    ("mdtree diagnose --model {model} --arch {arch_huge} --data digits", "width must be", []),
    ("mdtree diagnose --model {garbage_pt} --arch {arch} --data digits", "not a readable state_dict", []),
    (
        "mdtree diagnose --model {model} --arch {arch} --data digits --max-eval 0",
        "--max-eval must be at least 1",
        [],
    ),
    (
        "mdtree diagnose --model {model} --arch {arch} --data digits --hessian-samples 0",
        "--hessian-samples",
        [],
    ),
    ("mdtree diagnose --model {model} --arch {arch} --data digits --trace-probes 0", "--trace-probes", []),
    ("mdtree diagnose --model {model} --arch {arch} --data digits --tree {cycle_tree}", "cycle", []),
    ("mdtree diagnose --model {model} --arch {arch} --data digits --tree {latin1}", "not UTF-8 JSON", []),
    ("suggest {spec} --store {dir}/missing.duckdb", "not found", ["{dir}/missing.duckdb"]),
    ("suggest {spec} --store {store} -n 0", "-n must be at least 1", []),
    ("suggest {latin1} --store {store}", "not UTF-8", []),
    ("demo --out {curves}", "is a file", []),
    ("demo --epochs 0 --out {dir}/d1", "--epochs must be at least 1", ["{dir}/d1"]),
]


def _one_paragraph(output: str) -> None:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert "Traceback" not in output
    assert lines and lines[-1].startswith("error: ") and sum(x.startswith("error") for x in lines) == 1, (
        output
    )
    assert "\n\n" not in output.strip()


@pytest.mark.parametrize(("line", "words", "absent"), CASES, ids=[c[0].split(" {")[0] + f"-{i}"
                                                                    for i, c in enumerate(CASES)])  # fmt: skip
def test_bad_input_is_one_paragraph_and_exit_2(files, line, words, absent):
    args = [a.format(**{k: str(v) for k, v in files.items()}) for a in line.split()]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.output
    _one_paragraph(res.output)
    assert words in res.output
    for path in absent:
        assert not Path(path.format(dir=files["dir"])).exists(), f"{path} was left behind"


def test_truncated_mnist_in_the_demo_names_the_file(files, monkeypatch, tmp_path):
    from traindx.experiments import datasets

    monkeypatch.setenv("TRAINDX_MNIST_DIR", str(files["mnist_truncated"]))
    datasets._load_cached.cache_clear()  # an earlier test in this process may have read the real files
    try:
        with pytest.raises(InputError, match=r"ubyte.gz is truncated or not gzip data"):
            datasets.load("mnist")
    finally:
        datasets._load_cached.cache_clear()


def test_a_failed_write_leaves_no_partial_file(tmp_path):
    from traindx.cli.app import writing

    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError), writing(target) as tmp:
        tmp.write_text('{"half": ')
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []
