"""The model-file convention for diagnosing a saved model: ``model.pt`` (a state_dict) + ``model.json``.

``model.json`` names a factory of :mod:`traindx.experiments.models` and its arguments, e.g.
``{"model": "cnn_small", "input_shape": [1, 28, 28], "n_classes": 10, "width": 8, "depth": 2,
"activation": "relu"}`` (text models add ``"vocab_size"``; ``"dropout"`` and ``"norm"`` are optional too), so
a model of any modality of the task layer can be rebuilt; the model is rebuilt from it and the weights are read with
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

_KEYS = ("model", "input_shape", "n_classes", "width", "depth", "activation", "dropout", "norm", "vocab_size")
# Bounds on an architecture file: far above any model the factories are meant for, low enough that a crafted
# file cannot make the rebuild allocate gigabytes before the weights are even read.
MAX_ARCH_BYTES = 1 << 20
MAX_INPUT_VALUES = 1 << 24
MAX_WIDTH = 1 << 16
MAX_DEPTH = 256
MAX_CLASSES = 1 << 20
MAX_VOCAB = 1 << 22


def _check_arch(arch, path: Path) -> dict:
    def bad(why: str) -> InputError:
        return InputError(f"{path} is not a valid architecture file: {why}")

    if not isinstance(arch, dict):
        raise bad(f"expected a JSON object, got {type(arch).__name__}")
    unknown = set(arch) - set(_KEYS)
    if unknown:
        raise bad(f"unknown keys {sorted(unknown)}; use {list(_KEYS)}")
    for key in ("model", "input_shape", "n_classes"):
        if key not in arch:
            raise bad(f"it needs 'model', 'input_shape' and 'n_classes' (no {key!r})")
    shape = arch["input_shape"]
    if not (
        isinstance(shape, list)
        and 1 <= len(shape) <= 4
        and all(_int_in(v, 1, MAX_INPUT_VALUES) for v in shape)
    ):
        raise bad(f"input_shape must be a list of 1 to 4 positive whole numbers, got {shape!r}")
    values = 1
    for v in shape:
        values *= v
    if values > MAX_INPUT_VALUES:
        raise bad(f"input_shape {shape} has {values} values per example, more than {MAX_INPUT_VALUES}")
    if not _int_in(arch["n_classes"], 1, MAX_CLASSES):
        raise bad(f"n_classes must be a whole number from 1 to {MAX_CLASSES}, got {arch['n_classes']!r}")
    for key, high in (("width", MAX_WIDTH), ("depth", MAX_DEPTH)):
        if arch.get(key) is not None and not _int_in(arch[key], 0, high):
            raise bad(f"{key} must be a whole number from 0 to {high}, got {arch[key]!r}")
    if arch.get("vocab_size") is not None and not _int_in(arch["vocab_size"], 0, MAX_VOCAB):
        raise bad(f"vocab_size must be a whole number from 0 to {MAX_VOCAB}, got {arch['vocab_size']!r}")
    dropout = arch.get("dropout", 0.0)
    if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0.0 <= dropout < 1.0:
        raise bad(f"dropout must be a probability in [0, 1), got {dropout!r}")
    for key in ("model", "activation", "norm"):
        if not isinstance(arch.get(key, ""), str):
            raise bad("model, activation and norm must be names")
    return arch


def _int_in(v, low: int, high: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


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


def read_arch(arch_path: str | os.PathLike) -> dict:
    """Read and validate an architecture file (size, UTF-8 JSON, keys, types and bounds).

    Example:
        >>> read_arch("/no/such.json")
        Traceback (most recent call last):
        ...
        traindx.errors.InputError: no such file: /no/such.json; pass the architecture (.json)
    """
    ap = Path(arch_path)
    if not ap.is_file():
        raise InputError(f"no such file: {ap}; pass the architecture (.json)")
    if ap.stat().st_size > MAX_ARCH_BYTES:
        raise InputError(f"{ap} is over {MAX_ARCH_BYTES >> 10} KB, far larger than an architecture file")
    try:
        return _check_arch(json.loads(ap.read_bytes().decode("utf-8")), ap)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InputError(
            f"{ap} is not a valid architecture file ({exc!r}); it needs UTF-8 JSON with 'model', 'input_shape' "
            "and 'n_classes'"
        ) from exc


def load_model(model_path: str | os.PathLike, arch_path: str | os.PathLike) -> nn.Module:
    """Rebuild the model described by ``arch_path`` and load the weights in ``model_path`` (weights only)."""
    from traindx.experiments.models import build_model

    mp, ap = Path(model_path), Path(arch_path)
    if not mp.is_file():
        raise InputError(f"no such file: {mp}; pass the model weights (.pt state_dict)")
    arch = read_arch(ap)
    try:
        kwargs = {
            k: arch[k]
            for k in ("width", "depth", "activation", "dropout", "norm", "vocab_size")
            if arch.get(k) is not None
        }
        model = build_model(arch["model"], tuple(arch["input_shape"]), int(arch["n_classes"]), **kwargs)
    except InputError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise InputError(
            f"{ap} is not a valid architecture file ({exc!r}); it needs UTF-8 JSON with 'model', 'input_shape' "
            "and 'n_classes'"
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
