"""The package's lazy public names resolve to what DESIGN.md promises."""

import traindx as tdx
from traindx import _LAZY


def test_all_lists_every_lazy_name():
    assert sorted(tdx.__all__) == sorted(_LAZY)


def test_public_names_resolve():
    for name in tdx.__all__:
        assert getattr(tdx, name) is not None
    assert tdx.Finding.__name__ == "Finding"
