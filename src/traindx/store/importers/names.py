"""Map the metric names that logging tools use to the tidy curve columns.

A name is split into words at any non-alphanumeric character or lower/upper-case boundary. It maps when it has
exactly one metric word (``acc``/``accuracy`` -> accuracy, ``loss`` -> loss), at most one split word (``train``/
``training``; ``val``/``valid``/``validation``/``eval``/``dev``; ``test``) and otherwise only neutral words such as
``epoch``, ``categorical``, ``sparse`` or ``pct``. Without a split word the split is training, as Keras logs
``accuracy`` and ``val_accuracy``. Top-1 accuracy counts as accuracy when the name has no other metric word
(timm's ``eval_top1``, torchvision's ``acc1``). Any other word (``top5``, ``step``, ``lr``, ``runtime``, ...) means
the name does not map, so a per-step log or a different metric is never mistaken for an epoch accuracy.

The names the common tools log map as expected:

=================  ===========================================================================================
tool               names
=================  ===========================================================================================
Keras              ``accuracy``, ``val_accuracy``, ``loss``, ``val_loss``; ``epoch/val_accuracy`` (W&B callback)
Lightning          ``train_loss_epoch``, ``val_loss_epoch``, ``val_acc``; ``train_loss_step`` does not map
HF Trainer         ``loss``, ``eval_loss``, ``eval_accuracy``; ``eval_runtime``, ``train_runtime`` do not map
TensorBoard, W&B   ``train/loss``, ``Loss/train``, ``Accuracy/val``, ``val/acc``
=================  ===========================================================================================

Example:
    >>> [canonical_metric(n) for n in ("val_accuracy", "Loss/train", "epoch_accuracy", "val_acc_top5")]
    ['val_acc', 'train_loss', 'train_acc', None]
    >>> [canonical_metric(n) for n in ("eval_accuracy", "eval_loss", "val_loss_epoch", "train_loss_step")]
    ['val_acc', 'val_loss', 'val_loss', None]
    >>> canonical_metric("epoch_loss", split="validation")
    'val_loss'
"""

from __future__ import annotations

import re

from traindx.curves.schema import METRIC_COLUMNS

_SPLITS = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "eval": "val",
    "evaluation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}
_METRICS = {"acc": "acc", "accuracy": "acc", "loss": "loss"}
# top-1 accuracy under its own name; counts only when no other metric word is there ("val_acc_top1" is acc too)
_TOP1 = {"top1", "acc1"}
# words that qualify a metric without changing what it measures
_NEUTRAL = {
    "epoch",
    "categorical",
    "sparse",
    "binary",
    "mean",
    "avg",
    "average",
    "set",
    "data",
    "metrics",
    "pct",
    "percent",
}


def _words(name: str) -> list[str]:
    name = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name)  # camelCase -> camel_Case
    return [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]


def canonical_metric(name: str, split: str | None = None) -> str | None:
    """The tidy column (``train_acc``, ``val_loss``, ...) a logged metric name maps to, or None.

    ``split`` is the split known from context (e.g. a TensorBoard ``validation`` subdirectory); a split word in
    the name itself wins.

    Example:
        >>> canonical_metric("valid_acc"), canonical_metric("loss"), canonical_metric("lr")
        ('val_acc', 'train_loss', None)
    """
    if name in METRIC_COLUMNS:
        return name
    words = _words(name)
    splits = [_SPLITS[w] for w in words if w in _SPLITS]
    metrics = [_METRICS[w] for w in words if w in _METRICS]
    top1 = [w for w in words if w in _TOP1]
    if not metrics and top1:
        metrics = ["acc"]
    others = [w for w in words if w not in _SPLITS and w not in _METRICS and w not in _NEUTRAL | _TOP1]
    if len(metrics) != 1 or len(set(splits)) > 1 or others:
        return None
    context = _SPLITS.get(split.lower()) if isinstance(split, str) else None
    return f"{splits[0] if splits else context or 'train'}_{metrics[0]}"


def split_of(name: str) -> str | None:
    """The split a directory or prefix name stands for (``validation`` -> ``val``), or None.

    Example:
        >>> split_of("validation"), split_of("run1")
        ('val', None)
    """
    return _SPLITS.get(name.lower())


def expected_names() -> str:
    """A short list of accepted names, for error messages."""
    return (
        f"{', '.join(METRIC_COLUMNS)} or common variants such as accuracy, val_accuracy, loss, valid_acc, "
        "Accuracy/train, epoch_accuracy"
    )
