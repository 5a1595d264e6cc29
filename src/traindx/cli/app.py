"""The typer apps every command registers on, and the one error wrapper they all share.

A command is a function in its own module under ``traindx.cli``, registered with :func:`command`. The wrapper
turns bad input (:class:`~traindx.errors.InputError`), unreadable files (``OSError``) and undecodable text
(``UnicodeDecodeError``) into one clear paragraph and exit status 2; ``traindx --debug CMD`` shows the
traceback instead.

Example:
    $ traindx --help
"""

from __future__ import annotations

import functools
from collections.abc import Callable
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
mdtree_app = typer.Typer(help="Loss-landscape model diagnosis (MD tree): fit a tree or diagnose a model.")
app.add_typer(mdtree_app, name="mdtree")

_STATE = {"debug": False}


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of an error."),
) -> None:
    """Diagnose neural-network training: live monitor, curve diagnosis, loss landscape, meta-learning."""
    _STATE["debug"] = debug


def fail(message: str) -> NoReturn:
    """Print an error paragraph (no traceback) and exit 2: bad input is the user's to fix, not a crash."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"a file is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 and retry"
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or exc} : {exc.filename}; check the path and its permissions"
    return str(exc)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command so that bad input ends in one message and exit 2, not a traceback (unless --debug)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (InputError, OSError, UnicodeDecodeError) as exc:
            if _STATE["debug"]:
                raise
            fail(_describe(exc))

    return wrapper


def command(
    on: typer.Typer = app, name: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn`` as a command of ``on`` behind :func:`guarded`."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        wrapped = guarded(fn)
        on.command(name)(wrapped)
        return wrapped

    return register
