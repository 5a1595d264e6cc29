"""EarlyStopping: a single-run controller that stops when further epochs will not pay off.

After each epoch call ``update(epoch, val_acc=..., val_loss=..., train_loss=...)``; it returns True when the run
should stop, and ``best_epoch`` / ``restore()`` give back the best epoch. It stops on the first of:

1. **predicted gain**: a prefix-conditioned :class:`PerformancePredictor` (``target="best"``) estimates the best
   validation accuracy the run will reach; stop when P(gain over the best so far > ``min_delta``) falls below
   ``1 - confidence`` (Domhan et al., IJCAI 2015, stop at P < 0.05);
2. **hopeless underfitting**: after ``min_epochs``, validation accuracy within 2 points of chance for 3 epochs
   in a row and not rising (the model has not learned; more epochs of the same will not help);
3. **established overfitting**: Prechelt's generalization loss GL = 100 * (val_loss / min val_loss - 1) above 5
   (his GL5 criterion, "Early stopping - but when?", 1998) while validation accuracy has not improved for
   3 epochs;
4. **patience** (optional): no improvement for ``patience`` epochs — the classic rule, as a backstop.

Example:
    >>> es = EarlyStopping(predictor=None, patience=2)
    >>> [es.update(e, val_acc=a) for e, a in enumerate([0.5, 0.7, 0.69, 0.68], start=1)]
    [False, False, False, True]
    >>> es.best_epoch, es.reason
    (2, 'patience')
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from traindx.errors import InputError

CHANCE_MARGIN = 0.02  # 2 points above chance: below the binomial noise of a 500-example validation set at 10%
GL_THRESHOLD = 5.0  # Prechelt (1998) GL5
STALL_EPOCHS = 3


class EarlyStopping:
    """Single-run early-stopping controller.

    Args:
        predictor: a fitted ``PerformancePredictor(prefix=True, target="best")``, or None for rules only.
        config: the run's configuration (dict of run-table config columns), needed with a predictor.
        min_delta: the smallest gain in validation accuracy worth training for (0.005 = half a point, below
            the binomial noise of a 500-example validation set, sqrt(0.9 * 0.1 / 500) = 1.3 points).
        confidence: required confidence that the gain is below ``min_delta`` before stopping.
        min_epochs: never stop before this many epochs.
        patience: also stop after this many epochs without improvement (None: off).
        n_classes: classes of the task, for the chance level of the underfitting rule.
        min_std: floor of the predictive std of the gain: one example of a 500-example validation set.
    """

    def __init__(
        self,
        predictor: Any = None,
        config: dict[str, Any] | None = None,
        min_delta: float = 0.005,
        confidence: float = 0.95,
        min_epochs: int = 3,
        patience: int | None = None,
        n_classes: int = 10,
        min_std: float = 0.002,
    ) -> None:
        if predictor is not None and not getattr(predictor, "prefix", False):
            raise InputError("EarlyStopping needs PerformancePredictor(prefix=True, target='best') or None")
        if predictor is not None and config is None:
            raise InputError(
                "give the run's config (dict of config columns) so the predictor can featurize it"
            )
        if not 0.5 <= confidence < 1:
            raise InputError(f"confidence must be in [0.5, 1), got {confidence}")
        if n_classes < 2:
            raise InputError(f"n_classes must be >= 2, got {n_classes}")
        self.predictor = predictor
        self.config = dict(config or {})
        self.min_delta = float(min_delta)
        self.confidence = float(confidence)
        self.min_epochs = int(min_epochs)
        self.patience = patience
        self.n_classes = int(n_classes)
        self.min_std = float(min_std)
        self.history: list[dict[str, float]] = []
        self.best_epoch: int | None = None
        self.best_value = -math.inf
        self.stopped_epoch: int | None = None
        self.reason: str | None = None
        self.predicted_best: float | None = None
        self._model = None
        self._state = None

    @classmethod
    def from_corpus(
        cls,
        config: dict[str, Any],
        corpora: tuple[str, ...] | None = None,
        folder: str | None = None,
        **kwargs: Any,
    ) -> EarlyStopping:
        """A controller whose predictor is fitted on shipped corpora: by default the MetaPruner's, on the
        many-task corpus (``traindx.search.pruners.meta.default_predictor``); or on the named corpus parts
        (Parquet, see ``traindx.search.load_corpus``).

        Example:
            >>> es = EarlyStopping.from_corpus({"dataset": "mnist", "model": "mlp_small"})  # doctest: +SKIP
        """
        from traindx.search.corpus import load_corpus
        from traindx.search.pruners.meta import default_predictor, fit_prefix_predictor

        if corpora is None:
            return cls(predictor=default_predictor(), config=config, **kwargs)
        tables = [load_corpus(name, folder) for name in corpora]
        runs = pd.concat([t[0] for t in tables], ignore_index=True)
        curves = pd.concat([t[1] for t in tables], ignore_index=True)
        return cls(predictor=fit_prefix_predictor(runs, curves), config=config, **kwargs)

    def attach(self, model: Any) -> EarlyStopping:
        """Keep an in-memory copy of ``model``'s state at the best epoch, for :meth:`restore`."""
        self._model = model
        return self

    def restore(self) -> Any:
        """Load the best epoch's state into the attached model and return the model."""
        if self._model is None or self._state is None:
            raise InputError("nothing to restore; call attach(model) before the first update")
        self._model.load_state_dict(self._state)
        return self._model

    @property
    def improved(self) -> bool:
        """Whether the last update was the best epoch so far (save a checkpoint now)."""
        return bool(self.history) and self.best_epoch == self.history[-1]["epoch"]

    def update(self, epoch: int, **metrics: float) -> bool:
        """Record one epoch's metrics (``val_acc`` required; ``val_loss`` enables the overfitting rule).

        Returns True when the run should stop.
        """
        if "val_acc" not in metrics:
            raise InputError(
                "update needs val_acc=<validation accuracy>, e.g. es.update(epoch, val_acc=0.91)"
            )
        acc = float(metrics["val_acc"])
        if not math.isfinite(acc):
            raise InputError(f"val_acc at epoch {epoch} is {acc}; pass a finite accuracy in [0, 1]")
        self.history.append({"epoch": int(epoch), **{k: float(v) for k, v in metrics.items()}})
        if acc > self.best_value:
            self.best_value, self.best_epoch = acc, int(epoch)
            if self._model is not None:
                self._state = copy.deepcopy(self._model.state_dict())
        reason = self._decide()
        if reason is not None:
            self.stopped_epoch, self.reason = int(epoch), reason
        return reason is not None

    def _decide(self) -> str | None:
        n = len(self.history)
        if n < self.min_epochs:
            return None
        acc = np.array([h["val_acc"] for h in self.history])
        since_best = self.history[-1]["epoch"] - self.best_epoch
        if self.patience is not None and since_best >= self.patience:
            return "patience"
        recent = acc[-STALL_EPOCHS:]
        chance = 1.0 / self.n_classes
        if n >= STALL_EPOCHS and (recent < chance + CHANCE_MARGIN).all() and recent[-1] <= recent[0]:
            return "underfitting"
        losses = [h.get("val_loss", math.nan) for h in self.history]
        if since_best >= STALL_EPOCHS and all(math.isfinite(v) for v in losses):
            gl = 100.0 * (losses[-1] / max(min(losses), 1e-12) - 1.0)
            if gl > GL_THRESHOLD:
                return "overfitting"
        if self.predictor is not None:
            config = {**self.config, "epochs": self.config.get("epochs", 26)}
            mean, std = self.predictor.predict_prefix(pd.DataFrame([config]), [acc], return_std=True)
            self.predicted_best = float(mean[0])
            p_gain = norm.sf(
                self.best_value + self.min_delta, loc=mean[0], scale=max(float(std[0]), self.min_std)
            )
            if p_gain < 1.0 - self.confidence:
                return "no_gain"
        return None
