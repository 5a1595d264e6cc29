"""Optional loaders for users with a network: ``openml:<id>`` and ``pmlb:<name>`` task names.

Both fetch a table through the source's own package (``pip install 'traindx[network]'``: ``openml``,
``pmlb``), cache it where that package caches, and turn it into a task like any other table
(:func:`traindx.experiments.tasks.table.from_frame`). Nothing else in traindx needs a network.

Example:
    >>> is_network_name("openml:31"), is_network_name("adult")
    (True, False)
"""

from __future__ import annotations

from traindx.errors import InputError, require
from traindx.experiments.tasks.base import Task, cache_dir
from traindx.experiments.tasks.table import from_frame

PREFIXES = ("openml:", "pmlb:")


def is_network_name(name: object) -> bool:
    """Whether ``name`` asks for a network loader."""
    return isinstance(name, str) and name.startswith(PREFIXES)


def load_network(name: str, target: str | None = None) -> Task:
    """Fetch ``openml:<dataset id>`` or ``pmlb:<dataset name>`` and make it a task."""
    kind, _, ref = name.partition(":")
    if not ref:
        raise InputError(f"{name!r} names no dataset; use e.g. openml:31 or pmlb:adult")
    try:
        if kind == "pmlb":
            pmlb = require("pmlb", "network")
            df = pmlb.fetch_data(ref, local_cache_dir=str(cache_dir("pmlb")))
            return from_frame(df, target or "target", name=name, source=f"PMLB {ref} (downloaded)")
        openml = require("openml", "network")
        if not ref.isdigit():
            raise InputError(f"openml tasks are named by dataset id, e.g. openml:31; got {name!r}")
        ds = openml.datasets.get_dataset(int(ref), download_data=True)
        df, *_ = ds.get_data()
        return from_frame(df, target or ds.default_target_attribute, name=name,
                          source=f"OpenML dataset {ref} ({ds.name})")  # fmt: skip
    except (OSError, ConnectionError) as exc:
        raise InputError(
            f"could not download {name} ({exc}); check the network, or save the table as CSV / Parquet and "
            "load that file"
        ) from exc
