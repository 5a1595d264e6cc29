"""The run-config keys: one declarative table of every key a run config (and so a sweep spec) may hold.

Each :class:`Key` row gives the name, type, allowed range or choices, default and a one-line doc. The runner
fills in defaults from this table and :func:`check_config` validates a config against it before anything
runs: unknown keys (with a did-you-mean), wrong types (``epochs = 2.7``, ``epochs = true``, ``epochs =
"two"``) and values out of range (``val_size = -10``) are errors that name the key and the fix.

To add a key, add one row to :data:`KEYS`. A new key must use ``in_id=False`` unless every stored run id may
change: a key left out of a config then stays out of the canonical config, so runs recorded before the key
existed keep their ids (the key enters the id only where a config gives it).

Example:
    >>> check_config({"epochs": 2.0, "lr": 0.01})
    {'epochs': 2, 'lr': 0.01}
    >>> check_config({"epcohs": 2})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    traindx.experiments.keys.ConfigKeyError: unknown key 'epcohs'; did you mean 'epochs'? ...
"""

from __future__ import annotations

import difflib
import importlib
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from traindx.errors import InputError

KINDS = ("int", "float", "str", "bool")
_KIND_WORDS = {"int": "a whole number", "float": "a number", "str": "a string", "bool": "true or false"}


class ConfigKeyError(InputError):
    """A run-config key is unknown or its value has the wrong type or range; ``key`` and ``value`` say which."""

    def __init__(self, message: str, key: str, value: Any = None) -> None:
        super().__init__(message)
        self.key = key
        self.value = value


def _lazy(module: str, attr: str) -> Callable[[], Sequence[str]]:
    """Choices read from ``module.attr`` when first needed, so the table never copies a registry's names."""

    def get() -> Sequence[str]:
        return tuple(getattr(importlib.import_module(module), attr))

    return get


