"""The model-file convention for diagnosing a saved model: ``model.pt`` (a state_dict) + ``model.json``.

``model.json`` names a factory of :mod:`traindx.experiments.models` and its arguments, e.g.
``{"model": "cnn_small", "input_shape": [1, 28, 28], "n_classes": 10, "width": 8, "depth": 2,
"activation": "relu"}``; the model is rebuilt from it and the weights are read with
``torch.load(weights_only=True)``, so no code is ever unpickled.

Example:
    >>> import tempfile, pathlib
    >>> from traindx.experiments.models import build_model
    >>> arch = {"model": "logreg", "input_shape": [1, 8, 8], "n_classes": 10}
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = save_model(build_model("logreg", (1, 8, 8), 10), arch, folder / "m.pt")
    >>> load_model(folder / "m.pt", folder / "m.json").__class__.__name__
    'Sequential'
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from traindx.errors import InputError

_KEYS = ("model", "input_shape", "n_classes", "width", "depth", "activation")


def save_model(model: nn.Module, arch: dict, path: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``path`` (state_dict) and the architecture beside it as ``path`` with suffix ``.json``."""
    unknown = set(arch) - set(_KEYS)
    if unknown or "model" not in arch:
        raise InputError(f"arch must have 'model' and only keys {list(_KEYS)}; got {sorted(arch)}")
    pt = Path(path)
    torch.save(model.state_dict(), pt)
    js = pt.with_suffix(".json")
    js.write_text(json.dumps(arch, indent=2))
    return pt, js


def load_model(model_path: str | os.PathLike, arch_path: str | os.PathLike) -> nn.Module:
    """Rebuild the model described by ``arch_path`` and load the weights in ``model_path`` (weights only)."""
    from traindx.experiments.models import build_model

    mp, ap = Path(model_path), Path(arch_path)
    for p, what in ((mp, "model weights (.pt state_dict)"), (ap, "architecture (.json)")):
        if not p.is_file():
            raise InputError(f"no such file: {p}; pass the {what}")
    try:
        arch = json.loads(ap.read_text())
        kwargs = {k: arch[k] for k in ("width", "depth", "activation") if arch.get(k) is not None}
        model = build_model(arch["model"], tuple(arch["input_shape"]), int(arch["n_classes"]), **kwargs)
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(
            f"{ap} is not a valid architecture file ({exc!r}); it needs 'model', 'input_shape' and 'n_classes'"
        ) from exc
    try:
        state = torch.load(mp, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for foreign or corrupt files
        raise InputError(
            f"{mp} is not a readable state_dict ({exc}); save it with torch.save(model.state_dict())"
        ) from exc
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"{mp} does not match the architecture in {ap}: {exc}") from exc
    return model
