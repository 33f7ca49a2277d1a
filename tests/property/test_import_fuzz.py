"""Fuzzing the importer: mangled files must give `Error: ...` and leave the database as it was.

Valid import files (the head of each demo file) are mutated at random — bytes flipped, cut
short, columns deleted or duplicated, delimiters swapped, random unicode and control characters
inserted, lines repeated or dropped — and imported into a database holding the demo cohort:
in-process for most files, through the installed `monitor` entry point in a subprocess for a
share of them. Zero tracebacks; a non-zero exit leaves every table as it was.

    MONITOR_FUZZ_FILES=2000 python -m pytest -q tests/property/test_import_fuzz.py   # large run
    MONITOR_FUZZ_SEED=7 ...                                                           # other files
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import STAFF_RISK_FACTORS, Config
from monitor.importing import CLINICAL_TABLES, import_files
from monitor.services import today_in
from monitor.store import init_db, make_engine
from tests.conftest import DEMO

FILES = int(os.environ.get("MONITOR_FUZZ_FILES", "200"))
SEED = int(os.environ.get("MONITOR_FUZZ_SEED", "20261126"))
EVERY_NTH_IN_A_PROCESS = 25
MONITOR = str(Path(sys.executable).with_name("monitor"))
KINDS = sorted(p.stem for p in DEMO.glob("*.csv"))
JUNK = ["", " ", "\"", "\"\"", ",", ";", "\t", "\r", "\n", "\r\n", "\x00", "\x07", "\x1b", "\x7f", "\ufeff", "\u200b",
        "\u00e9", "\u00df", "\U0001f9b4", "\u202e", "\uffff", "'", "=1+1", "-", "+", "@", "0000-00-00", "9999-99-99",
        "1e308", "-0", "NaN", "inf", "null", "None", "yes", "TRUE", "x" * 70, "\\", "%s", "{}", "2024-02-29"]


def _lines(text: str) -> list[str]:
    return text.split("\n")


def mutate(text: str, rng: random.Random) -> bytes:
    """One to three random mutations of a valid CSV file."""
    data = text
    raw: bytes | None = None
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["flip", "cut", "drop_column", "dup_column", "delimiter", "unicode", "junk_cell",
                           "lines", "line_ends", "header"])
        if raw is not None:
            kind = rng.choice(["flip", "cut"])
        if kind == "flip":
            raw = bytearray(raw if raw is not None else data.encode("utf-8"))
            for _ in range(rng.randint(1, 5)):
                if raw:
                    raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
            raw = bytes(raw)
        elif kind == "cut":
            blob = raw if raw is not None else data.encode("utf-8")
            raw = blob[:rng.randrange(len(blob) + 1)]
        elif kind in ("drop_column", "dup_column"):
            lines = _lines(data)
            width = lines[0].count(",") + 1
            col = rng.randrange(width)
            out = []
            for line in lines:
                cells = line.split(",")
                if col < len(cells):
                    if kind == "drop_column":
                        del cells[col]
                    else:
                        cells.insert(col, cells[col])
                out.append(",".join(cells))
            data = "\n".join(out)
        elif kind == "delimiter":
            new = rng.choice([";", "\t", "|", " ", ",,"])
            lines = _lines(data)
            if rng.random() < 0.5:
                data = data.replace(",", new)
            else:
                i = rng.randrange(len(lines))
                lines[i] = lines[i].replace(",", new)
                data = "\n".join(lines)
        elif kind == "unicode":
            for _ in range(rng.randint(1, 6)):
                pos = rng.randrange(len(data) + 1)
                char = chr(rng.choice([rng.randrange(0, 0x80), rng.randrange(0x80, 0x800), rng.randrange(0x800, 0xD800),
                                       rng.randrange(0xE000, 0x110000)]))
                data = data[:pos] + char + data[pos:]
        elif kind == "junk_cell":
            lines = _lines(data)
            i = rng.randrange(len(lines))
            cells = lines[i].split(",")
            cells[rng.randrange(len(cells))] = rng.choice(JUNK)
            lines[i] = ",".join(cells)
            data = "\n".join(lines)
        elif kind == "lines":
            lines = _lines(data)
            i = rng.randrange(len(lines))
            choice = rng.random()
            if choice < 0.4:
                lines.insert(rng.randrange(len(lines) + 1), lines[i])
            elif choice < 0.8:
                del lines[i]
            else:
                rng.shuffle(lines)
            data = "\n".join(lines)
        elif kind == "line_ends":
            data = data.replace("\n", rng.choice(["\r\n", "\r", "\n\n", "\n \n"]))
        elif kind == "header":
            lines = _lines(data)
            lines[0] = rng.choice([lines[0].upper(), lines[0].replace("_", " "), "", lines[0] + ",", "," + lines[0],
                                   lines[0].replace("mrn", "MRN "), "\ufeff" + lines[0]])
            data = "\n".join(lines)
    return raw if raw is not None else data.encode("utf-8")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    """A database holding the demo cohort (so fuzzed rows meet known patients and stored records)."""
    path = tmp_path_factory.mktemp("fuzz-template") / "monitor.db"
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    import_files(engine, sorted(DEMO.glob("*.csv")), today=today_in(Config()), actor="fuzz",
                 risk_codes=STAFF_RISK_FACTORS)
    engine.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def state(db: Path) -> tuple[dict[str, int], str]:
    """Row counts of the clinical tables, and a hash of the database file after a checkpoint."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in CLINICAL_TABLES}
    return counts, hashlib.sha256(db.read_bytes()).hexdigest()


