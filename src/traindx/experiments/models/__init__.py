"""Model families for experiment corpora, one module per family, listed in :data:`BUILDERS`.

``logreg`` and the MLPs (``mlp_small``, ``mlp_large``, ``mlp``: width, depth, dropout, normalization,
activation) read any float input; the CNNs (``cnn_small``, ``cnn_large``, ``cnn``) and the small ``resnet`` images
or (``cnn*``) 1-D series; ``gru`` series or token ids; ``embbag`` and ``textcnn`` token ids. ``width`` and
``depth`` override each family's defaults (:data:`traindx.experiments.vocabulary.ARCH_DEFAULTS`).

Example:
    >>> from traindx.experiments.models import build_model, count_params
    >>> count_params(build_model("logreg", (1, 28, 28), 10))
    7850
"""

from __future__ import annotations

import math

from torch import nn

from traindx.errors import InputError
from traindx.experiments.models import cnn, mlp, resnet, sequence, text
from traindx.experiments.vocabulary import ACTIVATIONS as _ACT_NAMES
from traindx.experiments.vocabulary import ARCH_DEFAULTS, CAPACITY, MODELS, NORMS, TOKEN_MODELS

DEFAULTS = ARCH_DEFAULTS
ACTIVATIONS = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU, "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
}  # fmt: skip
assert tuple(ACTIVATIONS) == _ACT_NAMES
# family -> builder(input_shape, n_classes, width, depth, act, dropout, norm, vocab_size)
BUILDERS = {
    "logreg": mlp.build_logreg,
    "mlp_small": mlp.build,
    "mlp_large": mlp.build,
    "mlp": mlp.build,
    "cnn_small": cnn.build,
    "cnn_large": cnn.build,
    "cnn": cnn.build,
    "resnet": resnet.build,
    "gru": sequence.build,
    "embbag": text.build_embbag,
    "textcnn": text.build_textcnn,
}
assert tuple(BUILDERS) == MODELS

__all__ = ["ACTIVATIONS", "BUILDERS", "DEFAULTS", "MODELS", "build_model", "count_params", "resolve_arch"]


def resolve_arch(
    model: str, width: int | None = None, depth: int | None = None, capacity: str | None = None
) -> tuple[int, int]:
    """The (width, depth) a model is built with: the given values, a capacity level, or the defaults.

    Example:
        >>> resolve_arch("mlp_small"), resolve_arch("mlp", capacity="tiny")
        ((32, 1), (4, 2))
    """
    if model not in DEFAULTS:
        raise InputError(f"unknown model {model!r}; use one of {', '.join(MODELS)}")
    w0, d0 = DEFAULTS[model]
    if capacity is not None:
        if capacity not in CAPACITY:
            raise InputError(f"unknown capacity {capacity!r}; use one of {', '.join(CAPACITY)}")
        w0 = max(1, int(round(w0 * CAPACITY[capacity]))) if w0 else 0
    w = w0 if width is None or _isnan(width) else int(width)
    d = d0 if depth is None or _isnan(depth) else int(depth)
    if model != "logreg" and (w < 1 or d < 1):
        raise InputError(f"{model} needs width >= 1 and depth >= 1, got width={w}, depth={d}")
    return w, d


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def build_model(
    model: str,
    input_shape: tuple[int, ...],
    n_classes: int,
    width: int | None = None,
    depth: int | None = None,
    activation: str = "relu",
    dropout: float = 0.0,
    norm: str = "none",
    vocab_size: int = 0,
) -> nn.Module:
    """Build a fresh, randomly initialised model (seed torch beforehand for reproducibility).

    ``vocab_size`` > 0 means the inputs are token ids (text models and ``gru`` embed them first).

    Example:
        >>> m = build_model("cnn_small", (1, 28, 28), 10)
        >>> import torch
        >>> m(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """
    if activation not in ACTIVATIONS:
        raise InputError(f"unknown activation {activation!r}; use one of {', '.join(ACTIVATIONS)}")
    if norm not in NORMS:
        raise InputError(f"unknown norm {norm!r}; use one of {', '.join(NORMS)}")
    if not 0.0 <= dropout < 1.0:
        raise InputError(f"dropout={dropout} is out of range; use a probability in [0, 1)")
    w, d = resolve_arch(model, width, depth)
    if model in TOKEN_MODELS and model != "gru" and vocab_size <= 0:
        raise InputError(f"{model} reads token ids: use it on a text task (or give vocab_size)")
    if vocab_size > 0 and model not in TOKEN_MODELS:
        raise InputError(f"{model} reads float inputs; on a text task use one of {', '.join(TOKEN_MODELS)}")
    return BUILDERS[model](
        tuple(input_shape), n_classes, w, d, ACTIVATIONS[activation], dropout, norm, vocab_size
    )


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters.

    Example:
        >>> count_params(build_model("mlp_small", (1, 8, 8), 10))
        2410
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
