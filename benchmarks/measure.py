"""Timing child processes against the floor, so a verdict survives a noisy machine.

Every measured command is its own process, reaped with `os.wait4` so its peak RSS is that
child's alone (the largest of it and any process it started); a command that starts worker
processes is also sampled as a whole: the peak sum of the proportional set sizes (PSS) of it and
every process under it, read from /proc ten times a second. Each repeat of a step is bracketed by a floor sample taken right before and right
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
    tree_mb: float = 0.0  # peak PSS of the command and every process under it (0: not sampled)


class TreeMemory:
    """Samples the summed PSS of a process and its descendants in a thread until stopped."""

    def __init__(self, pid: int, every: float = 0.1):
        import threading

        self.pid, self.every, self.peak_kb = pid, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tree(self, pid: int) -> list[int]:
        out, todo = [], [pid]
        while todo:
            p = todo.pop()
            out.append(p)
            try:
                todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
            except OSError:
                pass
        return out

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            total = 0
            for p in self._tree(self.pid):
                try:
                    for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                        if line.startswith("Pss:"):
                            total += int(line.split()[1])
                            break
                except OSError:
                    pass
            self.peak_kb = max(self.peak_kb, total)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kb / 1024


def run_child(cmd: list[str], *, cwd: Path, capture: bool = False, sample_tree: bool = False) -> Child:
    """Run `cmd` to the end; a non-zero exit stops the benchmark with the command's stderr.

    `sample_tree`: also sample the summed PSS of it and its workers (TreeMemory). Only for a run
    that is not timed: reading a worker's smaps_rollup takes the kernel 5-8 ms at 100k patients,
    so ten samples a second of four processes took ~0.3 of a core from a two-core machine and made
    `run nightly` 0.4-0.8 s slower."""
    out_file = tempfile.TemporaryFile(mode="w+") if capture else subprocess.DEVNULL
    with tempfile.TemporaryFile(mode="w+") as err_file:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out_file, stderr=err_file, text=True)
        tree = TreeMemory(proc.pid) if sample_tree and Path("/proc/self/smaps_rollup").exists() else None
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # interrupted: never leave a measured child running
            proc.kill()
            proc.wait()
            raise
        finally:
            tree_mb = tree.stop() if tree is not None else 0.0
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
    return Child(elapsed, usage.ru_maxrss / 1024, out, tree_mb)


def monitor_cmd(*args: str) -> list[str]:
    """The installed `monitor` (whatever code this interpreter imports), as a fresh process."""
    return [sys.executable, "-m", "monitor", *args]


def floor_cmd(db: Path) -> list[str]:
    return [sys.executable, str(HERE / "floor.py"), str(db)]


@dataclass
class Step:
    """One step's repeats at one cohort size: seconds, ratios to the floor, peak RSS; and the
    memory run's peak PSS of all processes (`trees_mb`) and its seconds (not among the timed)."""

    patients: int
    name: str
    seconds: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    peaks_mb: list[float] = field(default_factory=list)
    trees_mb: list[float] = field(default_factory=list)
    floors: list[float] = field(default_factory=list)
    memory_run_s: float | None = None
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
            "peak_tree_pss_mb": round(max(self.trees_mb, default=0.0), 1),
            "floor_samples_s": [round(f, 3) for f in self.floors],
            "memory_run_s": None if self.memory_run_s is None else round(self.memory_run_s, 3),
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
        """`repeats` timed runs of `command(i)`, each after an untimed `prepare(i)` (a fresh
        database, a copy), then one more run (i = repeats) that samples the memory of all its
        processes, untimed: the sampling would slow the step it measures."""
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
        if prepare is not None:
            prepare(repeats)
        child = run_child(command(repeats), cwd=self.cwd, sample_tree=True)
        step.peaks_mb.append(child.peak_mb)
        step.trees_mb.append(child.tree_mb)
        step.memory_run_s = child.seconds
        return step
