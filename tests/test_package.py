"""The package's lazy public names resolve to the public API (docs/architecture.md, "Public names")."""

import traindx as tdx
from traindx import _LAZY


def test_all_lists_every_lazy_name():
    assert sorted(tdx.__all__) == sorted(_LAZY)


def test_public_names_resolve():
    for name in tdx.__all__:
        assert getattr(tdx, name) is not None
    assert tdx.Finding.__name__ == "Finding"


def test_readme_lists_every_finding_code_with_its_advice():
    from pathlib import Path

    from traindx.monitor.advice import ADVICE

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for code, (cause, advice) in ADVICE.items():
        assert f"| `{code}` | {cause} | {advice} |" in readme, f"README's findings table is stale for {code}"
