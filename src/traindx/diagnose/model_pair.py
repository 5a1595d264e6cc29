"""A model saved as data: ``NAME.npz`` (arrays, read with ``allow_pickle=False``) beside ``NAME.json`` (facts).

Both saved diagnosers (the task-free default and the legacy forest) use this pair, so neither file can hold
code and a reader needs only numpy and json.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_pair(d / "m", {"w": np.arange(3)}, {"format": "demo/1"})
    >>> read_pair_facts(d / "m", "demo/1")["format"], read_pair_arrays(d / "m")["w"].tolist()
    ('demo/1', [0, 1, 2])
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from traindx.errors import InputError


def write_pair(path: str | Path, arrays: dict[str, np.ndarray], facts: dict) -> tuple[Path, Path]:
    """Write ``path.npz`` and ``path.json``; return both paths."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    npz, js = path.with_suffix(".npz"), path.with_suffix(".json")
    np.savez_compressed(npz, **arrays)
    js.write_text(json.dumps(facts, indent=1) + "\n")
    return npz, js


def read_pair_facts(path: str | Path, fmt: str, fix: str = "rebuild it") -> dict:
    """The JSON half, checked to be of format ``fmt``; a clear error naming ``fix`` otherwise."""
    js = Path(path).with_suffix(".json")
    try:
        facts = json.loads(js.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the diagnoser file {js} ({exc}); {fix}") from exc
    if not isinstance(facts, dict) or facts.get("format") != fmt:
        got = facts.get("format") if isinstance(facts, dict) else None
        raise InputError(f"{js} is not a {fmt} file (format {got!r}); {fix}")
    return facts


def read_pair_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays half (never unpickles)."""
    npz = Path(path).with_suffix(".npz")
    try:
        with np.load(npz, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the diagnoser arrays {npz} ({exc}); rebuild the model file") from exc
