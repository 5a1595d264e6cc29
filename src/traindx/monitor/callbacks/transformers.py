"""A Hugging Face ``transformers.Trainer`` callback that runs the traindx monitor inside ``Trainer.train``.

Where the Trainer's hooks fall matters. ``on_step_end`` runs after ``model.zero_grad()``, so gradients are
gone by then; ``on_optimizer_step`` runs after ``optimizer.step()`` and before the gradients are zeroed, which
is exactly where :meth:`~traindx.monitor.Monitor.step` expects to be called, so the callback steps the monitor
there (once per optimizer step, after all gradient-accumulation micro-batches).

The Trainer hands callbacks no per-step loss (it accumulates it on the device between logging steps), so the
callback reads it from the model's own output: a forward hook keeps ``outputs.loss`` of training-mode forward
passes as a detached device tensor (no host sync), averaged over the micro-batches of one optimizer step. Every
``transformers`` model given ``labels`` returns that loss; with a custom ``compute_loss`` whose model returns
none, the callback warns once and the monitor is not stepped.

Evaluation results (``on_evaluate``: ``eval_loss`` and ``eval_accuracy``/``eval_acc`` when the metrics
function returns one) close an epoch of the monitor together with the mean training loss since the previous
one; without evaluation (``eval_strategy="no"``) the Trainer's epoch end does. A ``stop_on`` code sets
``control.should_training_stop``. With fp16 mixed precision the gradients the monitor reads are unscaled
only when the Trainer clips them (``max_grad_norm > 0``, its default). Under ``torch.distributed`` the
callback runs a :class:`~traindx.monitor.distributed.DistributedMonitor`, so findings are reported once and
every rank stops together.

Example:
    >>> from transformers import TrainerCallback
    >>> from traindx.monitor.callbacks.transformers import TraindxTrainerCallback
    >>> cb = TraindxTrainerCallback(stop_on=("nan_inf",))
    >>> isinstance(cb, TrainerCallback), cb.monitor is None
    (True, True)
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from traindx.errors import require
from traindx.monitor.callbacks.base import finish, pick_metrics

transformers = require("transformers", "transformers")

#: metric name -> keys tried in order in the metrics ``Trainer.evaluate`` reports (first present wins)
EVAL_KEYS: dict[str, tuple[str, ...]] = {
    "val_loss": ("eval_loss",),
    "val_acc": ("eval_accuracy", "eval_acc"),
}


def _output_loss(output: Any) -> Any:
    if isinstance(output, Mapping):
        return output.get("loss")
    loss = getattr(output, "loss", None)
    if loss is None and isinstance(output, tuple) and output and getattr(output[0], "ndim", None) == 0:
        return output[0]  # return_dict=False puts the loss first
    return loss


def val_size(eval_dataloader: Any) -> int | None:
    """Examples in the evaluation set behind ``eval_accuracy`` (the dataloader the Trainer hands its callbacks),
    or None for an iterable dataset of unknown length.

    Example:
        >>> class D: dataset = range(250)
        >>> val_size(D()), val_size(None)
        (250, None)
    """
    try:
        n = len(eval_dataloader.dataset)
    except (AttributeError, TypeError):
        return None
    return n if n > 0 else None


class TraindxTrainerCallback(transformers.TrainerCallback):
    """Run a traindx :class:`~traindx.monitor.Monitor` during ``Trainer.train``.

    Args:
        every: sample indicators every ``every`` optimizer steps (``None``: adapt to ``budget``).
        budget: share of step time the monitor may spend (0.05 = 5%).
        stop_on: finding codes that stop training (``control.should_training_stop`` is set when one fires).
        save_to: when given, the signal record is written there (``Monitor.save``) when training ends.
        **monitor_kwargs: passed on to :class:`~traindx.monitor.Monitor` (e.g. ``writers=``).

    After ``trainer.train()``, ``callback.monitor.findings`` holds the diagnosis.

    Example:
        >>> TraindxTrainerCallback(every=5).monitor_kwargs["every"]
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
        self.monitor_kwargs = {"every": every, "budget": budget, "stop_on": tuple(stop_on), **monitor_kwargs}
        self.save_to = save_to
        self.monitor: Any = None
        self._handle: Any = None
        self._step_losses: list = []
        self._epoch_loss: Any = 0.0
        self._epoch_steps = 0
        self._warned = False

    # -- loss capture ------------------------------------------------------------------------------------
    def _on_forward(self, module: Any, _args: Any, output: Any) -> None:
        if module.training:
            loss = _output_loss(output)
            if loss is not None and getattr(loss, "ndim", None) == 0:
                self._step_losses.append(loss.detach())

    def _take_step_loss(self) -> Any:
        losses, self._step_losses = self._step_losses, []
        if not losses:
            return None
        return losses[0] if len(losses) == 1 else sum(losses) / len(losses)

    # -- Trainer events ----------------------------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        from traindx.monitor import Monitor
        from traindx.monitor.distributed import DistributedMonitor, is_distributed

        optimizer = kwargs.get("optimizer")
        # accelerate wraps the optimizer (a torch Optimizer subclass that skips its base's setup); the monitor
        # needs the torch optimizer inside, which holds the param groups and the step hooks
        while hasattr(optimizer, "optimizer"):
            optimizer = optimizer.optimizer
        cls = DistributedMonitor if is_distributed() else Monitor
        self.monitor = cls(model, optimizer=optimizer, **self.monitor_kwargs)
        # the Trainer divides each micro-batch's loss by the accumulation steps before backward
        inner = getattr(self.monitor, "monitor", self.monitor)  # DistributedMonitor wraps one
        inner.grad_accumulation = max(1, int(getattr(args, "gradient_accumulation_steps", 1) or 1))
        self._handle = model.register_forward_hook(self._on_forward)
        self._step_losses, self._epoch_loss, self._epoch_steps = [], 0.0, 0

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.monitor is None:
            return control
        loss = self._take_step_loss()
        if loss is None:
            if not self._warned:
                self._warned = True
                warnings.warn(
                    "traindx: the model returned no loss in training (custom compute_loss?); the monitor "
                    "needs outputs.loss and is not stepped",
                    stacklevel=2,
                )
            return control
        self._epoch_loss = self._epoch_loss + loss
        self._epoch_steps += 1
        self.monitor.step(loss)
        return self._maybe_stop(control)

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any) -> Any:
        if self.monitor is None:
            return control
        picked = pick_metrics(metrics, EVAL_KEYS)
        n_val = val_size(kwargs.get("eval_dataloader")) if "val_acc" in picked else None
        self._end_epoch(picked, n_val)
        return self._maybe_stop(control)

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.monitor is None:
            return control
        strategy = getattr(args, "eval_strategy", "no")
        if getattr(strategy, "value", strategy) == "no":  # no evaluation closes the epoch, so this does
            self._end_epoch({})
        return self._maybe_stop(control)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.monitor is None:
            return
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        finish(self.monitor, self.save_to)

    # -- helpers -----------------------------------------------------------------------------------------
    def _end_epoch(self, metrics: dict[str, float], n_val: int | None = None) -> None:
        if self._epoch_steps:
            metrics["train_loss"] = float(self._epoch_loss) / self._epoch_steps  # one host read per epoch
        self._epoch_loss, self._epoch_steps = 0.0, 0
        self.monitor.epoch_end(**metrics, val_size=n_val)

    def _maybe_stop(self, control: Any) -> Any:
        if self.monitor.should_stop:
            control.should_training_stop = True
        return control
