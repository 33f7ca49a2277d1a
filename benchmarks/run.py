"""The toh-monitor benchmark: one command, separate processes, times against the floor.

For each cohort size it generates a synthetic cohort (`monitor synth`), imports it into a fresh
SQLite database and times, each as its own process: the import; the floor (reading every row
into Python); `monitor due`; `monitor flags`; `monitor run nightly`; one per-patient PNG (as a
process, and the render alone inside a process); `monitor --help`. It prints a table with each
time, its ratio to the floor and the peak memory (max RSS), and writes it as JSON.

Usage:  python benchmarks/run.py                      # 10k and 100k patients
        python benchmarks/run.py --patients 10000     # just one size
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGETS = {  # step -> (limit, unit): "x" = times the floor, "s" = seconds, for the 100k cohort
    "import": (60, "s"), "due": (3, "x"), "flags": (3, "x"), "nightly": (4, "x"),
    "png render": (0.5, "s"), "--help": (0.3, "s"),
}
MEMORY_LIMIT_MB = 2048


def monitor_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "monitor", *args]


def run_child(cmd: list[str], *, cwd: Path, capture: bool = False) -> tuple[float, float, str]:
    """Like `timed`, but reaps the child itself so its own peak memory is measured."""
    start = time.perf_counter()
    out_file = tempfile.TemporaryFile(mode="w+") if capture else subprocess.DEVNULL
    err_file = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=out_file, stderr=err_file, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        err_file.seek(0)
        raise SystemExit(f"benchmark step failed ({proc.returncode}): {' '.join(cmd)}\n{err_file.read()[-3000:]}")
    out = ""
    if capture:
        out_file.seek(0)
        out = out_file.read()
    return elapsed, usage.ru_maxrss / 1024, out


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import pandas

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "pandas": pandas.__version__,
            "platform": platform.platform()}


def bench(n: int, *, seed: int, work: Path) -> list[dict]:
    folder = work / f"cohort-{n}"
    db = work / f"bench-{n}.db"
    url = f"sqlite:///{db}"
    end = date.today().isoformat()
    rows: list[dict] = []

    def add(step, seconds, peak, note=""):
        rows.append({"patients": n, "step": step, "seconds": round(seconds, 3), "peak_mb": round(peak, 1),
                     "note": note})
        print(f"  {step:12} {seconds:8.2f} s  {peak:8.0f} MB  {note}", flush=True)

    print(f"{n} patients:", flush=True)
    secs, peak, _ = run_child(monitor_cmd("synth", "--patients", str(n), "--seed", str(seed), "--end", end,
                                          "-o", str(folder)), cwd=work)
    add("synth", secs, peak)
    run_child(monitor_cmd("--db", url, "init"), cwd=work)
    secs, peak, _ = run_child(monitor_cmd("--db", url, "import", *sorted(str(p) for p in folder.glob("*.csv"))),
                              cwd=work)
    add("import", secs, peak)
    secs, peak, out = run_child([sys.executable, str(HERE / "floor.py"), str(db)], cwd=work, capture=True)
    add("floor", secs, peak, f"{int(out.strip()):,} rows")
    for step, args in (("due", ("due", "--format", "csv")), ("flags", ("flags", "--format", "json")),
                       ("nightly", ("run", "nightly"))):
        secs, peak, _ = run_child(monitor_cmd("--db", url, *args, "--as-of", end), cwd=work)
        add(step, secs, peak)
    mrn = "TOH-000001"
    secs, peak, _ = run_child(monitor_cmd("--db", url, "report", "patient", mrn, "--format", "png", "--as-of", end,
                                          "-o", str(work / "chart.png")), cwd=work)
    add("png process", secs, peak, "whole process, imports included")
    _, peak, out = run_child([sys.executable, str(HERE / "render.py"), url, mrn, end], cwd=work, capture=True)
    add("png render", float(out.strip()), peak, "median of 5 renders in one process")
    helps = []
    for _ in range(5):
        secs, peak, _ = run_child(monitor_cmd("--help"), cwd=work)
        helps.append(secs)
    add("--help", statistics.median(helps), peak, "median of 5")
    floor = next(r["seconds"] for r in rows if r["step"] == "floor")
    for r in rows:
        r["x_floor"] = round(r["seconds"] / floor, 2) if floor else None
    return rows


def verdicts(rows: list[dict]) -> None:
    for r in rows:
        limit = TARGETS.get(r["step"])
        if not limit or r["patients"] < 100_000:
            r["target"] = ""
            continue
        value = r["x_floor"] if limit[1] == "x" else r["seconds"]
        ok = value <= limit[0] and r["peak_mb"] <= MEMORY_LIMIT_MB
        r["target"] = f"<= {limit[0]}{'x' if limit[1] == 'x' else ' s'}: {'met' if ok else 'MISSED'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--keep", action="store_true", help="keep the generated cohorts and databases")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="toh-bench-"))
    rows: list[dict] = []
    try:
        for n in args.patients:
            rows += bench(n, seed=args.seed, work=work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    verdicts(rows)
    info = machine()
    print(f"\nMachine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, pandas {info['pandas']}")
    print("| patients | step | seconds | x floor | peak MB | target (100k) | note |")
    print("|---:|---|---:|---:|---:|---|---|")
    for r in rows:
        print(f"| {r['patients']:,} | {r['step']} | {r['seconds']:.2f} | {r['x_floor']:.2f} | {r['peak_mb']:.0f} | "
              f"{r['target']} | {r['note']} |")
    result = {"machine": info, "date": date.today().isoformat(), "rows": rows}
    target = args.out / "benchmark.json"
    target.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"\nWrote {target}")


if __name__ == "__main__":
    main()
