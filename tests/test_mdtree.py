"""MD tree: the paper's structures, the learned variant, JSON round trips and the released-format reader."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traindx.errors import InputError
from traindx.landscape import MDTree, read_model_diagnosis_csv
from traindx.landscape.mdtree import QUESTIONS, question_rows

CSV = "src/traindx/data/mdtree_clean.csv"


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    from pathlib import Path

    return read_model_diagnosis_csv(Path(__file__).resolve().parents[1] / CSV)


def _cells(df: pd.DataFrame, seed: int, n: int = 8):
    cells = df[["data", "width"]].drop_duplicates().to_numpy()
    pick = {tuple(c) for c in cells[np.random.default_rng(seed).choice(len(cells), n, replace=False)]}
    return np.array([(d, w) in pick for d, w in zip(df["data"], df["width"], strict=True)])


def test_reader_validates_the_released_format(table, tmp_path):
    assert len(table) == 1690 and table["train_error"].max() <= 100
    bad = table.drop(columns=["hessian_t"])
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputError, match="hessian_t"):
        read_model_diagnosis_csv(tmp_path / "bad.csv")
    flipped = table.assign(mode_connectivity_peak=-table["mode_connectivity_peak"] + 1)
    flipped.to_csv(tmp_path / "flip.csv", index=False)
    with pytest.raises(InputError, match="negate"):
        read_model_diagnosis_csv(tmp_path / "flip.csv")


def test_paper_tree_beats_validation_tree_on_held_out_cells(table):
    q = question_rows(table, "batch_size")
    assert set(q["bs_failure"]) == {"small", "large"}
    accs = {"paper": [], "learned": [], "validation": []}
    for seed in range(2):
        tr = _cells(q, seed)
        for variant in accs:
            tree = MDTree("batch_size", variant, random_state=seed).fit(q[tr])
            accs[variant].append(np.mean(tree.predict(q[~tr]) == q[~tr]["bs_failure"]))
    mean = {k: float(np.mean(v)) for k, v in accs.items()}
    assert mean["paper"] > 0.85 and mean["paper"] > mean["validation"] + 0.05
    assert mean["learned"] > 0.85


def test_paper_thresholds_stay_in_the_data_units(table):
    tree = MDTree("batch_size").fit(table)
    t0, t1, t2 = tree.thresholds_
    assert 0 <= t0 <= 1 and -30 <= t1 <= 0 and 4 <= t2 <= 9
    assert tree.features() == ["hessian_t", "mode_connectivity_peak", "train_error"]
    assert tree.train_accuracy_ > 0.8


@pytest.mark.parametrize("question", list(QUESTIONS))
@pytest.mark.parametrize("variant", ["paper", "learned", "validation"])
def test_json_round_trip_predicts_the_same(table, tmp_path, question, variant):
    q = question_rows(table, question)
    tree = MDTree(question, variant).fit(q)
    again = MDTree.load(tree.save(tmp_path / "t.json"))
    assert (again.predict(q) == tree.predict(q)).all()
    assert set(tree.predict(q)) <= set(q[QUESTIONS[question]])
    lines = again.explain(q.iloc[0])
    assert lines[-2].startswith("diagnosis:") and lines[-1].startswith("advice:")


def test_learned_variant_matches_sklearn(table):
    from sklearn.ensemble import GradientBoostingClassifier

    from traindx.landscape.mdtree import LEARNED_FEATURES

    q = question_rows(table, "batch_size")
    tree = MDTree("batch_size", "learned").fit(q)
    ref = GradientBoostingClassifier(n_estimators=50, max_depth=2, min_samples_leaf=20, random_state=0)
    ref.fit(q[list(LEARNED_FEATURES)].to_numpy(), q["bs_failure"])
    assert (tree.predict(q) == ref.predict(q[list(LEARNED_FEATURES)].to_numpy())).mean() > 0.99


def test_missing_connectivity_follows_majority_branch(table):
    tree = MDTree("batch_size").fit(table)
    row = {"train_error": 20.0, "hessian_t": 5.0, "mode_connectivity_peak": float("nan")}
    lines = tree.explain(row)
    assert any("not measured" in line for line in lines)
    assert tree.predict(pd.DataFrame([row]))[0] in {"small", "large"}


def test_bad_question_and_unfitted():
    with pytest.raises(InputError, match="question"):
        MDTree("lr").fit(pd.DataFrame({"x": [1]}))
    with pytest.raises(InputError, match="not fitted"):
        MDTree().predict(pd.DataFrame({"train_error": [1.0]}))


def test_fitted_ranges_round_trip_and_flag_values_outside(table, tmp_path):
    tree = MDTree("batch_size").fit(table, fitted_on="the clean collection")
    lo, hi = tree.ranges_["hessian_t"]
    assert lo < hi and tree.out_of_range({"hessian_t": (lo + hi) / 2}) == []
    loaded = MDTree.load(tree.save(tmp_path / "t.json"))
    (warning,) = loaded.out_of_range({"hessian_t": hi + 5, "CKA": float("nan")})
    assert "above the range" in warning and "the clean collection" in warning


def test_learned_tree_is_one_readable_tree(table):
    tree = MDTree("width_vs_batch", "learned_tree").fit(table)
    assert tree.boost_ is None and sum("feature" in n for n in tree.nodes_) <= 7  # depth 3
    assert tree.explain(table.iloc[0])[-2].startswith("diagnosis: width_vs_batch")


def test_trace_bounds_follow_the_data_only_where_the_papers_miss_it(table):
    for question in QUESTIONS:  # the released collection lies inside the paper's bounds: nothing changes
        auto, fixed = MDTree(question, bounds="auto").fit(table), MDTree(question).fit(table)
        assert auto.thresholds_ == fixed.thresholds_
    shifted = table.assign(hessian_t=table["hessian_t"] - 6.0)  # another model family's log trace
    assert MDTree("batch_size").fit(shifted).bounds_[2] == [4.0, 9.0]  # the default keeps the paper's
    tree = MDTree("batch_size", bounds="auto").fit(shifted)
    lo, hi = tree.bounds_[2]
    assert hi < 4.0 and lo <= tree.thresholds_[2] <= hi
    assert tree.bounds_[0] == [0.0, 1.0]  # errors are in % for every model: the paper's bound stays
    with pytest.raises(InputError, match="bounds"):
        MDTree("batch_size", bounds="wide").fit(table)