def test_fuzzed_files_never_crash_nor_half_write(demo_db, tmp_path):
    """A mangled export from a clinic system must give a clear error and leave every patient record as it was."""
    heads = {k: "\n".join((DEMO / f"{k}.csv").read_text(encoding="utf-8").splitlines()[:25]) + "\n" for k in KINDS}
    failures = []
    db = tmp_path / "monitor.db"
    shutil.copyfile(demo_db, db)
    before = state(db)
    for case in range(FILES):
        rng = random.Random(f"{SEED}-{case}")
        kind = rng.choice(KINDS)
        folder = tmp_path / f"case-{case}"
        folder.mkdir()
        naming = rng.random()
        name, extra = f"{kind}.csv", []
        if naming < 0.1:
            name, extra = "export.csv", ["--kind", kind]
        elif naming < 0.2:
            name = f"{kind}.rejects.csv"
        path = folder / name
        path.write_bytes(mutate(heads[kind], rng))
        args = ["--db", f"sqlite:///{db}", "import", *extra, *(["--dry-run"] if rng.random() < 0.1 else []), str(path)]
        if case % EVERY_NTH_IN_A_PROCESS == 0:
            proc = subprocess.run([MONITOR, *args], capture_output=True, text=True, cwd=folder, timeout=120)
            code, out, err, crash = proc.returncode, proc.stdout, proc.stderr, None
        else:
            result = CliRunner().invoke(main, args)
            code, out, err = result.exit_code, result.stdout, result.stderr
            crash = result.exception if not isinstance(result.exception, (SystemExit, type(None))) else None
        after = state(db)
        problem = None
        if crash is not None or "Traceback" in out + err:
            problem = f"crash: {crash!r} {err[-500:]}"
        elif code not in (0, 2):
            problem = f"exit {code} (a bad file is a rejected import: 2): {err[-300:]}"
        elif code != 0 and not (err.startswith("Error: ") and f"{name}, line " in err):
            problem = f"exit {code} without 'Error: {name}, line ...': {err[-300:]}"
        elif code != 0 and after != before:
            problem = f"exit {code} but the database changed: {before[0]} -> {after[0]}"
        if problem:
            failures.append(f"case {case} (seed {SEED}, {name}, kept in {path}): {problem}")
        else:
            shutil.rmtree(folder)
        if after != before:  # a valid mutation imported: start the next case from the demo again
            shutil.copyfile(demo_db, db)
            for suffix in ("-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            before = state(db)
    assert not failures, f"{len(failures)} of {FILES} fuzzed files failed:\n" + "\n".join(failures[:20])
