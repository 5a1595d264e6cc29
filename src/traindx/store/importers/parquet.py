"""Import Parquet: a tidy curve table, a corpus's ``<name>_epochs.parquet`` (its run table from the
``<name>_runs.parquet`` beside it), or a folder of them or of ``RunStore.export_parquet`` output.

Example:
    >>> import tempfile, pandas as pd
    >>> path = tempfile.mkdtemp() + "/curves.parquet"
    >>> pd.DataFrame({"run_id": ["a"], "epoch": [1], "val_acc": [0.5]}).to_parquet(path)
    >>> runs, curves = ParquetImporter().load(path)
    >>> runs["run_id"].tolist()
    ['a']
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from traindx.store.importers.base import Importer, as_path, header


class ParquetImporter(Importer):
    name = "parquet"
    reads = "a Parquet curve table, or a folder of Parquet files (a corpus, RunStore.export_parquet)"

    def accepts(self, source: Any) -> bool:
        path = as_path(source)
        if path is None:
            return False
        if path.is_dir():
            return any(path.glob("*.parquet"))
        return header(path).startswith(b"PAR1")

    def load(self, source: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        from traindx.store.load import _parquet_file, _parquet_folder

        path = as_path(source)
        return _parquet_folder(path) if path.is_dir() else _parquet_file(path)
