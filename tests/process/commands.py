"""Run documented command lines as a user types them: the installed `monitor`, one process each.

A line is split on `&&` into commands. A `monitor …` command runs the entry point installed next
to this interpreter, in the given folder, with `> FILE` as its only shell feature. Anything else
must be one of the set-up commands in `KNOWN_SETUP`, which the suite recognises by name and checks
instead of running (no network, no second test run); an unknown kind of command is an error, so a
README that gains one fails here instead of being skipped.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

MONITOR = Path(sys.executable).with_name("monitor")
REPO = Path(__file__).resolve().parents[2]
GLOBAL_OPTIONS_WITH_VALUE = ("--db", "--config")
SHELL_SYNTAX = ("|", "||", ";", "&", "<", ">>", "(", ")")
TIMEOUT_S = 300
DAEMON_READY = "daemon started"
DAEMON_JOBS = ("nightly", "clinic_report")
STOP_WITHIN_S = 120  # SIGTERM lets the running job finish: a clinic report takes seconds


def _editable_install() -> str:
    """The set-up the README asks for is this interpreter's environment, with this checkout installed."""
    import importlib.metadata

    import monitor

    assert MONITOR.is_file(), f"no monitor entry point at {MONITOR}: install the package in this venv"
    assert importlib.metadata.distribution("toh-monitor"), "toh-monitor is not installed"
    assert Path(monitor.__file__).resolve().is_relative_to(REPO), "monitor is not installed from this checkout"
    return "installed: this venv runs the checkout"


def _test_extras() -> str:
    import freezegun  # noqa: F401
    import pypdf  # noqa: F401
    import pytest  # noqa: F401

    return _editable_install() + ", with the test extras"


