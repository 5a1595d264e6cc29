"""Seeded fuzzing of the curve readers: random bytes, truncated files and wrong encodings under every suffix
``load_runs`` recognises either load or raise InputError; never another exception, never a hang."""

from __future__ import annotations

import contextlib
import random

import pandas as pd
import pytest

from traindx.errors import InputError
from traindx.landscape.mdtree import MDTree
from traindx.store import RunStore, load_runs

SEED = 20_260_101
SUFFIXES = (".csv", ".tsv", ".parquet", ".duckdb", ".txt", ".json", "")


def _valid_files(folder) -> dict[str, bytes]:
    curves = pd.DataFrame(
        {"run_id": ["a"] * 6 + ["b"] * 6, "epoch": list(range(1, 7)) * 2, "val_acc": [0.5] * 12,
         "train_acc": [0.6] * 12, "train_loss": [1.0] * 12}
    )  # fmt: skip
    curves.to_csv(folder / "v.csv", index=False)
    curves.to_parquet(folder / "v.parquet")
    store = RunStore(folder / "v.duckdb")
    for rid, rows in curves.groupby("run_id"):
        store.write_run({"run_id": rid, "status": "finished", "config": {"seed": 0}}, rows)
    return {s: (folder / f"v{s}").read_bytes() for s in (".csv", ".parquet", ".duckdb")}


def _mutants(rng: random.Random, valid: dict[str, bytes]):
    for i in range(60):
        kind = i % 6
        suffix = rng.choice(SUFFIXES)
        base = valid.get(suffix) or rng.choice(list(valid.values()))
        if kind == 0:  # random bytes
            data = rng.randbytes(rng.randrange(0, 4096))
        elif kind == 1:  # truncated
            data = base[: rng.randrange(0, len(base))]
        elif kind == 2:  # flipped bytes
            data = bytearray(base)
            for _ in range(rng.randrange(1, 40)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            data = bytes(data)
        elif kind == 3:  # a wrong encoding of a valid text file
            data = valid[".csv"].decode().encode(rng.choice(["utf-16", "utf-32", "cp500"]))
        elif kind == 4:  # a valid header followed by noise
            data = base[:16] + rng.randbytes(rng.randrange(0, 2048))
        else:  # valid CSV with random text spliced in
            text = valid[".csv"].decode()
            cut = rng.randrange(len(text))
            data = (text[:cut] + "".join(rng.choice(',;"\n\tx1.-e') for _ in range(30)) + text[cut:]).encode()
        yield i, suffix, data


@pytest.mark.timeout(120)
def test_curve_readers_fail_only_with_input_error(tmp_path):
    rng = random.Random(SEED)
    valid = _valid_files(tmp_path)
    outcomes = {"loaded": 0, "refused": 0}
    for i, suffix, data in _mutants(rng, valid):
        path = tmp_path / f"m{i}{suffix}"
        path.write_bytes(data)
        try:
            runs, curves = load_runs(path)
        except InputError:
            outcomes["refused"] += 1
        else:
            assert {"run_id", "epoch"} <= set(curves.columns)
            outcomes["loaded"] += 1
    assert outcomes["refused"] >= 30  # most mutants are refused, each with a message, none with a traceback


def test_md_tree_files_fail_only_with_input_error(tmp_path):
    rng = random.Random(SEED)
    good = '{"question": "batch_size", "nodes": [{"feature": "train_error", "threshold": 0.5, "left": 1, ' \
           '"right": 2}, {"label": "small"}, {"label": "large"}]}'  # fmt: skip
    path = tmp_path / "t.json"
    for _ in range(200):
        chars = list(good)
        for _ in range(rng.randrange(1, 6)):
            chars[rng.randrange(len(chars))] = rng.choice('0123{}[]",:-x')
        path.write_text("".join(chars))
        with contextlib.suppress(InputError):  # any other exception fails the test
            MDTree.load(path)


@pytest.mark.parametrize(
    ("nodes", "match"),
    [
        ([{"feature": "train_error", "threshold": 0.5, "left": 0, "right": 0}], "cycle"),
        ([{"feature": "f", "threshold": 0.5, "left": 1, "right": 1}, {"label": "x"}], "share a child"),
        ([{"feature": "f", "threshold": 0.5, "left": 1, "right": 2}, {"label": "x"}], "out of range"),
        ([{"feature": "f", "threshold": 0.5, "left": True, "right": 0}], "out of range"),
        ([{"label": "x"}] * 100_001, "1 to 100000 nodes"),
    ],
)
def test_md_tree_structure_is_checked(nodes, match):
    with pytest.raises(InputError, match=match):
        MDTree.from_dict({"question": "batch_size", "nodes": nodes})
