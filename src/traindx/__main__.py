"""``python -m traindx``: the same command line as ``traindx``."""

from traindx.cli import app

app(prog_name="traindx")
