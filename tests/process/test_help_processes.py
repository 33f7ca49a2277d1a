"""`monitor … --help` for every command and subcommand, each in its own process.

The in-process checks (tests/e2e/test_cli_help.py) cover the example text and that `--help`
imports no heavy library; here the installed entry point must answer at a terminal's pace.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.process.commands import MONITOR, user_env
from tests.process.test_help_examples import COMMANDS

HELP_WITHIN_S = 1.0


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(("monitor",) + p))
def test_help_answers_within_a_second(path, tmp_path):
    """Staff type --help to find their way; it must answer at once, with a description, anywhere."""
    started = time.monotonic()
    done = subprocess.run([str(MONITOR), *path, "--help"], cwd=tmp_path, capture_output=True, text=True,
                          env=user_env(), timeout=30)
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.startswith(f"Usage: monitor {' '.join(path)}".rstrip())
    description = done.stdout.split("\n\n", 2)[1].strip()
    assert description and not description.startswith("Options:"), done.stdout
    assert seconds < HELP_WITHIN_S, f"`monitor {' '.join(path)} --help` took {seconds:.2f} s"
    assert list(tmp_path.iterdir()) == [], "--help wrote a file"
