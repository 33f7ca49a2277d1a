"""Timing child processes against the floor, so a verdict survives a noisy machine.

Every measured command is its own process, reaped with `os.wait4` so its peak RSS is that
child's alone. Each repeat of a step is bracketed by a floor sample taken right before and right
after it (consecutive repeats share the sample between them), and its ratio is the step's time
over the mean of those two samples: a machine that slows down for a minute slows the floor too.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent


class StepFailed(SystemExit):
    """A measured command exited non-zero: the benchmark stops and shows its stderr's tail."""


@dataclass(frozen=True)
class Child:
    """One finished process: wall seconds, its own peak RSS in MiB, and what it printed."""

    seconds: float
    peak_mb: float
    stdout: str = ""


def run_child(cmd: list[str], *, cwd: Path, capture: bool = False) -> Child:
    """Run `cmd` to the end; a non-zero exit stops the benchmark with the command's stderr."""
    out_file = tempfile.TemporaryFile(mode="w+") if capture else subprocess.DEVNULL
    with tempfile.TemporaryFile(mode="w+") as err_file:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out_file, stderr=err_file, text=True)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # interrupted: never leave a measured child running
            proc.kill()
            proc.wait()
            raise
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err_file.seek(0)
            raise StepFailed(f"benchmark step failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                             f"{err_file.read()[-3000:]}")
    out = ""
    if capture:
        out_file.seek(0)
        out = out_file.read()
        out_file.close()
    return Child(elapsed, usage.ru_maxrss / 1024, out)


def monitor_cmd(*args: str) -> list[str]:
    """The installed `monitor` (whatever code this interpreter imports), as a fresh process."""
    return [sys.executable, "-m", "monitor", *args]


def floor_cmd(db: Path) -> list[str]:
    return [sys.executable, str(HERE / "floor.py"), str(db)]


@dataclass
class Step:
    """One step's repeats at one cohort size: seconds, ratios to the floor, peak RSS."""

    patients: int
    name: str
    seconds: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    peaks_mb: list[float] = field(default_factory=list)
    floors: list[float] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict:
        return {
            "patients": self.patients, "step": self.name, "repeats": len(self.seconds),
            "median_s": round(statistics.median(self.seconds), 3),
            "seconds": [round(s, 3) for s in self.seconds],
            "x_floor_median": round(statistics.median(self.ratios), 2),
            "x_floor_min": round(min(self.ratios), 2), "x_floor_max": round(max(self.ratios), 2),
            "ratios": [round(r, 3) for r in self.ratios],
            "peak_rss_mb": round(max(self.peaks_mb), 1),
            "floor_samples_s": [round(f, 3) for f in self.floors],
            "note": self.note,
        }


class FloorBracket:
    """Runs the floor before and after every repeat; keeps every floor sample for the noise report."""

    def __init__(self, db: Path, *, cwd: Path):
        self.db = db
        self.cwd = cwd
        self.samples: list[float] = []

    def sample(self) -> float:
        seconds = run_child(floor_cmd(self.db), cwd=self.cwd).seconds
        self.samples.append(seconds)
        return seconds

    def measure(self, step: Step, repeats: int, *, prepare: Callable[[int], None] | None,
                command: Callable[[int], list[str]]) -> Step:
        """`repeats` runs of `command(i)`, each after an untimed `prepare(i)` (a fresh database, a copy)."""
        before = None
        for i in range(repeats):
            if prepare is not None:
                prepare(i)
                before = None  # preparing takes time: sample the floor again right before the step
            if before is None:
                before = self.sample()
            child = run_child(command(i), cwd=self.cwd)
            after = self.sample()
            floor = (before + after) / 2
            step.seconds.append(child.seconds)
            step.ratios.append(child.seconds / floor if floor else float("nan"))
            step.peaks_mb.append(child.peak_mb)
            step.floors += [before, after]
            before = after
        return step