@dataclass(frozen=True)
class Key:
    """One run-config key.

    ``kind`` is one of :data:`KINDS`; ``low``/``high`` bound numbers (``low_open``/``high_open`` make a bound
    strict); ``choices`` (a sequence, or a function returning one) lists the allowed strings; ``nullable``
    lets the value be omitted and resolved later (say a model's default width). ``in_id=False`` leaves an
    omitted key out of the canonical config (see the module doc); ``label=True`` marks a key that names a run
    without changing what is trained (never hashed into the run id).
    """

    name: str
    kind: str
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: Sequence[str] | Callable[[], Sequence[str]] | None = None
    nullable: bool = False
    in_id: bool = True
    label: bool = False

    def allowed(self) -> tuple[str, ...] | None:
        """The allowed values of a choice key, or None."""
        if self.choices is None:
            return None
        return tuple(self.choices() if callable(self.choices) else self.choices)

    def describe_range(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return " and ".join(parts)

    def check(self, value: Any) -> Any:
        """The value converted to the key's type (``2.0`` -> ``2`` for an int key); raises ConfigKeyError."""
        if value is None and self.nullable:
            return None
        value = _convert(self, value)
        choices = self.allowed()
        if choices is not None and value not in choices:
            near = difflib.get_close_matches(str(value), choices, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise ConfigKeyError(
                f"unknown {self.name} {value!r}; {hint}use one of {', '.join(choices)}", self.name, value
            )
        if self.kind in ("int", "float"):
            lo_bad = self.low is not None and (value <= self.low if self.low_open else value < self.low)
            hi_bad = self.high is not None and (value >= self.high if self.high_open else value > self.high)
            if lo_bad or hi_bad:
                raise ConfigKeyError(
                    f"{self.name} must be {self.describe_range()}, got {value!r} ({self.doc})",
                    self.name,
                    value,
                )
        return value


def _convert(key: Key, value: Any) -> Any:
    bad = ConfigKeyError(
        f"{key.name} must be {_KIND_WORDS[key.kind]}, got {value!r} ({type(value).__name__}); "
        f"e.g. {key.name} = {_example(key)}",
        key.name,
        value,
    )
    if key.kind == "bool":
        if not isinstance(value, bool):
            raise bad
        return value
    if key.kind == "str":
        if not isinstance(value, str):
            raise bad
        return value
    # numbers: booleans are numbers to Python but never to a config (``epochs = true`` is a mistake)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise bad
    if not math.isfinite(float(value)):
        raise ConfigKeyError(f"{key.name} must be finite, got {value!r}", key.name, value)
    if key.kind == "int":
        if isinstance(value, numbers.Integral):
            return int(value)
        if float(value).is_integer():
            return int(value)
        raise bad
    return float(value)


def _example(key: Key) -> str:
    if key.default is not None:
        return repr(key.default).lower() if key.kind == "bool" else repr(key.default).replace("'", '"')
    return {"int": "1", "float": "0.5", "str": '"name"', "bool": "true"}[key.kind]


# Ranges: bounds where a value stops making sense (or crashes a step), not tuning advice.
KEYS: tuple[Key, ...] = (
    # a task name (checked against the task registry, with did-you-mean) or a CSV / TSV / Parquet path
    Key("dataset", "str", "mnist", "the task to train on: a name from `traindx tasks` or a table path"),
    Key("model", "str", "mlp_small", "the model family", choices=_lazy("traindx.experiments.models", "MODELS")),
    Key("width", "int", None, "hidden units (MLP) or channels (CNN); default per model", low=0, nullable=True),
    Key("depth", "int", None, "hidden layers or conv blocks; default per model", low=0, nullable=True),
    Key("activation", "str", "relu", "the hidden activation",
        choices=_lazy("traindx.experiments.models", "ACTIVATIONS")),
    Key("optimizer", "str", "adam", "the optimizer", choices=_lazy("traindx.experiments.vocabulary", "OPTIMIZERS")),
    Key("lr", "float", 1e-3, "the learning rate", low=0, low_open=True),
    Key("momentum", "float", 0.0, "SGD / RMSprop momentum", low=0, high=1, high_open=True),
    Key("batch_size", "int", 64, "examples per step", low=1),
    Key("weight_decay", "float", 0.0, "L2 weight decay", low=0),
    Key("epochs", "int", 26, "training epochs", low=1, high=100_000),
    Key("n_train", "int", 1000, "training examples drawn", low=1),
    Key("val_size", "int", 500, "validation examples held out (0: none)", low=0),
    Key("seed", "int", 0, "seed of every random draw of the run", low=0, high=2**32 - 1),
    Key("imbalance", "float", 1.0, "minority-class sampling rate (1: balanced)", low=0, high=1, low_open=True),
    Key("label_noise", "float", 0.0, "fraction of training labels randomised", low=0, high=1),
    Key("shift", "str", "none", "test-time shift", choices=_lazy("traindx.experiments.conditions", "SHIFTS")),
    Key("shift_strength", "float", None, "shift strength; default per shift", low=0, nullable=True),
    Key("eval_subset", "int", 1000, "examples evaluated per split and epoch", low=1),
    Key("val_balanced", "bool", False, "draw an imbalanced run's validation set with the test split's class priors", in_id=False),
    Key("target", "str", None, "label column of a table task (dataset = a CSV / Parquet path)", nullable=True,
        in_id=False),
    Key("capacity", "str", None, "model size as a multiple of the family's default width", nullable=True,
        choices=_lazy("traindx.experiments.vocabulary", "CAPACITY"), in_id=False),
    Key("dropout", "float", 0.0, "dropout probability", low=0, high=1, high_open=True, in_id=False),
    Key("norm", "str", "none", "normalization layers", choices=_lazy("traindx.experiments.vocabulary", "NORMS"),
        in_id=False),
    Key("schedule", "str", "constant", "learning-rate schedule per epoch",
        choices=_lazy("traindx.experiments.vocabulary", "SCHEDULES"), in_id=False),
    Key("lr_scale", "float", 1.0, "multiplies lr (a design's 'how far off')", low=0, low_open=True, in_id=False),
    Key("train_fraction", "float", 1.0, "fraction of the drawn training set used", low=0, high=1, low_open=True,
        in_id=False),
    Key("cap_to_task", "bool", False, "n_train / val_size are caps: a smaller task uses 3/4 for train, 1/4 val",
        in_id=False),
    Key("signals", "bool", False, "record gradient / weight / update norms once per epoch", in_id=False),
    Key("part", "str", None, "the spec part a run came from (a label)", nullable=True, in_id=False, label=True),
)  # fmt: skip

BY_NAME: dict[str, Key] = {k.name: k for k in KEYS}


def defaults() -> dict[str, Any]:
    """The defaults every canonical config starts from (keys with ``in_id=True``).

    Example:
        >>> defaults()["epochs"]
        26
    """
    return {k.name: k.default for k in KEYS if k.in_id}


def label_keys() -> frozenset[str]:
    """Keys that label a run without changing what is trained (not hashed)."""
    return frozenset(k.name for k in KEYS if k.label)


def unknown_key_error(name: str) -> ConfigKeyError:
    """The error for a key not in :data:`KEYS`, with the closest known key as a suggestion."""
    near = difflib.get_close_matches(str(name), list(BY_NAME), n=1, cutoff=0.6)
    hint = f"did you mean {near[0]!r}? " if near else ""
    return ConfigKeyError(f"unknown key {name!r}; {hint}known keys: {', '.join(BY_NAME)}", str(name))


def check_config(config: dict[str, Any]) -> dict[str, Any]:
    """Validate every key of ``config``; returns the values converted to their types (``None`` kept).

    Raises :class:`ConfigKeyError` (an ``InputError``) naming the first bad key.
    """
    out: dict[str, Any] = {}
    for name, value in config.items():
        key = BY_NAME.get(name)
        if key is None:
            raise unknown_key_error(name)
        out[name] = None if value is None else key.check(value)
    return out
