"""Import a traindx run store: a DuckDB file written by ``traindx sweep --store`` (recognised by its header).

A DuckDB database that is not a run store is refused before anything is written to it.

Example:
    >>> import tempfile
    >>> from traindx.store.runstore import RunStore
    >>> path = tempfile.mkdtemp() + "/runs.duckdb"
    >>> import pandas as pd
    >>> RunStore(path).write_run({"run_id": "r1"}, pd.DataFrame({"epoch": [1], "val_acc": [0.5]}))
    >>> StoreImporter().accepts(path)
    True
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from traindx.store.importers.base import Importer, as_path, header

_DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file


class StoreImporter(Importer):
    name = "store"
    reads = "a traindx run store (DuckDB file, any suffix)"

    def accepts(self, source: Any) -> bool:
        path = as_path(source)
        return path is not None and path.is_file() and header(path)[8:12] == _DUCKDB_MAGIC

    def load(self, source: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        from traindx.store.load import _read_store

        return _read_store(as_path(source))
