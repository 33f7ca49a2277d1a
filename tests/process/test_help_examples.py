"""Every `Example:` in every `--help`, run as written through the installed `monitor`.

Set-up: each command's example lines run in order in one fresh copy of the folder a user has
after `monitor demo` in a checkout (conftest.py `demo_workspace`): the demo cohort at the default
`monitor.db` (one nightly run done, so reminder 12 exists), `demo-output/`, the demo CSVs under
their README names (`patients.csv`, …) and at `data/demo/`, and `data/clinic.example.toml`.
Each line is one process; it must exit 0 without a traceback. `monitor daemon` is started, given
until its start-up log line, stopped with SIGTERM and must exit 0.

`monitor.cli.main` is imported here only to walk the command tree and read each help text.
A command without an `Example:` block fails.
"""

from __future__ import annotations

import click
import pytest

from monitor.cli import main
from tests.process.commands import run_block
from tests.process.conftest import demo_workspace, in_background, selected

KNOWN_FAILURES: dict[tuple[str, ...], str] = {}  # command path -> why it is expected to fail (none now)

SLOW = {("report", "patients")}  # 70 patient PDFs: ~35 s of CPU


def command_tree(group: click.Group, path: tuple[str, ...] = ()):
    yield path, group
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from command_tree(command, path + (name,))
        else:
            yield path + (name,), command


def examples(help_text: str) -> list[str]:
    """The indented lines after `Example:` up to the next blank line."""
    lines = help_text.splitlines()
    at = next((i for i, line in enumerate(lines) if line.strip() in ("Example:", "Examples:")), None)
    if at is None:
        return []
    found = []
    for line in lines[at + 1:]:
        if not line.strip() or not line.startswith(" "):
            break
        found.append(line.strip())
    return found


COMMANDS = list(command_tree(main))


def _param(path, command):
    label = " ".join(("monitor",) + path)
    marks = [pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[path])] if path in KNOWN_FAILURES else []
    if path in SLOW:
        marks.append(pytest.mark.slow)
    return pytest.param(path, command, id=label, marks=marks)


@pytest.fixture(scope="module")
def example_runs(request, pristine_demo_workspace, tmp_path_factory):
    """Each selected command's examples, started in the background in a fresh post-demo folder."""
    jobs = {}
    for path in selected(request, "test_help_example_runs_as_written", "path"):
        lines = examples(dict(COMMANDS)[path].help or "")
        folder = tmp_path_factory.mktemp("example-" + "-".join(path or ("monitor",)))
        if lines:
            jobs[path] = lambda lines=lines, folder=folder: run_block(
                lines, demo_workspace(pristine_demo_workspace, folder / "workspace"))
    with in_background(jobs) as futures:
        yield futures


@pytest.mark.parametrize("path, command", [_param(p, c) for p, c in COMMANDS])
def test_help_example_runs_as_written(path, command, example_runs):
    """Staff learn a command from its --help example; the example must work when typed."""
    lines = examples(command.help or "")
    assert lines, f"`monitor {' '.join(path)} --help` has no Example: block"
    assert all(line.startswith("monitor") for line in lines), lines
    result = example_runs[path].result()
    assert result.failed is None, result.report()