def _benchmark_starts() -> str:
    """The benchmark takes ~5 minutes; the suite checks that the script is there and parses its options."""
    done = subprocess.run([sys.executable, "benchmarks/run.py", "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "--patients" in done.stdout, done.stderr
    return "benchmark: not run by the suite (minutes); `--help` checked"


# Commands the suite cannot re-run inside a test, each with the check that stands in for it.
KNOWN_SETUP = {
    ("python3", "-m", "venv", ".venv"): lambda: f"venv: the suite runs in {sys.prefix}",
    (".", ".venv/bin/activate"): lambda: f"activated: the suite calls {MONITOR}",
    ("pip", "install", "-c", "constraints.txt", "-e", "."): _editable_install,
    ("pip", "install", "-c", "constraints.txt", "-e", ".[test]"): _test_extras,
    ("python", "-m", "pytest"): lambda: "the test suite: it is running now",
    ("python", "benchmarks/run.py"): _benchmark_starts,
}


@dataclass(frozen=True)
class Command:
    """One command of a documented line: argv as typed, where stdout goes, the exit code expected."""

    line: str
    argv: tuple[str, ...]
    stdout_to: str | None = None
    expect_exit: int = 0

    @property
    def is_monitor(self) -> bool:
        return self.argv[0] == "monitor"

    @property
    def subcommand(self) -> tuple[str, ...]:
        """The command path after the global options: ('reminders', 'outreach') for
        `monitor --db X reminders outreach 12`."""
        words, args = [], list(self.argv[1:])
        while args and args[0].startswith("-"):
            option = args.pop(0)
            if option in GLOBAL_OPTIONS_WITH_VALUE:
                args.pop(0)
        for a in args:
            if a.startswith("-"):
                break
            words.append(a)
        return tuple(words)


@dataclass
class Outcome:
    command: Command
    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    note: str = ""  # what a recognised set-up command was checked for
    ready: bool = True  # a daemon logged that it started
    stopped: bool = True  # a daemon exited after SIGTERM

    def problems(self) -> list[str]:
        found = [] if self.ready else [f"never became ready (daemon: started and served its start-up runs; serve: answered) {self.note}".rstrip()]
        if not self.stopped:
            found.append(f"still running {STOP_WITHIN_S} s after SIGTERM (killed)")
        if self.exit_code != self.command.expect_exit:
            found.append(f"exit {self.exit_code}, expected {self.command.expect_exit}")
        if "Traceback" in self.stdout + self.stderr:
            found.append("a traceback")
        return found

    def describe(self) -> str:
        return (f"$ {self.command.line}\n  -> {', '.join(self.problems()) or 'ok'} ({self.seconds:.1f} s)\n"
                f"--- stdout (end) ---\n{self.stdout[-2000:]}\n--- stderr (end) ---\n{self.stderr[-3000:]}")


def split_comment(line: str) -> tuple[str, str]:
    """`monitor x  # a comment` -> ('monitor x', 'a comment'); a # inside quotes is not a comment."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), ""


def parse_line(line: str) -> list[Command]:
    """A documented line as the commands it runs; raises ValueError for shell syntax we do not model.

    A comment saying `exits N` documents a non-zero exit code for the line's last command.
    """
    text, comment = split_comment(line)
    if not text:
        return []
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    tokens = list(lexer)
    groups: list[list[str]] = [[]]
    for t in tokens:
        if t == "&&":
            groups.append([])
        else:
            groups[-1].append(t)
    commands = []
    for words in groups:
        if not words:
            raise ValueError(f"empty command in {line!r}")
        stdout_to = None
        if ">" in words:
            at = words.index(">")
            if at != len(words) - 2:
                raise ValueError(f"only a final `> FILE` redirect is modelled: {line!r}")
            stdout_to, words = words[-1], words[:at]
        odd = [w for w in words if w in SHELL_SYNTAX or "$" in w or "`" in w or "*" in w]
        if odd:
            raise ValueError(f"shell syntax {odd} is not modelled: {line!r}")
        commands.append(Command(line=line.strip(), argv=tuple(words), stdout_to=stdout_to))
    expected = re.search(r"\bexits? (\d+)\b", comment)
    if expected:
        last = commands[-1]
        commands[-1] = Command(last.line, last.argv, last.stdout_to, int(expected.group(1)))
    unknown = [c for c in commands if not c.is_monitor and c.argv not in KNOWN_SETUP]
    if unknown:
        raise ValueError(f"{' '.join(unknown[0].argv)!r} in {line!r} is neither `monitor …` nor a set-up "
                         f"command the suite knows (tests/process/commands.py KNOWN_SETUP)")
    return commands


def user_env() -> dict[str, str]:
    """The environment of a user who set nothing: no database or configuration from the developer's shell."""
    env = {k: v for k, v in os.environ.items() if k not in ("MONITOR_DATABASE_URL", "MONITOR_CONFIG")}
    env["PATH"] = f"{MONITOR.parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(command: Command, folder: Path) -> Outcome:
    """Run one command in `folder` the way a shell would, and collect what it printed."""
    started = time.monotonic()
    if not command.is_monitor:
        note = KNOWN_SETUP[command.argv]()
        return Outcome(command, 0, "", "", time.monotonic() - started, note=note)
    if command.subcommand[:1] == ("daemon",):
        return run_daemon(command, folder)
    if command.subcommand[:1] == ("serve",):
        return run_server(command, folder)
    argv = [str(MONITOR), *command.argv[1:]]
    if command.stdout_to:
        with open(folder / command.stdout_to, "w", encoding="utf-8") as out:
            done = subprocess.run(argv, cwd=folder, stdout=out, stderr=subprocess.PIPE, text=True,
                                  env=user_env(), timeout=TIMEOUT_S)
        stdout = (folder / command.stdout_to).read_text(encoding="utf-8")
    else:
        done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, env=user_env(), timeout=TIMEOUT_S)
        stdout = done.stdout
    return Outcome(command, done.returncode, stdout, done.stderr, time.monotonic() - started)


def run_daemon(command: Command, folder: Path, *, ready_within_s: float = 120) -> Outcome:
    """`monitor daemon` runs until stopped: start it, wait until it is running - it logged its
    start and served (or skipped) the start-up catch-up of every job - then SIGTERM it and require
    a clean exit.

    Waiting for the catch-up keeps this test off a known race (SIGTERM during the start-up
    submission deadlocks the daemon); test_daemon_signals.py pins that race on its own.
    """
    started = time.monotonic()
    log = folder / ".daemon-stderr.log"
    argv = list(command.argv)
    # `--log-file PATH`: the daemon logs there, not to stderr
    log_file = folder / argv[argv.index("--log-file") + 1] if "--log-file" in argv else None

    def is_running() -> bool:
        text = log.read_text(encoding="utf-8")
        if log_file is not None and log_file.exists():
            text += log_file.read_text(encoding="utf-8")
        return DAEMON_READY in text and all(re.search(rf"INFO {job} (for|failed)", text) for job in DAEMON_JOBS)

    with open(log, "w", encoding="utf-8") as err:
        proc = subprocess.Popen([str(MONITOR), *command.argv[1:]], cwd=folder, stdout=subprocess.PIPE,
                                stderr=err, text=True, env=user_env())
        try:
            while not is_running() and proc.poll() is None and time.monotonic() - started < ready_within_s:
                time.sleep(0.1)
            ready = is_running()
            stdout, stopped = _terminate(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stderr = log.read_text(encoding="utf-8")
    log.unlink()
    return Outcome(command, proc.returncode, stdout, stderr, time.monotonic() - started, ready=ready,
                   stopped=stopped)


def _terminate(proc: subprocess.Popen) -> tuple[str, bool]:
    """SIGTERM a long-running command (if still running) and collect its stdout; (stdout, whether
    it stopped by itself within STOP_WITHIN_S — else it is killed)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        stdout, _ = proc.communicate(timeout=STOP_WITHIN_S)
        return stdout, True
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, _ = proc.communicate()
        return stdout, False


SERVER_READY = "web workspace on http://"


def run_server(command: Command, folder: Path, *, ready_within_s: float = 60) -> Outcome:
    """`monitor serve` runs until stopped: start it, wait for its "web workspace on" line, fetch
    its sign-in page and a static file (the package data is installed), then SIGTERM it and
    require a clean exit."""
    import urllib.request

    started = time.monotonic()
    log = folder / ".serve-stderr.log"
    note = ""
    with open(log, "w", encoding="utf-8") as err:
        proc = subprocess.Popen([str(MONITOR), *command.argv[1:]], cwd=folder, stdout=subprocess.PIPE,
                                stderr=err, text=True, env=user_env())
        try:
            while SERVER_READY not in log.read_text(encoding="utf-8") and proc.poll() is None \
                    and time.monotonic() - started < ready_within_s:
                time.sleep(0.1)
            found = re.search(r"web workspace on (http://\S+)", log.read_text(encoding="utf-8"))
            ready = found is not None
            if ready:
                for path, expect in (("sign-in", "Sign in"), ("static/htmx.min.js", "htmx")):
                    with urllib.request.urlopen(found.group(1) + path, timeout=30) as response:
                        body = response.read().decode("utf-8")
                    if expect not in body:
                        ready, note = False, f"/{path} did not contain {expect!r}"
            stdout, stopped = _terminate(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stderr = log.read_text(encoding="utf-8")
    log.unlink()
    return Outcome(command, proc.returncode, stdout, stderr, time.monotonic() - started, note=note, ready=ready,
                   stopped=stopped)


@dataclass
class BlockRun:
    """A documented block run line by line in one folder, stopping at the first failing command."""

    folder: Path
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> Outcome | None:
        return next((o for o in self.outcomes if o.problems()), None)

    def report(self) -> str:
        return "\n\n".join(o.describe() for o in self.outcomes)


def run_block(lines: list[str], folder: Path) -> BlockRun:
    """Each line's commands in order, sharing the folder; parse every line first so an unknown
    kind of line fails before anything runs."""
    parsed = [parse_line(line) for line in lines]
    result = BlockRun(folder)
    for commands in parsed:
        for command in commands:
            result.outcomes.append(run(command, folder))
            if result.failed:
                return result
    return result
