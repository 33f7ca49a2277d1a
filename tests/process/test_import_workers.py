"""The installed `monitor import` checks a large import in worker processes, and what the user
gets (the rows, the summary, a broken file's error and exit code) is what one process gives."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import DEMO

MONITOR = str(Path(sys.executable).with_name("monitor"))
TABLES = ("patient", "episode", "dxa_measurement", "mri_study", "pregnancy", "symptom", "assessment", "treatment")


def run_on_terminal(cwd: Path, *args: str, env: dict) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of one command whose stderr is a terminal (so it shows its steps)."""
    main, other = os.openpty()
    proc = subprocess.Popen([MONITOR, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=other, text=True,
                            env={**os.environ, **env})
    os.close(other)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    out = proc.stdout.read()
    proc.stdout.close()
    code = proc.wait(timeout=300)
    return code, out, b"".join(chunks).decode().replace("\r\n", "\n")


def stored(db: Path) -> dict:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in TABLES}


def test_import_uses_workers_and_reports_as_one_process(tmp_path):
    """A clinic's large import goes faster on two cores, and a broken file is still named with its
    line, nothing written, exit 2, exactly as when one process does it all."""
    for csv in sorted(DEMO.glob("*.csv")):
        shutil.copy(csv, tmp_path / csv.name)
    files = sorted(p.name for p in tmp_path.glob("*.csv"))
    broken = tmp_path / "broken"
    broken.mkdir()
    lines = (tmp_path / "scans.csv").read_bytes().split(b"\n")
    lines[7] = lines[7].replace(b"-", b"-\xff", 1)  # not UTF-8 on line 8
    (broken / "scans.csv").write_bytes(b"\n".join(lines))
    env = {"MONITOR_IMPORT_BUCKET_BYTES": "100000", "MONITOR_IMPORT_WORKERS": ""}
    got = {}
    for workers in (1, 2):
        (tmp_path / f"w{workers}.toml").write_text(f"[scale]\nimport_workers = {workers}\n")
        db = f"w{workers}.db"
        config = ["--config", f"w{workers}.toml", "--db", db]
        assert subprocess.run([MONITOR, *config, "init"], cwd=tmp_path, capture_output=True).returncode == 0
        bad = run_on_terminal(tmp_path, *config, "import", "patients.csv", "broken/scans.csv", env=env)
        good = run_on_terminal(tmp_path, *config, "import", *files, env=env)
        steps = [line for line in (bad[2] + good[2]).splitlines() if line.startswith("... ")]
        assert any("checking patients' part 2 of" in s for s in steps), steps
        assert (f"... working in {workers} processes" in steps) is (workers == 2), steps
        errors = [line for line in bad[2].splitlines() if not line.startswith("... ")]
        got[workers] = (bad[0], bad[1], errors, good[0], good[1], stored(tmp_path / db))
    assert got[2] == got[1]
    code, _out, errors, good_code, summary, rows = got[1]
    assert code == 2 and errors == ["Error: scans.csv, line 8: " + errors[0].split("line 8: ", 1)[1]]
    assert "Traceback" not in "".join(errors)
    assert good_code == 0 and "scans.csv: imported" in summary and rows["dxa_measurement"]
