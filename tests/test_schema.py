"""The tidy curve schema: what validate_curves / validate_runs accept, fix and reject."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traindx.curves.schema import METRIC_COLUMNS, SIZE_COLUMNS, validate_curves, validate_runs
from traindx.errors import InputError


def _curves(**overrides) -> pd.DataFrame:
    data = {
        "run_id": ["a", "a", "a", "b", "b"],
        "epoch": [1, 2, 3, 1, 2],
        "train_acc": [0.5, 0.7, 0.9, 0.4, 0.6],
        "val_loss": [1.2, 0.9, 0.8, 1.5, 1.1],
    }
    data.update(overrides)
    return pd.DataFrame(data)


def test_constants_name_the_contract():
    assert METRIC_COLUMNS == ("train_acc", "val_acc", "test_acc", "train_loss", "val_loss", "test_loss")
    assert SIZE_COLUMNS == ("n_train", "n_val", "n_test")


def test_valid_table_is_typed_sorted_and_keeps_extra_columns():
    raw = _curves(run_id=[7, 7, 7, 3, 3], epoch=[3.0, 1.0, 2.0, 2.0, 1.0], lr=[0.1] * 5, n_train=[100.0] * 5)
    out = validate_curves(raw)
    assert out["run_id"].tolist() == ["3", "3", "7", "7", "7"]
    assert out["epoch"].tolist() == [1, 2, 1, 2, 3]
    assert out["epoch"].dtype == np.int64 and out["n_train"].dtype == np.int64
    assert out.columns.tolist() == ["run_id", "epoch", "train_acc", "val_loss", "n_train", "lr"]
    # the row that was epoch 1 of run 7 keeps its values through the sort
    assert out.loc[2, "train_acc"] == raw.loc[1, "train_acc"]
    assert raw["epoch"].tolist() == [3.0, 1.0, 2.0, 2.0, 1.0]  # input untouched


def test_never_logged_metric_is_dropped():
    out = validate_curves(_curves(test_acc=[np.nan] * 5))
    assert "test_acc" not in out.columns


@pytest.mark.parametrize(
    ("table", "match"),
    [
        (_curves().drop(columns="run_id"), r"lacks column\(s\) \['run_id'\]"),
        (_curves().drop(columns="epoch"), r"lacks column\(s\) \['epoch'\]"),
        (_curves().drop(columns=["train_acc", "val_loss"]).assign(acc=1.0), r"no metric column.*\['acc'\]"),
        (_curves().iloc[:0], "empty"),
        (_curves(epoch=[1, 1.5, 2, 1, 2]), "whole numbers, found \\[1.5\\]"),
        (_curves(epoch=[0, 1, 2, 0, 1]), "1-based.*add 1"),
        (_curves(epoch=[1, "x", 2, 1, 2]), "non-numeric values such as \\['x'\\]"),
        (_curves(epoch=[1, 2, 2, 1, 2]), r"share a \(run_id, epoch\).*run a, epoch 2.*drop_duplicates"),
        (
            _curves(train_acc=[0.5, np.nan, 0.9, 0.4, 0.6]),
            "NaN metric values in 1 row.*run a, epoch 2.*allow_gaps",
        ),
        (_curves(val_loss=[1.2, np.inf, 0.8, 1.5, 1.1]), "infinite metric values.*run a, epoch 2.*diverged"),
        (_curves(train_acc=[50, 70, 90, 40, 60]), "looks like percent.*divide by 100.*percent=True"),
        (_curves(train_acc=[0.5, 0.7, 1.3, -0.4, 0.6]), r"ranges -0.4..1.3, outside \[0, 1\]"),
        (_curves(train_acc=[0.5, 0.7, 900, 0.4, 0.6]), r"outside \[0, 1\]"),
        (
            _curves(train_acc=["0.5", "high", 0.9, 0.4, 0.6]),
            "'train_acc' holds non-numeric values such as \\['high'\\]",
        ),
        (_curves(run_id=["a", None, "a", "b", "b"]), "1 row\\(s\\) have no run_id"),
        (_curves(n_train=[10, 10, -1, 5, 5]), "'n_train' must hold non-negative whole numbers"),
        (_curves(train_acc=[np.nan] * 5, val_loss=[np.nan] * 5), "hold no values"),
    ],
)
def test_bad_curves_raise_a_clear_error(table, match):
    with pytest.raises(InputError, match=match):
        validate_curves(table)


def test_not_a_dataframe():
    with pytest.raises(InputError, match="got dict.*tdx.load_runs"):
        validate_curves({"run_id": ["a"]})


def test_gaps_allowed_on_request_and_percent_converted():
    gaps = validate_curves(_curves(train_acc=[0.5, np.nan, 0.9, 0.4, 0.6]), allow_gaps=True)
    assert gaps["train_acc"].isna().sum() == 1
    with pytest.warns(UserWarning, match=r"infinite metric values at \(run a, epoch 2\) read as missing"):
        diverged = validate_curves(_curves(val_loss=[1.2, np.inf, 0.8, 1.5, 1.1]), allow_gaps=True)
    assert diverged["val_loss"].isna().tolist() == [False, True, False, False, False]
    pct = validate_curves(_curves(train_acc=[50, 70, 90, 40, 60]), percent=True)
    assert pct["train_acc"].tolist() == pytest.approx([0.5, 0.7, 0.9, 0.4, 0.6])


def test_validate_runs():
    runs = validate_runs(
        pd.DataFrame({"run_id": [1, 2], "lr": [0.1, 0.2]}), curves=_curves(run_id=[1, 1, 1, 2, 2])
    )
    assert runs["run_id"].tolist() == ["1", "2"]
    with pytest.raises(InputError, match=r"run ids \['a'\] appear more than once"):
        validate_runs(pd.DataFrame({"run_id": ["a", "a"]}))
    with pytest.raises(InputError, match="no 'run_id' column.*\\['lr'\\]"):
        validate_runs(pd.DataFrame({"lr": [0.1]}))
    with pytest.raises(InputError, match=r"missing from the run table, e.g. \['b'\]"):
        validate_runs(pd.DataFrame({"run_id": ["a"]}), curves=_curves())
