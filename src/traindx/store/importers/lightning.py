"""Import PyTorch Lightning ``CSVLogger`` folders: ``lightning_logs/version_<n>/metrics.csv``.

Pass ``lightning_logs/`` (every ``version_*`` is a run, named by its version), a folder above it (runs named by
their path below it, e.g. ``my_model/version_0``), one version folder, or a ``metrics.csv``. ``metrics.csv`` has
one row per logging call (``epoch``, ``step`` and whatever that call logged); Lightning counts epochs from 0, so
they are shifted by one. Each metric is averaged over its rows in an epoch: a value logged every step
(``self.log("train_loss", loss)`` in ``training_step``) becomes its epoch mean, a value logged once per epoch
(``on_epoch=True``, validation metrics) stays as logged. Where a metric was logged both ways
(``train_loss_step`` and ``train_loss_epoch``) the epoch value is used. ``hparams.yaml`` beside ``metrics.csv``
(``self.save_hyperparameters()``) goes into the run table.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> version = Path(tempfile.mkdtemp()) / "lightning_logs" / "version_0"
    >>> version.mkdir(parents=True)
    >>> _ = (version / "metrics.csv").write_text(
    ...     "epoch,step,train_loss,val_acc\\n0,0,0.9,\\n0,1,0.7,\\n0,1,,0.6\\n1,2,0.5,\\n1,3,0.3,\\n1,3,,0.8\\n")
    >>> runs, curves = load_lightning(version.parent)
    >>> curves.to_dict("list")
    {'run_id': ['version_0', 'version_0'], 'epoch': [1, 2], 'val_acc': [0.6, 0.8], 'train_loss': [0.8, 0.4]}
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from traindx.errors import InputError
from traindx.store.importers.base import Importer, as_path, read_text
from traindx.store.importers.history import epoch_means

METRICS_FILE = "metrics.csv"
_VERSION = re.compile(r"^version_\d+")


def metrics_files(root: Path) -> list[Path]:
    """The ``metrics.csv`` files a path stands for, sorted by version number."""
    if root.is_file():
        return [root]
    if (root / METRICS_FILE).is_file():
        return [root / METRICS_FILE]
    found = [p for p in root.rglob(METRICS_FILE) if _VERSION.match(p.parent.name)]

    def order(p: Path) -> tuple:
        return (p.parent.parent.as_posix(), int(re.findall(r"\d+", p.parent.name)[0]), p.parent.name)

    return sorted(found, key=order)


def _run_id(path: Path, root: Path) -> str:
    folder = path.parent
    if root.is_dir() and folder != root and root in folder.parents:
        return folder.relative_to(root).as_posix()
    return folder.name if _VERSION.match(folder.name) else path.stem


def _hparams(folder: Path) -> dict:
    path = folder / "hparams.yaml"
    if not path.is_file():
        return {}
    try:
        import yaml
    except ImportError:  # PyYAML comes with Lightning; without it only the hyperparameters are missing
        return {}
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return {}  # hyperparameters Lightning saved as Python objects: the curves still load
    if not isinstance(loaded, dict):
        return {}
    return {str(k): v for k, v in loaded.items() if isinstance(v, (int, float, str, bool)) or v is None}


def _read_metrics(path: Path, run_id: str) -> pd.DataFrame:
    text = read_text(path)
    try:
        rows = pd.read_csv(io.StringIO(text))
    except pd.errors.EmptyDataError:
        raise InputError(
            f"{path} is empty: the run stopped before Lightning wrote its first log (it writes every "
            "log_every_n_steps steps and at the end of each epoch); train at least one epoch"
        ) from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{path} is not a readable CSV ({exc}); the file may be damaged") from None
    if "epoch" not in rows.columns:
        raise InputError(
            f"{path} has no 'epoch' column (columns seen: {list(rows.columns)[:10]}); Lightning's CSVLogger "
            "writes one, so this is not its metrics.csv: load it as a plain CSV with an epoch column"
        )
    epoch = pd.to_numeric(rows["epoch"], errors="coerce")
    if epoch.notna().any() and epoch.min() == 0:
        epoch = epoch + 1
    return rows.drop(columns=["epoch"]).assign(run_id=run_id, epoch=epoch)


def load_lightning(source: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read Lightning CSVLogger output (see module doc) into ``(runs, curves)``."""
    root = Path(source)
    files = metrics_files(root)
    if not files:
        raise InputError(
            f"no version_*/metrics.csv under {root}; pass the lightning_logs folder of a Trainer that used "
            "CSVLogger (lightning.pytorch.loggers.CSVLogger)"
        )
    runs, curves = [], []
    for path in files:
        run_id = _run_id(path, root)
        curves.append(epoch_means(_read_metrics(path, run_id), source=str(path)))
        runs.append({"run_id": run_id, "source": "lightning", **_hparams(path.parent)})
    table = pd.concat(curves, ignore_index=True)
    table["epoch"] = table["epoch"].astype("int64")
    return pd.DataFrame(runs), table


class LightningImporter(Importer):
    name = "lightning"
    reads = (
        "a Lightning lightning_logs/ folder (every version_*/metrics.csv), one version, or its metrics.csv"
    )

    def accepts(self, source: Any) -> bool:
        path = as_path(source)
        if path is None:
            return False
        if path.is_file():
            return path.name == METRICS_FILE and _VERSION.match(path.parent.name) is not None
        if (path / METRICS_FILE).is_file():
            return _VERSION.match(path.name) is not None
        return any(path.glob(f"version_*/{METRICS_FILE}")) or any(path.glob(f"*/version_*/{METRICS_FILE}"))

    def load(self, source: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        return load_lightning(source)
