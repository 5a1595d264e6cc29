"""A sweep described in a TOML file: fixed values, grids, listed cases and random sampling over any config key.

Format (every table optional; a spec either has top-level ``grid``/``cases``/``random`` or ``[[parts]]``)::

    name = "mnist_meta"
    [base]                    # keys shared by every run
    dataset = "mnist"
    epochs = 26
    [grid]                    # cartesian product of the lists
    model = ["logreg", "mlp_small"]
    seed = [0, 1, 2]
    [[cases]]                 # alternatives crossed with the grid (each a dict of keys)
    shift = "none"
    [[cases]]
    shift = "noise"
    [random]                  # n random draws, crossed with grid x cases
    n = 10
    seed = 0
    lr = { log_uniform = [1e-4, 1e-1] }     # also: uniform, int_uniform, int_log_uniform, choice
    [[parts]]                 # several designs in one spec: each part has its own base/grid/cases/random
    name = "too_low_lr"
    base = { optimizer = "sgd", lr = 1e-4 }
    grid = { model = ["mlp_small"], seed = [0, 1] }
    [parts.factorial]         # orthogonal two-level blocks: each key healthy or applied (a value drawn from
    blocks = 4                # its list), in a Sylvester-Hadamard pattern, so within every complete block
    seed = 0                  # each key is applied in half the rows, pairwise uncorrelated, row 0 all healthy
    label_noise = { healthy = 0.0, applied = [0.2, 0.5] }
    order = "interleave"      # top level: runs alternate between parts (default "parts": one after another)

A part with a factorial table runs row by row (its grid and cases inside each row), and its [random] table
then needs no ``n``: draw i goes with row i.

A run's config is base, then the part's base, then the case, then the grid point, then the random draw.
Duplicate configs (same run id) are kept once. Every config is checked against the key table
(:mod:`traindx.experiments.keys`: unknown keys with a did-you-mean, types, ranges) before anything runs, and
an error from a file names its line. A spec that defines no run at all is an error.

Example:
    >>> spec = parse_spec({"base": {"dataset": "digits"}, "grid": {"seed": [0, 1]}})
    >>> [c["seed"] for c in spec.configs]
    [0, 1]
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from traindx.errors import InputError
from traindx.experiments.keys import BY_NAME, ConfigKeyError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_PART_KEYS = {"name", "base", "grid", "cases", "random", "factorial"}
_ORDERS = ("parts", "interleave")
_DISTS = ("choice", "uniform", "log_uniform", "int_uniform", "int_log_uniform")


@dataclass
class SweepSpec:
    """The expanded sweep: its name and one config dict per run (with its ``part`` name)."""

    name: str
    configs: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.configs)


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read and expand a TOML sweep spec.

    Example:
        >>> load_spec("examples/mnist_meta.toml").name  # doctest: +SKIP
        'mnist_meta'
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"sweep spec {p} not found; give the path of a .toml spec (see examples/)")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{p} is not UTF-8 text ({exc.reason} at byte {exc.start}); save the spec as UTF-8"
        ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{p} is not valid TOML ({exc}); fix the syntax") from None
    try:
        return parse_spec(data, default_name=p.stem)
    except ConfigKeyError as exc:
        line = _line_of(text, exc.key, exc.value)
        where = f"{p}, line {line}" if line else str(p)
        raise ConfigKeyError(f"{where}: {exc}", exc.key, exc.value) from None


def _line_of(text: str, key: str, value: Any = None) -> int | None:
    """The 1-based line where ``key`` is set in TOML ``text`` (the one showing ``value`` if several)."""
    pattern = re.compile(rf"(^|[{{,\s]){re.escape(key)}\s*=\s*(.*)$")
    hits = []
    for i, line in enumerate(text.splitlines(), start=1):
        code = line.split("#", 1)[0]
        m = pattern.search(code)
        if m:
            hits.append((i, m.group(2)))
    if not hits:
        return None
    if value is not None:
        shown = json.dumps(value) if not isinstance(value, bool) else str(value).lower()
        for i, rest in hits:
            if rest.lstrip("[").startswith(shown) or shown in rest:
                return i
    return hits[0][0]


def parse_spec(data: dict[str, Any], default_name: str = "sweep") -> SweepSpec:
    """Expand a parsed spec (a dict shaped like the TOML file) into run configs, validating every one."""
    from traindx.experiments.runner import run_id

    if not isinstance(data, dict):
        raise InputError(f"a sweep spec is a table of key = value, got {type(data).__name__}")
    for key in data:
        if key not in _PART_KEYS | {"parts", "order"}:
            raise _unknown_section(key, "top-level key", [*_PART_KEYS, "parts", "order"])
    order = data.get("order", "parts")
    if order not in _ORDERS:
        raise InputError(f"order must be one of {', '.join(_ORDERS)}, got {order!r}")
    if not any(data.get(k) for k in ("base", "grid", "cases", "random", "parts")):
        raise InputError(
            "sweep spec is empty: it defines no run; give run keys in [base] (e.g. dataset, model, epochs) "
            "and what varies in [grid], [[cases]], [random] or [[parts]] (see examples/)"
        )
    if not isinstance(data.get("name", ""), str):
        raise InputError(f"spec name must be a string, got {data['name']!r}")
    base = _table(data.get("base", {}), "base")
    parts = data.get("parts")
    if parts is not None and (not isinstance(parts, list) or not all(isinstance(q, dict) for q in parts)):
        raise InputError("parts must be an array of tables ([[parts]])")
    if parts is None:
        parts = [{k: v for k, v in data.items() if k in ("grid", "cases", "random", "factorial")}]
    elif any(k in data for k in ("grid", "cases", "random", "factorial")):
        raise InputError(
            "sweep spec has both [[parts]] and top-level grid/cases/random; move them into a part"
        )
    configs: list[dict[str, Any]] = []
    seen: set[str] = set()
    named = "parts" in data  # only a spec of several parts names the part in its errors
    expanded = []
    for i, part in enumerate(parts):
        pname = str(part.get("name", f"part{i}"))
        for key in part:
            if key not in _PART_KEYS:
                raise _unknown_section(key, f"key in part {pname!r}", _PART_KEYS)
        expanded.append((pname, _expand_part(part, pname)))
    if order == "interleave":  # round robin: a sweep stopped early has covered every part alike
        rounds = itertools.zip_longest(*(cfgs for _, cfgs in expanded))
        expanded = [(str(c["part"]), [c]) for row in rounds for c in row if c is not None]
    for pname, cfgs in expanded:
        where = f"part {pname!r}: " if named else ""
        for cfg in cfgs:
            full = {**base, **cfg}
            try:
                rid = run_id(full)
            except ConfigKeyError as exc:
                raise ConfigKeyError(f"{where}{exc}", exc.key, exc.value) from None
            except InputError as exc:
                raise InputError(f"{where}{exc}") from None
            if rid not in seen:
                seen.add(rid)
                configs.append(full)
    if not configs:
        raise InputError("sweep spec expands to no runs; give at least one grid value or case")
    return SweepSpec(str(data.get("name", default_name)), configs)


def _unknown_section(key: str, what: str, known) -> InputError:
    if key in BY_NAME:  # a run key outside any table: it belongs in [base]
        return ConfigKeyError(f"{key!r} is a run key: put it under [base] (or a grid, case or part)", key)
    near = difflib.get_close_matches(str(key), list(known), n=1)
    hint = f"did you mean {near[0]!r}? " if near else ""
    return ConfigKeyError(f"unknown {what} {key!r}; {hint}use {', '.join(sorted(known))}", str(key))


def _table(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a table of key = value, got {type(value).__name__}")
    return value


def _expand_part(part: dict[str, Any], pname: str) -> list[dict[str, Any]]:
    pbase = _table(part.get("base", {}), f"part {pname!r} base")
    grid = _table(part.get("grid", {}), f"part {pname!r} grid")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise InputError(f"part {pname!r}: grid key {key!r} needs a non-empty list, e.g. {key} = [1, 2]")
    cases = part.get("cases", [{}])
    if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
        raise InputError(f"part {pname!r}: cases must be an array of tables ([[cases]])")
    keys = list(grid)
    out = []
    if part.get("factorial") is not None:
        rows = _factorial_rows(part["factorial"], pname)
        draws = _random_draws(part.get("random"), pname, n=len(rows))
        for row, draw in zip(rows, draws, strict=True):
            for case in cases:
                for point in itertools.product(*(grid[k] for k in keys)):
                    out.append({**pbase, **case, **dict(zip(keys, point, strict=True)), **draw, **row,
                                "part": pname})  # fmt: skip
        return out
    draws = _random_draws(part.get("random"), pname)
    for case in cases:
        for point in itertools.product(*(grid[k] for k in keys)):
            for draw in draws:
                out.append({**pbase, **case, **dict(zip(keys, point, strict=True)), **draw, "part": pname})
    return out


def _factorial_rows(fact: Any, pname: str) -> list[dict[str, Any]]:
    """Rows of orthogonal two-level blocks: column j of a Sylvester-Hadamard matrix (j >= 1) says whether key j
    is applied, so in a complete block each key is applied in exactly half of the rows, every pair of keys is
    uncorrelated, and row 0 applies nothing (a healthy baseline). Applied values are drawn from their lists."""
    fact = dict(_table(fact, f"part {pname!r} factorial"))
    blocks, seed = fact.pop("blocks", None), fact.pop("seed", 0)
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 1:
        raise InputError(f"part {pname!r}: [factorial] needs blocks = <number of blocks >= 1>")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"part {pname!r}: [factorial] seed must be a whole number >= 0, got {seed!r}")
    for key, spec in fact.items():
        ok = isinstance(spec, dict) and set(spec) == {"healthy", "applied"}
        if not ok or not isinstance(spec["applied"], list) or not spec["applied"]:
            raise InputError(
                f"part {pname!r}: factorial key {key!r} needs {{ healthy = <value>, applied = [<values>] }}"
            )
    if not fact:
        raise InputError(f"part {pname!r}: [factorial] lists no keys to vary")
    size = 1
    while size <= len(fact):
        size *= 2
    h = np.ones((1, 1), dtype=int)
    while len(h) < size:
        h = np.block([[h, h], [h, -h]])
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(blocks):
        for r in range(size):
            row = {}
            for j, (key, spec) in enumerate(fact.items(), start=1):
                applied = spec["applied"]
                row[key] = applied[int(rng.integers(len(applied)))] if h[r, j] < 0 else spec["healthy"]
            rows.append(row)
    return rows


def _random_draws(rand: Any, pname: str, n: int | None = None) -> list[dict[str, Any]]:
    if rand is None:
        return [{}] if n is None else [{} for _ in range(n)]
    rand = dict(_table(rand, f"part {pname!r} random"))
    if n is not None:  # one draw per factorial row
        if rand.get("n", n) != n:
            raise InputError(f"part {pname!r}: with [factorial], [random] takes its n from the rows; drop n")
        rand["n"] = n
    n = rand.pop("n", None)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"part {pname!r}: [random] needs n = <number of draws >= 1>")
    seed = rand.pop("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"part {pname!r}: [random] seed must be a whole number >= 0, got {seed!r}")
    rng = np.random.default_rng(seed)
    draws = [{} for _ in range(n)]
    for key, dist in rand.items():
        if not isinstance(dist, dict) or len(dist) != 1 or next(iter(dist)) not in _DISTS:
            raise InputError(
                f"part {pname!r}: random key {key!r} needs one distribution, e.g. "
                f"{key} = {{ log_uniform = [1e-4, 1e-1] }}; known: {', '.join(_DISTS)}"
            )
        kind, arg = next(iter(dist.items()))
        for d in draws:
            d[key] = _draw(rng, kind, arg, key, pname)
    return draws


def _draw(rng: np.random.Generator, kind: str, arg: Any, key: str, pname: str) -> Any:
    if kind == "choice":
        if not isinstance(arg, list) or not arg:
            raise InputError(f"part {pname!r}: {key} choice needs a non-empty list")
        return arg[int(rng.integers(len(arg)))]
    numeric = all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in arg or [None])
    if not (isinstance(arg, list) and len(arg) == 2 and numeric) or not all(map(math.isfinite, arg)):
        raise InputError(f"part {pname!r}: {key} {kind} needs [low, high], two finite numbers")
    lo, hi = arg
    if lo > hi:
        raise InputError(f"part {pname!r}: {key} {kind} needs low <= high, got [{lo}, {hi}]")
    if kind.endswith("log_uniform") and (lo <= 0 or hi <= 0):
        raise InputError(f"part {pname!r}: {key} {kind} needs positive bounds")
    if kind == "uniform":
        return float(rng.uniform(lo, hi))
    if kind == "log_uniform":
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    if kind == "int_uniform":
        return int(rng.integers(int(lo), int(hi) + 1))
    return int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))
