"""The shipped default diagnoser: plain data, current with this installation, never refitted, reproduced by a refit."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import traindx.diagnose.default as default
from traindx.diagnose.default import default_diagnoser, expected_meta, model_path, stale_reason
from traindx.diagnose.task_free_model import TaskFreeDiagnoser, fit_task_free, load_task_free


def test_the_shipped_model_matches_this_installation():
    # fails when the corpus, features, fit settings or version change without `python -m traindx.diagnose.build_default`
    assert stale_reason(check_corpus=True) is None
    facts = json.loads(model_path().with_suffix(".json").read_text())
    assert facts["meta"]["corpus_sha256"] == expected_meta()["corpus_sha256"]
    assert facts["meta"]["traindx_version"] == expected_meta()["traindx_version"]
    assert facts["meta"]["n_tasks"] >= 40


def test_the_model_file_is_data_not_pickles():
    with zipfile.ZipFile(model_path().with_suffix(".npz")) as z:
        assert all(name.endswith(".npy") for name in z.namelist())
    with np.load(model_path().with_suffix(".npz"), allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)


def test_diagnosing_with_the_shipped_model_loads_no_scikit_learn():
    # scikit-learn's import alone takes 1-2 s; a diagnosis with the shipped model needs numpy and pandas only
    code = (
        "import sys, pandas as pd, traindx as tdx\n"
        "c = pd.DataFrame({'run_id': ['a'] * 3, 'epoch': [1, 2, 3], 'train_acc': [0.6, 0.8, 0.9],"
        " 'val_acc': [0.6, 0.7, 0.7]})\n"
        "d = tdx.diagnose(c)\n"
        "assert 'sklearn' not in sys.modules, 'scikit-learn was imported'\n"
        "print(bool(d.loc['a', 'overfitting']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"  # train - val = 0.2 > 0.15: the rule


def test_a_stale_model_is_an_error_naming_the_rebuild_and_is_never_refitted(monkeypatch):
    monkeypatch.setattr(
        default, "stale_reason", lambda: "the shipped default model was built for another version"
    )
    monkeypatch.setattr(default, "fit_default", lambda *a: pytest.fail("refitted in a normal call"))
    default_diagnoser.cache_clear()
    try:
        with pytest.raises(default.StaleModelError, match="another version.*build_default"):
            default_diagnoser()
    finally:
        default_diagnoser.cache_clear()


def test_the_version_is_checked_at_load(tmp_path):
    facts = json.loads(model_path().with_suffix(".json").read_text())
    facts["meta"]["traindx_version"] = "0.0.0-other"
    (tmp_path / "m.json").write_text(json.dumps(facts))
    (tmp_path / "m.npz").write_bytes(model_path().with_suffix(".npz").read_bytes())
    assert "traindx version" in stale_reason(tmp_path / "m")


@pytest.mark.slow
def test_a_refit_reproduces_the_shipped_model():
    """Every learned label is fitted independently on the same seeded rows: refit one forecast
    and compare it with the shipped file (the whole build is `python -m traindx.diagnose.build_default`)."""
    shipped, meta = load_task_free(model_path())
    assert (
        isinstance(shipped, TaskFreeDiagnoser) and meta["corpus_sha256"] == expected_meta()["corpus_sha256"]
    )
    runs, curves = default.load_corpus()
    X, y, info = default.training_set(runs, curves)
    labels = ["final_overfitting"]  # one label keeps the test near a minute; build_default refits them all
    choose = {
        "final": info["fraction"].isin(default.FORECAST_FRACTIONS).to_numpy(),
        "cause": info["fraction"].isin(default.CAUSE_FRACTIONS).to_numpy(),
    }
    refit = fit_task_free(X, y[labels], info["task"].to_numpy(), choose_rows=choose, max_iter=default.MAX_ITER,
                          inner_folds=default.INNER_FOLDS)  # fmt: skip
    rows = X.iloc[:: max(1, len(X) // 3000)]
    a, b = shipped.predict_proba_frame(X=rows), refit.predict_proba_frame(X=rows)
    for label in labels:
        assert refit.thresholds_[label] == shipped.thresholds_[label]
        assert np.allclose(a[label].to_numpy(), b[label].to_numpy(), atol=1e-9), label
