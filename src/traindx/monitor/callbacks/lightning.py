"""A Lightning callback that runs the traindx monitor inside ``Trainer.fit``.

The callback is a thin adapter: Lightning owns the loop, the :class:`~traindx.monitor.Monitor` owns the
diagnosis. The monitor is created when fitting starts (from the LightningModule and the trainer's first
optimizer), sees every training batch after its optimizer step, gets the epoch's logged metrics after
validation, and is closed when fitting ends or fails. When a ``stop_on`` code fires, the trainer is asked to
stop (``trainer.should_stop``), which Lightning honours at the next batch or epoch boundary.

Epoch metrics are read from ``trainer.callback_metrics`` under common names: ``train_loss``/``loss``,
``val_loss``, ``train_acc``/``acc``/``train_accuracy`` and ``val_acc``/``val_accuracy`` (each also with
``_epoch`` or ``/`` spellings). Log them with ``self.log(...)`` in your module.

Example:
    >>> import lightning.pytorch as pl
    >>> from traindx.monitor.callbacks.lightning import TraindxCallback
    >>> cb = TraindxCallback(stop_on=("nan_inf",))
    >>> isinstance(cb, pl.Callback), cb.monitor is None
    (True, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from traindx.errors import require
from traindx.monitor.callbacks.base import finish, pick_metrics

pl = require("lightning.pytorch", "lightning")


def val_size(trainer: Any) -> int | None:
    """Validation examples seen per epoch (batches run times batch size, capped by the dataset), or None.

    Example:
        >>> class T: val_dataloaders = None
        >>> val_size(T()) is None
        True
    """
    loaders = getattr(trainer, "val_dataloaders", None)
    if loaders is None:
        return None
    loaders = list(loaders) if isinstance(loaders, (list, tuple)) else [loaders]
    batches = getattr(trainer, "num_val_batches", None) or []
    total = 0
    try:
        for dl, nb in zip(loaders, batches, strict=True):
            n = len(dl.dataset)
            bs = getattr(dl, "batch_size", None)
            total += min(n, int(nb) * bs) if bs and nb != float("inf") else n
    except (TypeError, ValueError, AttributeError):  # an iterable dataset or a loader without one
        return None
    return total or None


#: metric name -> keys tried in order in ``trainer.callback_metrics`` (first present wins)
METRIC_KEYS: dict[str, tuple[str, ...]] = {
    "train_loss": ("train_loss_epoch", "train_loss", "train/loss", "loss_epoch", "loss"),
    "val_loss": ("val_loss_epoch", "val_loss", "val/loss", "valid_loss", "validation_loss"),
    "train_acc": (
        "train_acc_epoch",
        "train_acc",
        "train/acc",
        "train_accuracy",
        "acc_epoch",
        "acc",
        "accuracy",
    ),
    "val_acc": ("val_acc_epoch", "val_acc", "val/acc", "val_accuracy", "valid_acc", "validation_acc"),
}


def _batch_loss(outputs: Any) -> Any:
    if isinstance(outputs, Mapping):
        return outputs.get("loss")
    return outputs


class TraindxCallback(pl.Callback):
    """Run a traindx :class:`~traindx.monitor.Monitor` during ``Trainer.fit``.

    Args:
        every: sample indicators every ``every`` steps (``None``: adapt to ``budget``).
        budget: share of step time the monitor may spend (0.05 = 5%).
        stop_on: finding codes that stop training (e.g. ``("nan_inf", "exploding_gradients")``).
        save_to: when given, the signal record is written there (``Monitor.save``) when fitting ends.
        **monitor_kwargs: passed on to :class:`~traindx.monitor.Monitor`.

    After fitting, ``callback.monitor.findings`` holds the diagnosis.

    Example:
        >>> cb = TraindxCallback(every=10)
        >>> cb.monitor_kwargs["every"]
        10
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
        self._closed = False

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        from traindx.monitor import Monitor

        optimizers = getattr(trainer, "optimizers", None) or []
        optimizer = optimizers[0] if optimizers else None
        # Lightning wraps optimizers; the monitor needs the torch optimizer that holds the param groups
        optimizer = getattr(optimizer, "optimizer", optimizer)
        self.monitor = Monitor(pl_module, optimizer=optimizer, **self.monitor_kwargs)
        if getattr(
            pl_module, "automatic_optimization", True
        ):  # Lightning divides the loss by the accumulation
            self.monitor.grad_accumulation = max(1, int(getattr(trainer, "accumulate_grad_batches", 1) or 1))
        self._closed = False

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.monitor is None:
            return
        loss = _batch_loss(outputs)
        if loss is None:  # manual optimisation returning nothing: fall back to the logged loss
            loss = trainer.callback_metrics.get("train_loss", trainer.callback_metrics.get("loss"))
        if loss is not None:
            self.monitor.step(loss)
        self._maybe_stop(trainer)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        # Lightning 2 runs the epoch's validation before this hook, so val metrics are already logged
        if self.monitor is None:
            return
        metrics = pick_metrics(trainer.callback_metrics, METRIC_KEYS)
        n_val = val_size(trainer) if "val_acc" in metrics else None
        self.monitor.epoch_end(**metrics, val_size=n_val)
        self._maybe_stop(trainer)

    def _maybe_stop(self, trainer: Any) -> None:
        if self.monitor.should_stop:
            trainer.should_stop = True

    def _close(self) -> None:
        if self.monitor is not None and not self._closed:
            self._closed = True
            finish(self.monitor, self.save_to)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._close()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._close()
