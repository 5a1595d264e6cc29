"""A Keras 3 callback that runs the traindx monitor inside ``model.fit`` (torch backend only).

With ``KERAS_BACKEND=torch`` a Keras model is a ``torch.nn.Module`` whose weights are torch parameters and
whose train step leaves their gradients in place after the optimizer update, so the same
:class:`~traindx.monitor.Monitor` that watches a PyTorch loop watches a Keras fit. Set the backend before
Keras is first imported (``os.environ["KERAS_BACKEND"] = "torch"``; importing this module before Keras does it
when no backend is chosen); other backends raise a clear error.

Keras' per-batch ``logs["loss"]`` is the running mean over the epoch so far, not the batch loss, so loss-spike
detection sees a smoothed signal here; gradient, weight and update indicators are unaffected. The Keras
optimizer is not a torch optimizer, so the monitor reads updates from the parameters themselves. Keras layers
are not ``torch.nn.Linear``/``Conv``/``ReLU`` modules, so the per-layer indicators (vanishing gradients, weight
init, dead ReLU, saturation) show as off; loss, gradient-norm, update, input and epoch indicators run.

Example:
    >>> import os; os.environ.setdefault("KERAS_BACKEND", "torch")
    'torch'
    >>> from traindx.monitor.callbacks.keras import TraindxKerasCallback
    >>> TraindxKerasCallback(stop_on=("nan_inf",)).monitor is None
    True
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from traindx.errors import InputError, require
from traindx.monitor.callbacks.base import finish, pick_metrics

if "keras" not in sys.modules:
    # the callback needs the torch backend; choose it when Keras is not loaded yet and no backend is chosen
    os.environ.setdefault("KERAS_BACKEND", "torch")
keras = require("keras", "keras")

#: metric name -> keys tried in order in Keras' epoch ``logs`` (first present wins)
LOG_KEYS: dict[str, tuple[str, ...]] = {
    "train_loss": ("loss",),
    "val_loss": ("val_loss",),
    "train_acc": (
        "accuracy",
        "acc",
        "sparse_categorical_accuracy",
        "categorical_accuracy",
        "binary_accuracy",
    ),
    "val_acc": (
        "val_accuracy",
        "val_acc",
        "val_sparse_categorical_accuracy",
        "val_categorical_accuracy",
        "val_binary_accuracy",
    ),
}


def val_size(model: Any) -> int | None:
    """Validation examples behind ``val_acc`` in ``model.fit``, from the evaluation iterator Keras keeps on the
    model while it fits (batches times batch size, less the short last batch), or None when unknown.

    Example:
        >>> class M: _eval_epoch_iterator = None
        >>> val_size(M()) is None
        True
    """
    adapter = getattr(getattr(model, "_eval_epoch_iterator", None), "data_adapter", None)
    try:
        batches, size = int(adapter.num_batches), int(adapter.batch_size)
        short = int(adapter.partial_batch_size or 0) if adapter.has_partial_batch else 0
    except (AttributeError, TypeError, ValueError):  # no validation, or a generator of unknown length
        return None
    n = (batches - 1) * size + short if short else batches * size
    return n if n > 0 else None


def check_torch_backend() -> None:
    """Raise :class:`InputError` unless Keras runs on the torch backend.

    Example:
        >>> check_torch_backend()  # KERAS_BACKEND=torch was set above
    """
    backend = keras.backend.backend()
    if backend != "torch":
        raise InputError(
            f"the traindx Keras callback needs the torch backend, but Keras runs on {backend!r}; "
            "set KERAS_BACKEND=torch in the environment before Keras is first imported"
        )


class TraindxKerasCallback(keras.callbacks.Callback):
    """Run a traindx :class:`~traindx.monitor.Monitor` during ``model.fit`` (Keras 3, torch backend).

    Args:
        every: sample indicators every ``every`` steps (``None``: adapt to ``budget``).
        budget: share of step time the monitor may spend (0.05 = 5%).
        stop_on: finding codes that stop training (``model.stop_training`` is set when one fires).
        save_to: when given, the signal record is written there (``Monitor.save``) when training ends.
        **monitor_kwargs: passed on to :class:`~traindx.monitor.Monitor`.

    After ``fit``, ``callback.monitor.findings`` holds the diagnosis.

    Example:
        >>> TraindxKerasCallback(every=5).monitor_kwargs["every"]
        5
    """

    def __init__(
        self,
        every: int | None = None,
        budget: float = 0.05,
        stop_on: Iterable[str] = (),
        save_to: str | None = None,
        **monitor_kwargs: Any,
    ) -> None:
        super().__init__()
        self.monitor_kwargs = {"every": every, "budget": budget, "stop_on": tuple(stop_on), **monitor_kwargs}
        self.save_to = save_to
        self.monitor: Any = None

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        import torch

        from traindx.monitor import Monitor

        check_torch_backend()
        if not isinstance(self.model, torch.nn.Module):
            raise InputError(
                f"the Keras model ({type(self.model).__name__}) is not a torch module; "
                "set KERAS_BACKEND=torch before Keras is first imported"
            )
        self.monitor = Monitor(self.model, optimizer=None, **self.monitor_kwargs)

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.monitor is None:
            return
        loss = (logs or {}).get("loss")
        if loss is not None:
            self.monitor.step(float(loss))
        self._maybe_stop()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.monitor is None:
            return
        metrics = pick_metrics(logs, LOG_KEYS)
        n_val = val_size(self.model) if "val_acc" in metrics else None
        self.monitor.epoch_end(**metrics, val_size=n_val)
        self._maybe_stop()

    def _maybe_stop(self) -> None:
        if self.monitor.should_stop:
            self.model.stop_training = True

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.monitor is None:
            return
        finish(self.monitor, self.save_to)
