"""The command line as a whole: ``python -m traindx``, and the shared error wrapper."""

import subprocess
import sys

from typer.testing import CliRunner

from traindx.cli import app


def test_python_m_traindx_lists_every_command():
    out = subprocess.run(
        [sys.executable, "-m", "traindx", "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    for name in ("demo", "sweep", "diagnose", "mdtree", "suggest"):
        assert name in out.stdout


def test_non_utf8_spec_is_one_message_not_a_traceback(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_bytes(b"name = '\xff\xfe'\n")
    result = CliRunner().invoke(app, ["sweep", str(spec), "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_debug_shows_the_underlying_error(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_bytes(b"name = '\xff\xfe'\n")
    result = CliRunner().invoke(app, ["--debug", "sweep", str(spec), "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code != 0
    assert isinstance(result.exception.__cause__, UnicodeDecodeError)  # the traceback shows the decode error


def test_version_comes_from_the_package():
    import traindx

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"traindx {traindx.__version__}"


def test_every_command_help_shows_an_example():
    commands = [
        ["demo"],
        ["sweep"],
        ["diagnose"],
        ["suggest"],
        ["mdtree"],
        ["mdtree", "fit"],
        ["mdtree", "diagnose"],
        ["monitor-report"],
        ["tasks"],
    ]
    for cmd in commands:
        result = CliRunner().invoke(app, [*cmd, "--help"])
        assert result.exit_code == 0, (cmd, result.output)
        assert "Example: traindx " + cmd[0] in result.output, cmd
