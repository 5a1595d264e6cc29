"""The contract every monitor indicator follows: one quantity, its codes, thresholds with sources, advice.

An indicator is a small stateful object. The :class:`~traindx.monitor.Monitor` creates one of each entry in
``traindx.monitor.indicators.REGISTRY``, asks it what it needs sampled (``needs``), and calls
:meth:`Indicator.update` with the values of the events it listens to (``events``). The indicator judges them
and reports through its context: ``ctx.status`` (the light in the live table), ``ctx.record`` (a row of the
signal record) and ``ctx.fire`` (a finding). It never touches the model, the optimizer or the device: the
monitor does the one batched device-to-host read and hands plain floats over.

Events (what ``values`` holds):

- ``"start"``: the first sampled step; ``init_scales`` [(layer, std*sqrt(fan_in))], ``missing_from_optimizer``.
- ``"loss"``: each step's loss as it reaches the host; ``step``, ``loss``.
- ``"sample"``: a sampled step; the quantities in :data:`SAMPLED` that some indicator needs.
- ``"update"``: the first optimizer step after a parameter snapshot; ``ratios`` [(name, dim, ratio)],
  ``changed`` [bool], ``stepped`` [bool: held by the optimizer at lr > 0], ``unchanged_checks``,
  ``since_snapshot``, ``with_optimizer`` and ``grad_reused``.
- ``"epoch"``: ``Monitor.epoch_end``'s metrics (``train_loss``, ``val_loss``, ``train_acc``, ``val_acc``).

Example:
    >>> class Always(Indicator):
    ...     name = "always"
    ...     codes = {"plateau": ("a cause", "a fix")}
    ...     events = frozenset({"loss"})
    ...     def update(self, ctx, values):
    ...         ctx.status("ok", values["loss"], "seen")
    >>> Always().describe()["codes"]
    ['plateau']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

#: Quantities the monitor can sample (``Indicator.needs``); each costs device work only when needed.
SAMPLED: dict[str, str] = {
    "grad_norm": "global gradient norm and the number of parameters with a gradient",
    "layer_grads": "per weight layer (Linear/Conv): gradient norm, size and weight norm, in forward order",
    "grad_uniformity": "mean|g|/std(g) of the last weight layer's gradient",
    "relu": "share of dead units per ReLU output (forward hooks)",
    "saturation": "share of tanh/sigmoid outputs in the flat tails (forward hooks)",
    "input": "root-mean-square of the model's float input (forward pre-hook)",
    "output": "whether the model's output rows are probability vectors, their width and the mean largest "
    "softmax probability of its rows (forward hook)",
    "modes": "train/eval mode of the model and its mode-dependent modules (Dropout, BatchNorm)",
    "snapshot": "a copy of the trained parameters, compared after the next optimizer step",
}
EVENTS = frozenset({"start", "loss", "sample", "update", "epoch"})


@dataclass(frozen=True)
class Threshold:
    """A number a rule compares with, and where it comes from (a paper, or a measurement and its command).

    Example:
        >>> Threshold(20.0, "measured: healthy runs stay within 5x").value
        20.0
    """

    value: float
    source: str


class Indicator:
    """Base class: subclasses set the class attributes and implement :meth:`update`.

    Attributes:
        name: the indicator's row in the live table (unique, snake_case).
        codes: finding code -> (likely cause, advice) for every code it may fire.
        events: the events it listens to (see the module docstring).
        needs: the sampled quantities it reads (keys of :data:`SAMPLED`).
        thresholds: name -> :class:`Threshold`; every number a rule compares with, with its source.
    """

    name: ClassVar[str] = ""
    codes: ClassVar[Mapping[str, tuple[str, str]]] = {}
    events: ClassVar[frozenset[str]] = frozenset()
    needs: ClassVar[frozenset[str]] = frozenset()
    thresholds: ClassVar[Mapping[str, Threshold]] = {}

    def off_reason(self, model: Any) -> str | None:
        """Why the indicator does not apply to this model (``model`` is the monitor's probe), or None."""
        return None

    def update(self, ctx: Any, values: Mapping[str, Any]) -> None:
        """Judge one event's values; report through ``ctx`` (status, record, fire)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """A plain summary (for docs and contract tests)."""
        return {
            "name": self.name,
            "codes": sorted(self.codes),
            "events": sorted(self.events),
            "needs": sorted(self.needs),
            "thresholds": {k: (t.value, t.source) for k, t in self.thresholds.items()},
        }

    def t(self, key: str) -> float:
        """The value of threshold ``key``."""
        return self.thresholds[key].value
