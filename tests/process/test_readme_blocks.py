"""The README's command blocks, read from README.md at test time and run as written.

Every ```sh block runs line by line in one fresh folder, each `monitor` command in its own
process through the installed entry point; each must exit 0 (or the code its comment documents,
`# … exits N`) without a traceback. Set-up commands that cannot run inside a test (creating the
venv, `pip install`, the test run itself, the benchmark) are recognised by name in
`commands.KNOWN_SETUP` and checked instead; any other kind of line fails the test.

Where a block starts is said per section heading in `STARTS_IN`, as the README leaves the reader:
the set-up in an empty folder; the quick tour beside the clinic's CSV files (the demo CSVs) with no
database yet; the sections after it in the folder a user has after `monitor demo`, the demo cohort
at the default `monitor.db` (see conftest.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.process.commands import KNOWN_SETUP, parse_line, run_block
from tests.process.conftest import clinic_csvs, demo_workspace, in_background, selected

README = REPO / "README.md"

STARTS_IN = {
    "toh-monitor": "empty",
    "Quick tour": "clinic_csvs",
    "Correcting the record": "demo_workspace",
    "Discharging, transferring, reactivating": "demo_workspace",
    "The clinician's review list": "demo_workspace",
    "Calendars and recall letters": "demo_workspace",
    "Nightly reminders and the daemon": "demo_workspace",
    "Working the reminder list": "demo_workspace",
    "Reports": "demo_workspace",
    "Web workspace": "demo_workspace",
    "Performance": "empty",
}


@dataclass(frozen=True)
class Block:
    heading: str
    first_line: int
    lines: tuple[str, ...]


def readme_blocks(text: str) -> list[Block]:
    """The ```sh blocks with the heading they sit under; their lines, continuation lines joined."""
    blocks, heading, fence, body, start = [], None, None, [], 0
    for number, line in enumerate(text.splitlines(), start=1):
        if fence is None:
            if line.startswith("```"):
                fence, body, start = line[3:].strip(), [], number
            elif line.startswith("#"):
                heading = line.lstrip("#").strip()
            continue
        if line.startswith("```"):
            if fence == "sh":
                joined = "\n".join(body).replace("\\\n", " ")
                blocks.append(Block(heading, start, tuple(s for s in joined.splitlines() if s.strip())))
            fence = None
        else:
            body.append(line)
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


def test_readme_has_the_blocks_the_suite_runs():
    """A README block the suite does not run is documentation nobody checks."""
    text = README.read_text(encoding="utf-8")
    other_shells = re.findall(r"^```(bash|shell|console|zsh)\s*$", text, flags=re.MULTILINE)
    assert not other_shells, f"use ```sh for commands so the suite runs them: found ```{other_shells[0]}"
    assert [b.heading for b in BLOCKS] == list(STARTS_IN), (
        "README ```sh blocks changed: say in STARTS_IN which folder each block starts in")


def test_every_readme_line_is_a_command_the_suite_runs_or_recognises():
    """A new kind of set-up line must be taught to the suite, never skipped silently."""
    kinds = {}
    for block in BLOCKS:
        for line in block.lines:
            for command in parse_line(line):  # raises on an unknown kind of line
                kinds[command.argv if not command.is_monitor else ("monitor",)] = line
    assert ("monitor",) in kinds
    install = [argv for argv in kinds if argv[:2] == ("pip", "install")]
    assert install, "the set-up line's install step was not recognised"
    assert set(kinds) - {("monitor",)} <= set(KNOWN_SETUP)


def test_the_set_up_line_installs_then_runs_the_demo():
    """The README's first line is what a new clinic types first: install, then `monitor demo`."""
    first = parse_line(BLOCKS[0].lines[0])
    assert [c.is_monitor for c in first][-1], "the first line should end by running monitor"
    assert first[-1].argv == ("monitor", "demo")
    assert all(c.argv in KNOWN_SETUP for c in first[:-1])


@pytest.fixture(scope="module")
def readme_runs(request, tmp_path_factory):
    """Each selected block, started in the background in a fresh folder prepared as STARTS_IN says."""
    blocks = selected(request, "test_readme_block_runs_as_written", "block")
    needs_demo = any(STARTS_IN[b.heading] == "demo_workspace" for b in blocks)
    pristine = request.getfixturevalue("pristine_demo_workspace") if needs_demo else None

    def job(block: Block, folder: Path):
        start = STARTS_IN[block.heading]
        if start == "empty":
            folder.mkdir()
        elif start == "clinic_csvs":
            clinic_csvs(folder)
        else:
            demo_workspace(pristine, folder)
        return run_block(list(block.lines), folder)

    jobs = {b: (lambda b=b, folder=tmp_path_factory.mktemp("readme-block") / "folder": job(b, folder))
            for b in blocks}
    with in_background(jobs) as futures:
        yield futures


SLOW = {"Reports"}  # 70 patient PDFs: ~45 s of CPU


@pytest.mark.parametrize("block", [pytest.param(b, id=b.heading, marks=[pytest.mark.slow] if b.heading in SLOW else [])
                                   for b in BLOCKS])
def test_readme_block_runs_as_written(block, readme_runs):
    """Staff copy these lines into a terminal; each must work in a fresh process, in README order."""
    result = readme_runs[block].result()
    assert result.failed is None, f"README.md line {block.first_line} block:\n{result.report()}"
    ran = [o.command.argv for o in result.outcomes]
    assert len(ran) == sum(len(parse_line(line)) for line in block.lines)
