"""The benchmark runs end to end (`--smoke`), so it never rots between the runs that fill the README."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

STEPS = ["import (SQLite)", "re-import", "due", "flags", "nightly", "export overdue", "show", "--help"]
COLUMNS = ("| patients | step | median s | × floor (median) | ratio spread | peak RSS MB | all processes MB | "
           "target | verdict |")


def test_benchmark_smoke_measures_every_step_and_updates_the_readme_table(tmp_path):
    """Every step is measured against the floor and the README's table is replaced between its markers only."""
    readme = tmp_path / "README.md"
    shutil.copy(REPO / "README.md", readme)
    before = readme.read_text(encoding="utf-8")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "benchmarks/run.py", "--smoke", "--out", str(out), "--update-readme",
                           "--readme", str(readme)], cwd=REPO, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "MONITOR_BENCH_PG_URL": ""})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert COLUMNS in done.stdout
    result = json.loads((out / "benchmark.json").read_text(encoding="utf-8"))
    assert [r["step"] for r in result["rows"]] == STEPS
    for row in result["rows"]:
        assert row["patients"] == 2_000 and row["repeats"] == 1
        assert row["median_s"] > 0 and row["peak_rss_mb"] > 0
        assert row["peak_tree_pss_mb"] > 0 or row["median_s"] < 0.3  # sampled ten times a second
        assert row["memory_run_s"] > 0  # in a run of its own, after the timed ones
        assert len(row["floor_samples_s"]) == 2  # bracketed: one floor sample before, one after
    verdicts = {r["step"]: r["verdict"] for r in result["rows"]}
    assert verdicts["due"] in ("met", "missed", "within noise") and verdicts["re-import"] == ""
    assert "PostgreSQL import: skipped" in done.stdout
    assert "Machine noise" in done.stdout
    table = (out / "benchmark.md").read_text(encoding="utf-8")
    after = readme.read_text(encoding="utf-8")
    head, rest = before.split("<!-- benchmark:start -->")
    tail = rest.split("<!-- benchmark:end -->")[1]
    assert after == f"{head}<!-- benchmark:start -->\n{table}<!-- benchmark:end -->{tail}"


def test_benchmark_refuses_a_readme_without_markers(tmp_path):
    """--update-readme never guesses where the table goes: no markers, no change, a clear message."""
    readme = tmp_path / "README.md"
    readme.write_text("# no markers here\n", encoding="utf-8")
    spec = importlib.util.spec_from_file_location("benchmark_report", REPO / "benchmarks" / "report.py")
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    with pytest.raises(SystemExit, match="benchmark:start"):
        report.update_readme(readme, "| table |\n")
    assert readme.read_text(encoding="utf-8") == "# no markers here\n"
