"""The docs: links resolve, nothing cites a file outside the repository, and the guides' examples run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]
GUIDES = ("curve-diagnosis", "landscape", "meta-learning", "monitor")
#: names of files that live outside the repository (the workplace's notes, the shared data folder's index)
OUTSIDE = re.compile(r"DESIGN\.md|PRIOR_ART\.md|BRIEF\.md|TASKS\.md|/work/")


def test_docs_have_the_architecture_and_a_guide_per_capability():
    names = {p.relative_to(ROOT / "docs").as_posix() for p in PAGES if "docs" in p.parts}
    assert {"architecture.md", "README.md"} <= names
    for guide in ("monitor", "sweeps", "curve-diagnosis", "landscape", "meta-learning"):
        assert f"guide/{guide}.md" in names
    for howto in ("add-indicator", "add-importer", "add-task", "add-sampler"):
        assert f"howto/{howto}.md" in names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page):
    prose = re.sub(r"```.*?```|`[^`]*`", "", page.read_text(), flags=re.S)  # code is not links
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", prose):
        if "://" not in target:
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_nothing_cites_a_file_outside_the_repository():
    files = [p for d in ("src", "tests", "benchmarks", "docs", "examples", "scripts") for p in (ROOT / d).rglob("*")
             if p.suffix in (".py", ".md", ".toml", ".sh", ".txt") and p != Path(__file__)]  # fmt: skip
    files += [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "pyproject.toml"]
    hits = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in files for m in OUTSIDE.finditer(p.read_text())]
    assert not hits


@pytest.mark.parametrize("guide", GUIDES)
def test_the_guide_examples_run(guide, tmp_path):
    # the page's Python blocks run in order in one process, like a notebook; sketches (first line "# sketch")
    # and blocks that need the page's shell commands first ("# after ...") are left out
    text = (ROOT / "docs" / "guide" / f"{guide}.md").read_text()
    blocks = [
        b for b in re.findall(r"```python\n(.*?)```", text, re.S) if not b.startswith(("# sketch", "# after"))
    ]
    assert blocks
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", "\n".join(blocks)], capture_output=True, text=True, cwd=tmp_path,
                         env=env, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
