"""The contract every importer keeps: say whether it reads a source, and read it into ``(runs, curves)``.

An importer is one small class in its own module, listed once in :data:`traindx.store.importers.IMPORTERS`.
``tdx.load_runs`` asks each in turn whether it ``accepts`` the source and loads with the first that does; the
``traindx diagnose --help`` text and the "what can I pass" part of error messages are built from the same list.

``accepts`` must be cheap (a suffix, a file header, a folder listing) and must not raise: a source it cannot
tell is someone else's. ``load`` returns the run table (one row per ``run_id``) and a tidy curve table (``run_id``,
1-based ``epoch``, any of the metric columns); ``tdx.load_runs`` validates both afterwards, so ``load`` only
raises :class:`~traindx.errors.InputError` for what it alone can tell (a truncated file, a missing field).

Example:
    >>> import pandas as pd
    >>> class Lines(Importer):
    ...     name, reads = "lines", "a .lines file: one validation accuracy per line"
    ...     def accepts(self, source):
    ...         return str(source).endswith(".lines")
    ...     def load(self, source):
    ...         acc = [float(v) for v in open(source)]
    ...         curves = pd.DataFrame({"run_id": "r", "epoch": range(1, len(acc) + 1), "val_acc": acc})
    ...         return runs_of(curves, self.name), curves
    >>> Lines().accepts("run.lines"), Lines().describe()
    (True, 'lines: a .lines file: one validation accuracy per line')
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from traindx.errors import InputError

_URI = re.compile(r"^(mlflow:|[a-z][a-z0-9+.-]+://)", re.IGNORECASE)


class Importer:
    """One source format. Subclasses set ``name`` and ``reads`` and implement ``accepts`` and ``load``."""

    name: str = ""
    reads: str = ""  # what a user passes, in a few words, for the help text and error messages

    def accepts(self, source: Any) -> bool:
        """True when this importer reads ``source``; cheap and never raising."""
        raise NotImplementedError

    def load(self, source: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Read ``source`` into ``(runs, curves)``."""
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.name}: {self.reads}"


def as_path(source: Any) -> Path | None:
    """``source`` as an existing path, or None (not path-like, or not there)."""
    if not isinstance(source, (str, os.PathLike)) or (isinstance(source, str) and _URI.match(source)):
        return None  # "mlflow:sqlite:///x", "http://..." are not paths
    path = Path(source).expanduser()
    try:
        return path if path.exists() else None
    except OSError:
        return None


def header(path: Path, n: int = 16) -> bytes:
    """The first ``n`` bytes of a file (empty for a folder or an unreadable file)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError:
        return b""


def runs_of(curves: pd.DataFrame, source: str) -> pd.DataFrame:
    """A run table with one row per run of ``curves`` and where it came from."""
    ids = pd.unique(curves["run_id"].astype(str)) if "run_id" in curves.columns else []
    return pd.DataFrame({"run_id": ids, "source": source})


_COMPRESSED = {".gz": "gzip", ".bz2": "bz2", ".xz": "lzma"}


def plain_suffix(path: Path) -> str:
    """The suffix that says the format, past a compression suffix: ``runs.csv.gz`` -> ``.csv``."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def plain_stem(path: Path) -> str:
    """The file name without its format and compression suffixes: ``runs.csv.gz`` -> ``runs``."""
    name = path.name
    for suffix in reversed(path.suffixes[-2:]):
        if suffix.lower() in (*_COMPRESSED, plain_suffix(path)) and name.lower().endswith(suffix.lower()):
            name = name[: -len(suffix)]
    return name or path.name


def read_bytes(path: Path) -> bytes:
    """A file's bytes, decompressed when its name ends in .gz, .bz2 or .xz; a truncated archive is an error."""
    data = path.read_bytes()
    module = _COMPRESSED.get(path.suffix.lower())
    if module is None:
        return data
    import importlib
    import lzma
    import zlib

    damaged = (EOFError, OSError, ValueError, zlib.error, lzma.LZMAError)  # cut short, or not that format
    try:
        return importlib.import_module(module).decompress(data)
    except damaged as exc:
        raise InputError(
            f"{path} is not a whole {module} archive ({exc}); the download or copy was cut short or damaged: fetch it again"
        ) from None


def decode_text(data: bytes, name: str) -> str:
    """Bytes as str: UTF-8 (a BOM is dropped) or UTF-16 with its BOM, else a clear error."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name} is not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}); save it as UTF-8, "
            f"e.g. iconv -f LATIN1 -t UTF-8 {Path(name).name} > fixed{''.join(Path(name).suffixes)}"
        ) from None


def read_text(path: Path) -> str:
    """A text file's content (decompressed, decoded as :func:`decode_text` says)."""
    return decode_text(read_bytes(path), str(path))
