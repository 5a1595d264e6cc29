"""The ``traindx`` command line: one typer app, one module per command.

Each command parses its arguments, calls the library and renders the result; the library itself never prints.
Commands register on :data:`app` in their own module (``demo``, ``sweep``, ``diagnose``, ``mdtree``,
``suggest``, ``monitor-report``, ``tasks``) through :func:`traindx.cli.app.command`, which also gives them the
shared error handling.

Example:
    $ traindx --help
"""

from __future__ import annotations

from traindx.cli import (  # noqa: F401  (registers the commands)
    demo,
    diagnose,
    mdtree,
    monitor_report,
    suggest,
    sweep,
    tasks,
)  # fmt: skip
from traindx.cli.app import app, mdtree_app

__all__ = ["app", "mdtree_app"]
