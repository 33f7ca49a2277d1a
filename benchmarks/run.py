"""The toh-monitor benchmark: each step as its own process, timed against a floor sampled around it.

For each cohort size it generates a synthetic cohort (`monitor synth`) and measures, each repeat
its own process: the import into a fresh SQLite database (and a fresh PostgreSQL database when
--pg-url or MONITOR_BENCH_PG_URL names a server); the re-import of the same files (idempotent);
`due --format csv`; `flags --format json`; `run nightly` (on a fresh copy of the database each
time); `export overdue`; `show MRN`; `--help`. The floor (benchmarks/floor.py: read every row of
every cohort table into Python, nothing else) is sampled right before and right after each repeat;
one more run of each step, untimed, samples the memory of all its processes (the sampling would
slow a timed run).
It prints a markdown table (median seconds, median × floor and its spread, peak RSS, target,
verdict), the floor's own noise and a scaling table, and writes benchmarks/out/benchmark.json and
benchmark.md; --update-readme puts the markdown into README.md between its benchmark markers.

Usage:  python benchmarks/run.py                           # 10k and 100k patients, 3 repeats
        python benchmarks/run.py --patients 10000 100000 300000 --pg-url postgresql+psycopg://postgres@127.0.0.1/postgres
        python benchmarks/run.py --smoke                   # 2,000 patients, 1 repeat, no PostgreSQL (~30 s)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sqlite3
import sys
import tempfile
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from measure import FloorBracket, Step, monitor_cmd, run_child
from report import ONE_MILLION, add_verdicts, markdown, scaling, update_readme

HERE = Path(__file__).resolve().parent
PG_ENV = "MONITOR_BENCH_PG_URL"
SHOW_MRN = "TOH-000001"
STEP_ORDER = ("import (SQLite)", "import (PostgreSQL)", "re-import", "due", "flags", "nightly", "export overdue", "show",
              "--help")


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib.metadata import version  # not `import pandas`: this process stays small (see `Postgres`)

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "pandas": version("pandas"),
            "sqlite": sqlite3.sqlite_version, "platform": platform.platform()}


class Postgres:
    """Fresh databases on a PostgreSQL server, one per import repeat, dropped at the end.

    The statements run in a child process: this process stays small, because a child started
    with vfork reports at least its parent's peak RSS as its own (ru_maxrss carries over exec)."""

    ADMIN = "import psycopg, sys\nwith psycopg.connect(sys.argv[1], autocommit=True) as c:\n" \
            "    for q in sys.argv[2:]: c.execute(q)"

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.url = parts
        self.libpq = urlunsplit(parts._replace(scheme="postgresql"))  # libpq reads postgresql://, not +psycopg
        self.made: list[str] = []

    def _admin(self, *statements: str) -> None:
        run_child([sys.executable, "-c", self.ADMIN, self.libpq, *statements], cwd=HERE)

    def fresh(self, name: str) -> str:
        self._admin(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return urlunsplit(self.url._replace(path=f"/{name}"))

    def drop_all(self) -> None:
        if self.made:
            self._admin(*[f'DROP DATABASE IF EXISTS "{name}"' for name in self.made])


def remove_sqlite(db: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def bench(n: int, *, seed: int, repeats: int, work: Path, pg: Postgres | None) -> tuple[list[Step], list[float]]:
    """Every step at one cohort size; returns the steps and every floor sample taken."""
    folder, ref = work / f"cohort-{n}", work / f"ref-{n}.db"
    end = date.today().isoformat()
    print(f"{n:,} patients:", flush=True)
    child = run_child(monitor_cmd("synth", "--patients", str(n), "--seed", str(seed), "--end", end,
                                  "-o", str(folder)), cwd=work)
    print(f"  synth {child.seconds:.1f} s", flush=True)
    files = sorted(str(p) for p in folder.glob("*.csv"))
    run_child(monitor_cmd("--db", f"sqlite:///{ref}", "init"), cwd=work)
    child = run_child(monitor_cmd("--db", f"sqlite:///{ref}", "import", *files), cwd=work)
    print(f"  reference database imported in {child.seconds:.1f} s (the floor reads it)", flush=True)
    floor = FloorBracket(ref, cwd=work)
    steps: list[Step] = []

    def measure(name, command, prepare=None, note=""):
        step = floor.measure(Step(n, name, note=note), repeats, prepare=prepare, command=command)
        steps.append(step)
        d = step.as_dict()
        print(f"  {name:20} median {d['median_s']:7.2f} s  {d['x_floor_median']:5.2f}× floor "
              f"({d['x_floor_min']:.2f}–{d['x_floor_max']:.2f})  {d['peak_rss_mb']:7,.0f} MB", flush=True)

    fresh = work / f"fresh-{n}.db"

    def fresh_sqlite(_i):
        remove_sqlite(fresh)
        run_child(monitor_cmd("--db", f"sqlite:///{fresh}", "init"), cwd=work)

    measure("import (SQLite)", lambda _i: monitor_cmd("--db", f"sqlite:///{fresh}", "import", *files),
            prepare=fresh_sqlite, note="a fresh database each repeat (init untimed)")
    remove_sqlite(fresh)
    ref_url = f"sqlite:///{ref}"
    measure("re-import", lambda _i: monitor_cmd("--db", ref_url, "import", *files), note="same files, no change")
    measure("due", lambda _i: monitor_cmd("--db", ref_url, "due", "--format", "csv", "--as-of", end))
    measure("flags", lambda _i: monitor_cmd("--db", ref_url, "flags", "--format", "json", "--as-of", end))
    nightly = work / f"nightly-{n}.db"

    def copy_ref(_i):
        remove_sqlite(nightly)
        shutil.copyfile(ref, nightly)

    measure("nightly", lambda _i: monitor_cmd("--db", f"sqlite:///{nightly}", "run", "nightly", "--as-of", end),
            prepare=copy_ref, note="a fresh copy of the database each repeat")
    measure("export overdue", lambda i: monitor_cmd("--db", ref_url, "export", "overdue", "--as-of", end,
                                                    "-o", str(work / f"overdue-{n}-{i}.csv")))
    measure("show", lambda _i: monitor_cmd("--db", f"sqlite:///{nightly}", "show", SHOW_MRN, "--as-of", end),
            note="one patient, whole process, on the database after the nightly run (with reminders)")
    remove_sqlite(nightly)
    measure("--help", lambda _i: monitor_cmd("--help"))
    if pg is not None:
        urls: dict[int, str] = {}

        def fresh_pg(i):
            urls[i] = pg.fresh(f"toh_bench_{n}_{i}")
            run_child(monitor_cmd("--db", urls[i], "init"), cwd=work)

        measure("import (PostgreSQL)", lambda i: monitor_cmd("--db", urls[i], "import", *files), prepare=fresh_pg,
                note="RSS is the client's only, not the server's")
    order = {name: i for i, name in enumerate(STEP_ORDER)}
    return sorted(steps, key=lambda step: order.get(step.name, len(order))), floor.samples


def compile_package() -> str:
    """Byte-compile the installed `monitor` once, so no measured process compiles its sources: an
    installed package has its .pyc files (the children may run with PYTHONDONTWRITEBYTECODE set)."""
    import importlib.util

    spec = importlib.util.find_spec("monitor")
    folder = Path(spec.origin).parent
    run_child([sys.executable, "-m", "compileall", "-q", str(folder)], cwd=folder)
    return str(folder)


def _stop(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds through `finally`: temporary files and databases go


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=None,
                        help="cohort sizes (default 10000 100000; --smoke: 2000)")
    parser.add_argument("--repeats", type=int, default=None, help="repeats per step (default 3; --smoke: 1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-url", default=os.environ.get(PG_ENV),
                        help=f"a PostgreSQL server to import into, fresh databases made on it (env {PG_ENV})")
    parser.add_argument("--smoke", action="store_true",
                        help="a quick check that every step runs: 2,000 patients, 1 repeat, no PostgreSQL")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="folder for benchmark.json and benchmark.md")
    parser.add_argument("--update-readme", action="store_true",
                        help="replace the README's table between <!-- benchmark:start --> and <!-- benchmark:end -->")
    parser.add_argument("--readme", type=Path, default=HERE.parent / "README.md", help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the generated cohorts and databases")
    args = parser.parse_args(argv)
    if args.smoke:
        args.patients = args.patients or [2_000]
        args.repeats = args.repeats or 1
        args.pg_url = None
    args.patients = args.patients or [10_000, 100_000]
    args.repeats = args.repeats or 3
    if args.repeats < 1 or min(args.patients) < 1:
        parser.error("--repeats and --patients must be at least 1")
    return args


def write_results(args, steps: list[Step], floors: dict[int, list[float]], notes: list[str], package: str) -> str:
    rows = [s.as_dict() for s in steps]
    add_verdicts(rows)
    table = scaling(rows)
    notes = list(notes)
    done = sorted(floors)
    if ONE_MILLION not in done and len(done) >= 2:
        notes.append("The 1M column is extrapolated linearly from the two largest sizes run, not measured.")
    notes.append("Peak RSS is each child's own (os.wait4 ru_maxrss: the largest of it and the processes it "
                 "started), the largest over the repeats; 'all processes' is the peak sum of the proportional set "
                 "sizes of the child and every process under it (its workers), sampled ten times a second in one "
                 "more run of the step after the timed ones (reading a worker's memory map costs the kernel "
                 "5-8 ms a sample, which slowed the timed runs); the memory verdict takes the larger of the two; "
                 "MB = MiB.")
    result = {"machine": machine(), "date": date.today().isoformat(), "package": package, "repeats": args.repeats,
              "patients": done, "rows": rows, "floor_samples": {str(k): v for k, v in floors.items()},
              "scaling": table, "notes": notes}
    text = markdown(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (args.out / "benchmark.md").write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.repeats < 3 and not args.smoke:
        print(f"note: {args.repeats} repeat(s) per step; verdicts need ≥ 3 to mean much", flush=True)
    signal.signal(signal.SIGTERM, _stop)
    package = compile_package()
    print(f"measuring the monitor package at {package}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="toh-bench-"))
    pg = Postgres(args.pg_url) if args.pg_url else None
    steps: list[Step] = []
    floors: dict[int, list[float]] = {}
    notes = [] if pg else ["PostgreSQL import: skipped (no --pg-url, no MONITOR_BENCH_PG_URL)."]
    if args.smoke:
        notes.append("--smoke run: 1 repeat at a small size; a check that every step runs, not a measurement.")
    try:
        for n in args.patients:
            found, floors[n] = bench(n, seed=args.seed, repeats=args.repeats, work=work, pg=pg)
            steps += found
            text = write_results(args, steps, floors, notes, package)  # after every size: a cut-short run keeps these
    finally:
        if pg is not None:
            pg.drop_all()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("\n" + text)
    print(f"Wrote {args.out / 'benchmark.json'} and {args.out / 'benchmark.md'}")
    if args.update_readme:
        update_readme(args.readme, text)
        print(f"Updated the benchmark table in {args.readme}")


if __name__ == "__main__":
    sys.exit(main())
