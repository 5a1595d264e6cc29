"""The landscape collection: labels as the MD tree paper defines them, a resumable generator, the shipped data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from traindx.errors import InputError
from traindx.landscape import read_model_diagnosis_csv
from traindx.landscape.collection import GridSpec, add_labels, build, generate
from traindx.landscape.io import validate_model_diagnosis_frame

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "src" / "traindx" / "data" / "landscape" / "landscape.csv"
LABELS = ["bs_failure", "width_vs_batch", "data_vs_batch"]
RFI = ["rfi_width", "rfi_data", "rfi_inc_temp", "rfi_dec_temp"]


def test_labels_reproduce_the_released_clean_collection():
    released = pd.read_csv(ROOT / "src" / "traindx" / "data" / "mdtree_clean.csv")
    ours = add_labels(released.drop(columns=LABELS + RFI))
    for col in RFI:
        np.testing.assert_allclose(ours[col], released[col], atol=1e-9)
    assert (ours["bs_failure"] == released["bs_failure"]).all()
    assert (ours["width_vs_batch"] == released["width_vs_batch"]).all()
    # one row where more data and a batch change help exactly as much: the release calls it optimal
    assert (ours["data_vs_batch"] != released["data_vs_batch"]).sum() == 1


def test_labels_need_the_grid_columns():
    with pytest.raises(InputError, match="columns"):
        add_labels(pd.DataFrame({"width": [1], "bs": [8]}))


def test_generator_resumes_and_builds_a_labelled_table(tmp_path):
    spec = GridSpec(task="digits", model="mlp", widths=(4, 16), n_train=(60, 120), batch_sizes=(8, 64),
                    lr=0.05, epochs=2)  # fmt: skip
    first = generate(tmp_path, [spec], progress=None)
    assert [p.name for p in first] == ["part-digits-noise00.parquet"]
    assert generate(tmp_path, [spec], progress=None) == []  # the part exists: nothing is redone
    df = build(tmp_path)
    assert len(df) == 8 and set(df["bs"]) == {8, 64}
    assert df["cost_Hessian_trace_s"].gt(0).all() and df["metric_s"].gt(0).all()
    assert df["hessian_t"].notna().all() and df["mode_connectivity_peak"].le(0).all()
    checked = validate_model_diagnosis_frame(df)  # the MD tree reads it as it reads the released tables
    assert set(checked["bs_failure"]) <= {"small", "large", "optimal"}


def test_build_without_parts_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no part"):
        build(tmp_path)


def test_shipped_collection_spans_tasks_and_modalities():
    df = read_model_diagnosis_csv(SHIPPED)
    clean = df[df["noise"] == 0]
    assert clean["task"].nunique() >= 10 and clean["modality"].nunique() >= 3
    assert (clean.groupby("task").size() == 27).all()  # every grid complete: 3 widths x 3 sizes x 3 batches
    relabelled = add_labels(df.drop(columns=LABELS + RFI), acc="test_acc_mean")
    for col in LABELS:
        assert (relabelled[col].to_numpy() == df[col].to_numpy()).all()
    for col in LABELS:
        assert df[col].nunique() >= 2
