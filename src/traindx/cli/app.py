"""The typer apps every command registers on, and the one error wrapper they all share.

A command is a function in its own module under ``traindx.cli``, registered with :func:`command`. The wrapper
turns bad input (:class:`~traindx.errors.InputError`), unreadable files (``OSError``) and undecodable or
corrupt files (text that is not UTF-8, broken JSON, Parquet or DuckDB files, truncated archives) into one clear
paragraph and exit status 2; ``traindx --debug CMD`` shows the traceback instead.

Output paths are checked before the work starts (:func:`output_file`, :func:`output_folder`) and written
through :func:`writing`, which replaces the target only once the whole file is written: a command that fails
leaves no partial output behind.

Example:
    $ traindx --help
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import typer

from traindx.errors import InputError

app = typer.Typer(
    name="traindx",
    help="Diagnose neural-network training: live monitor, curve diagnosis, loss landscape, meta-learning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
mdtree_app = typer.Typer(
    help="Loss-landscape model diagnosis (MD tree): fit a tree or diagnose a model.\n\n"
    "Example: traindx mdtree diagnose --model m.pt --arch m.json --data mnist",
    no_args_is_help=True,
)
app.add_typer(mdtree_app, name="mdtree")

_STATE = {"debug": False}


def _print_version(value: bool) -> None:
    if value:
        from traindx import __version__

        typer.echo(f"traindx {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of an error."),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Diagnose neural-network training: live monitor, curve diagnosis, loss landscape, meta-learning.

    Example: traindx demo --quick
    """
    _STATE["debug"] = debug


def fail(message: str) -> NoReturn:
    """Print an error paragraph (no traceback) and exit 2: bad input is the user's to fix, not a crash."""
    text = " ".join(str(message).split())  # one paragraph, whatever line breaks the cause carried
    typer.secho(f"error: {text}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _decode_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "this file is corrupt or not what it claims", from the readers we use."""
    import json
    import zlib

    kinds: list[type[BaseException]] = [UnicodeError, json.JSONDecodeError, zlib.error, EOFError]
    with contextlib.suppress(ImportError):
        import duckdb

        kinds.append(duckdb.Error)
    with contextlib.suppress(ImportError):
        import pyarrow

        kinds.append(pyarrow.ArrowException)
    if tomllib := _tomllib():
        kinds.append(tomllib.TOMLDecodeError)
    return tuple(kinds)


def _tomllib():
    try:
        import tomllib
    except ImportError:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            return None
    return tomllib


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"a file is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 and retry"
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or exc}: {exc.filename}; check the path and its permissions"
    if isinstance(exc, (InputError, OSError)):
        return str(exc)
    return (
        f"a file could not be read ({type(exc).__name__}: {exc}); it is corrupt, truncated or not the kind "
        "of file this option takes; check the path"
    )


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command so that bad input ends in one message and exit 2, not a traceback (unless --debug)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (InputError, OSError, *_decode_errors()) as exc:
            if _STATE["debug"]:
                raise
            fail(_describe(exc))

    return wrapper


def command(
    on: typer.Typer = app, name: str | None = None, cls: type | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn`` as a command of ``on`` behind :func:`guarded` (``cls``: its click command class)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        wrapped = guarded(fn)
        on.command(name, cls=cls)(wrapped)
        return wrapped

    return register


def at_least(value: int | None, low: int, option: str) -> None:
    """Refuse an option value below ``low`` before any work (``--max-eval 0`` would fail deep inside)."""
    if value is not None and value < low:
        raise InputError(f"{option} must be at least {low}, got {value}")


# --- output paths ------------------------------------------------------------------------------------------
def output_file(path: Path | None, option: str) -> Path | None:
    """Check that ``path`` can be written (parent folder exists and is writable; not a folder) before any work.

    Returns the path (``None`` passes through for an option not given).
    """
    if path is None:
        return None
    path = Path(path).expanduser()
    parent = path.parent
    if path.is_dir():
        raise InputError(f"{option} {path} is a folder; give a file path, e.g. {path / 'out'}")
    if not parent.is_dir():
        raise InputError(f"{option} {path}: folder {parent} does not exist; create it or pick another path")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"{option} {path} is not writable; pick a path you may write to")
    return path


def output_folder(path: Path | None, option: str) -> Path | None:
    """Check that folder ``path`` exists and is writable, or can be created (its parent exists), before work."""
    if path is None:
        return None
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"{option} {path} is a file, not a folder; give a folder path")
    probe = path if path.is_dir() else path.parent
    if not probe.is_dir():
        raise InputError(f"{option} {path}: folder {probe} does not exist; create it or pick another path")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path} is not writable; pick a folder you may write to")
    return path


@contextlib.contextmanager
def writing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.partial-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
