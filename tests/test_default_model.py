"""The shipped default diagnoser: plain data, current with this installation, and reproduced by a refit."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import traindx.diagnose.default as default
from traindx.curves.features import featurize
from traindx.diagnose.build_default import build
from traindx.diagnose.default import default_diagnoser, expected_meta, model_path, stale_reason
from traindx.diagnose.fitted import FittedDiagnoser
from traindx.diagnose.model_file import load_diagnoser


def test_the_shipped_model_matches_this_installation():
    # fails when the corpus, fit settings or version change without `python -m traindx.diagnose.build_default`
    assert stale_reason() is None
    facts = json.loads(model_path().with_suffix(".json").read_text())
    assert facts["meta"]["corpus_sha256"] == expected_meta()["corpus_sha256"]
    assert facts["meta"]["traindx_version"] == expected_meta()["traindx_version"]


def test_the_model_file_is_data_not_pickles():
    with zipfile.ZipFile(model_path().with_suffix(".npz")) as z:
        assert all(name.endswith(".npy") for name in z.namelist())
    with np.load(model_path().with_suffix(".npz"), allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)


def test_diagnosing_with_the_shipped_model_does_not_load_scikit_learn():
    # scikit-learn's import alone takes 1-2 s; a one-run diagnosis should not pay it
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
    assert out.stdout.strip() in ("True", "False")


def test_a_stale_model_is_refitted_with_a_message(monkeypatch):
    monkeypatch.setattr(default, "expected_meta", lambda folder=None: {"traindx_version": "0.0.0-other"})
    monkeypatch.setattr(default, "load_corpus", lambda: (None, None))
    monkeypatch.setattr(default, "fit_default", lambda runs, curves: "refitted")
    default_diagnoser.cache_clear()
    try:
        with pytest.warns(default.StaleModelWarning, match="another traindx version.*build_default"):
            assert default_diagnoser() == "refitted"
    finally:
        default_diagnoser.cache_clear()


@pytest.mark.slow
def test_a_refit_from_the_corpus_reproduces_the_shipped_model(tmp_path):
    # the fit is seeded: a rebuild must give the shipped file's probabilities (about 25 s on 2 cores)
    build(out=tmp_path / "rebuilt")
    shipped, _ = load_diagnoser(model_path())
    rebuilt, meta = load_diagnoser(tmp_path / "rebuilt")
    assert isinstance(shipped, FittedDiagnoser) and meta["corpus_sha256"] == expected_meta()["corpus_sha256"]
    assert rebuilt.labels_ == shipped.labels_
    assert list(rebuilt.feature_names_in_) == list(shipped.feature_names_in_)
    _, curves = default.load_corpus()
    for epoch in (2, 8):
        X = featurize(curves, at_epoch=epoch)
        a, b = shipped.predict_proba_frame(X=X), rebuilt.predict_proba_frame(X=X)
        assert np.allclose(a.to_numpy(), b.to_numpy(), atol=1e-9)
