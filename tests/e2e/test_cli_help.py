"""Every command explains itself with an example."""

import subprocess
import sys

import click
import pytest

from monitor.cli.main import main


def commands(group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from commands(cmd, prefix + (name,))


@pytest.mark.parametrize("path, cmd", list(commands(main)), ids=lambda x: " ".join(x) if isinstance(x, tuple) else "")
def test_every_command_has_help_with_an_example(path, cmd):
    """Staff learn a command from --help; a command without an example is unfinished."""
    assert cmd.help, f"monitor {' '.join(path)} has no help"
    if not isinstance(cmd, click.Group):
        assert "Example:" in cmd.help, f"monitor {' '.join(path)} help has no example"


def test_help_does_not_import_heavy_libraries():
    """`monitor --help` stays instant: pandas, SQLAlchemy, matplotlib load only when needed."""
    code = ("import sys; from click.testing import CliRunner; from monitor.cli.main import main; "
            "CliRunner().invoke(main, ['--help']); "
            "print(sorted(m for m in ('pandas', 'sqlalchemy', 'matplotlib', 'apscheduler', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
