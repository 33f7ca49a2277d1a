"""Folders prepared as a user has them, for commands run as the user runs them.

`demo_workspace` is the folder a user has after running `monitor demo` in a checkout, with the
demo cohort also at the default database, so every documented example finds what it names:

    monitor.db                the demo cohort, imported and through the demo's nightly run of
                              2026-11-20 (open reminders, 12 among them): demo-output/monitor.db copied
    demo-output/              what `monitor demo` wrote: its monitor.db, due/overdue CSVs, outbox, reports
    patients.csv, scans.csv…  the eight demo CSVs under the names the README's import table uses
    data/demo/*.csv           the checkout's paths that examples cite
    data/clinic.example.toml  the example configuration

`monitor demo` runs once per session (~15 s); each test gets its own copy of the pristine folder.

The documented blocks take minutes of CPU, most of it rendering PDFs, so a module starts the
blocks of its selected tests on a pool of one worker per core (each block in its own fresh
folder, its processes one after the other) and each test waits for its own block's result; the
pool is drained before the next module runs. (Under pytest-xdist another worker may be busy at
the same time: `--help`'s one-second bound leaves room for that, as `--help` takes ~0.1 s.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Hashable, Iterator

import pytest

from tests.conftest import DEMO, REPO
from tests.process.commands import MONITOR, user_env


def copy_demo_csvs(folder: Path) -> Path:
    for csv in sorted(DEMO.glob("*.csv")):
        shutil.copy(csv, folder / csv.name)
    return folder


@pytest.fixture(scope="session")
def pristine_demo_workspace(tmp_path_factory) -> Path:
    """Built once: `monitor demo` in an empty folder, then the files a checkout has beside it."""
    folder = tmp_path_factory.mktemp("pristine-demo-workspace")
    done = subprocess.run([str(MONITOR), "demo"], cwd=folder, capture_output=True, text=True, env=user_env(),
                          timeout=300)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    shutil.copy(folder / "demo-output" / "monitor.db", folder / "monitor.db")
    copy_demo_csvs(folder)
    (folder / "data").mkdir()
    shutil.copytree(DEMO, folder / "data" / "demo")
    shutil.copy(REPO / "data" / "clinic.example.toml", folder / "data" / "clinic.example.toml")
    return folder


def demo_workspace(pristine: Path, folder: Path) -> Path:
    """A private copy of the post-demo folder: a test's commands may change anything in it."""
    shutil.copytree(pristine, folder)
    return folder


def clinic_csvs(folder: Path) -> Path:
    """A folder holding the clinic's import files and no database yet (the demo CSVs stand in)."""
    folder.mkdir()
    return copy_demo_csvs(folder)


def selected(request, test_name: str, param: str) -> list:
    """The values of `param` for this module's tests that pytest will run (after -k, node ids)."""
    return [item.callspec.params[param] for item in request.session.items
            if getattr(item, "originalname", None) == test_name and item.module is request.module]


@contextmanager
def in_background(jobs: dict[Hashable, Callable]) -> Iterator[dict[Hashable, Future]]:
    """Start every job on a pool of one worker per core; leave only when all have finished."""
    with ThreadPoolExecutor(max_workers=max(1, min(os.cpu_count() or 1, 4))) as pool:
        yield {key: pool.submit(job) for key, job in jobs.items()}
