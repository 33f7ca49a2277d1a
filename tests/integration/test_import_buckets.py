"""A large import is split by patient into buckets; the split must never change what is imported,
reported, rejected or audited (the same files with one bucket and with many)."""

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from monitor.config import STAFF_RISK_FACTORS
from monitor.errors import ImportRejected, MonitorError
from monitor.formats.import_spec import IMPORT_ORDER, SPECS
from monitor.services.import_buckets import bucket_count
from monitor.services.importing import import_files
from tests.conftest import write_csv

TODAY = date(2026, 11, 25)
TINY = 64  # bytes of CSV per bucket: every small test file is split into many buckets


def run(engine, paths, rejects_dir, **kw):
    """The report, or the rejection's message, of one import."""
    try:
        report = import_files(engine, paths, actor="tester", risk_codes=STAFF_RISK_FACTORS, today=TODAY,
                              rejects_dir=rejects_dir, **kw)
    except (ImportRejected, MonitorError) as exc:
        return ("rejected", type(exc).__name__, str(exc))
    files = [(r.file, r.kind, r.rows, r.inserted, r.updated, r.unchanged, r.rejected,
              Path(r.rejects_file).read_bytes() if r.rejects_file else None) for r in report.files]
    return (files, [str(p) for p in report.problems], report.dry_run)


def contents(engine) -> dict:
    """Every clinical table with patients named by MRN (ids depend on insertion order), and the
    import audit events without row ids."""
    out = {}
    with engine.connect() as conn:
        for kind in IMPORT_ORDER:
            table = SPECS[kind].table
            if table == "patient":
                frame = pd.read_sql_query(text("SELECT * FROM patient"), conn).drop(columns=["id"])
            else:
                frame = pd.read_sql_query(text(f"SELECT p.mrn AS mrn_, t.* FROM {table} t "
                                               "JOIN patient p ON p.id = t.patient_id"), conn)
                frame = frame.drop(columns=["id", "patient_id"])
            out[table] = sorted(map(repr, frame.astype("object").where(frame.notna(), None).values.tolist()))
        events = conn.execute(text("SELECT subject, rows, detail FROM audit_event WHERE action = 'import' "
                                   "ORDER BY id")).all()
    audit = []
    for subject, rows, detail in events:
        detail = json.loads(detail) if isinstance(detail, str) else detail
        for change in detail.get("changes", []):
            change.pop("id", None)
        audit.append((subject, rows, detail))
    out["audit"] = audit
    return out


PATIENTS = """\
mrn,name,sex,birth_date,enrolled_on,status,risk_factors,phone,preferred_contact
A1,Ann One,F,1990-05-01,2024-01-10,active,smoking,,
B2,Bob Two,M,1970-02-03,2023-06-01,,,+44 7700 900001,phone
C3,Cat Three,F,1985-07-07,,,,,
D4,Dan Four,M,1960-01-01,2022-01-01,active,,,email
E5,Eve Five,F,1992-02-02,2024-02-02,,,,
E5,Eve Five,F,1992-02-02,2024-02-02,,,,
F6,Fay Six,F,1999-09-09,2025-13-01,,,,
G7,Gus Seven,M,1950-05-05,,,,,
G7,Gus Seven,M,1951-05-05,,,,,
"""
SCANS = """\
mrn,scan_date,scanner,site,side,bmd,t_score,z_score
B2,2023-06-15,hologic,total_hip,right,0.801,-1.2,-0.9
B2,2023-06-15,hologic,total_hip,left,0.950,0.1,0.3
B2,2023-06-15,hologic,lumbar_spine,,1.020,-0.3,0.0
A1,2024-02-01,hologic,total_hip,left,0.700,-2.1,-1.0
A1,2024-02-01,hologic,total_hip,left,0.700,-2.1,-1.0
C3,1980-01-01,hologic,total_hip,left,0.800,,
Z9,2024-01-01,hologic,total_hip,left,0.800,,
E5,2024-03-03,hologic,lumbar_spine,left,0.900,,
"""
SCANS2 = """\
mrn,scan_date,site,side,bmd
A1,2024-02-01,total_hip,left,0.700
B2,2023-06-15,total_hip,right,0.9
C3,2024-05-05,femoral_neck,right,0.75
"""
EPISODES = """\
mrn,joint,side,onset_date,diagnosed_on,resolved_on,pregnancy_associated,fracture
A1,hip,left,2024-01-01,2024-01-10,,yes,no
B2,hip,right,2023-05-01,2023-06-01,2023-12-01,no,no
C3,knee,left,2024-04-01,2024-03-01,,,
"""
UPDATED_PATIENTS = """\
mrn,name,sex,birth_date,enrolled_on,status,risk_factors
A1,Ann Renamed,F,1990-05-01,,discharged,
B2,,M,1970-02-03,2023-06-02,,
C3,Cat Three,F,2024-06-01,,,
H8,Hal Eight,M,1945-04-04,,,
"""
QUOTED = """\
mrn,drug,dose,started_on,stopped_on
A1,"calcium, vitamin D","1000 mg, daily",2024-01-01,
B2,alendronate,70 mg weekly,2024-02-01,

H8,alendronate,70 mg weekly,2024-02-01,2024-01-01
"""
MULTILINE = (  # a real export: names with commas, doubled quotes, a note over lines, blank lines, CRLF
    'mrn,drug,dose,started_on,stopped_on\r\n'
    'A1,"calcium, vitamin D","1000 mg, ""daily""",2024-01-01,\r\n'
    '\r\n'
    'B2,"alendronate\r\nweekly, with water","70 mg\nweekly",2024-02-01,\r\n'
    '   \r\n'
    'C3, risedronate ,"35 mg",2024-03-01,\r\n'
    'H8,"zoledronate",5 mg,2024-02-01,2024-01-01\r\n'
    'D4,"ibandronate\r\n\r\n(monthly)",150 mg,2024-04-01,'
)
SLASHED = """\
mrn,assessed_on,calcium_mg_day
A1,25/01/2024,1200
B2,02/02/2024,800
H8,31/12/2024,-5
"""


def scenario(folder: Path) -> list[tuple[list[Path], dict]]:
    """Imports run in turn on one database: new files with errors kept aside, a rejected import,
    updates (blank cells keep values, audit of replaced values), quoted cells and blank lines,
    dates with --date-format, a fixed rejects file, an idempotent re-import, a dry run."""
    f = {name: write_csv(folder / name, body) for name, body in [
        ("patients.csv", PATIENTS), ("scans.csv", SCANS), ("scans2.csv", SCANS2), ("episodes.csv", EPISODES)]}
    (folder / "later").mkdir()
    upd = write_csv(folder / "later" / "patients.csv", UPDATED_PATIENTS)
    treat = write_csv(folder / "later" / "treatments.csv", QUOTED)
    (folder / "later" / "more").mkdir()
    multi = folder / "later" / "more" / "treatments.csv"
    multi.write_bytes(MULTILINE.encode())
    assess = write_csv(folder / "later" / "assessments.csv", SLASHED)
    everything = [f["scans.csv"], f["patients.csv"], f["episodes.csv"], f["scans2.csv"]]
    return [
        (everything, {}),  # rejected: nothing written
        (everything, {"keep_valid": True}),
        (everything, {"dry_run": True}),
        ([upd, treat, assess], {"keep_valid": True}),
        ([assess], {"date_format": "DD/MM/YYYY", "keep_valid": True}),
        ([treat, assess], {"kind": None}),  # the slashed dates' one hint
        ([multi], {"keep_valid": True}),  # quoted cells over lines, CRLF, blank lines
        (everything, {"keep_valid": True}),  # the same again: unchanged
    ]


def fresh(db_url: str, folder: Path):
    """An empty initialised database: a new SQLite file, or the PostgreSQL test database emptied."""
    from sqlmodel import SQLModel

    from monitor.store import init_db, make_engine

    if db_url.startswith("sqlite"):
        db_url = f"sqlite:///{folder / 'monitor.db'}"
    engine = make_engine(db_url)
    if not db_url.startswith("sqlite"):
        SQLModel.metadata.drop_all(engine)
    init_db(engine)
    return engine


def test_many_buckets_import_exactly_as_one(tmp_path, db_url):
    """Splitting an import by patient changes nothing a clinic sees: the records stored, the
    counts, the problems (same order), the rejects files and the audit of replaced values."""
    outcomes, stored = {}, {}
    for bucket in (None, TINY):
        where = tmp_path / f"b{bucket}"
        where.mkdir()
        engine = fresh(db_url, where)
        steps = scenario(where)
        assert bucket_count(steps[0][0], TINY) >= 3
        (where / "rejects").mkdir()
        outcomes[bucket] = [run(engine, paths, where / "rejects", bucket_bytes=bucket, **kw) for paths, kw in steps]
        stored[bucket] = contents(engine)
        engine.dispose()
    assert outcomes[TINY] == outcomes[None]
    assert stored[TINY] == stored[None]
    assert any(o[0] == "rejected" for o in outcomes[None]) and any(o[0] != "rejected" for o in outcomes[None])


@pytest.mark.parametrize("body, is_whole", [
    (SCANS, False),  # plain: split while streaming
    (SCANS.replace("\n", "\r\n"), False),  # Windows line ends
    (QUOTED, False),  # quoted cells and a blank line: the csv module, record by record
    (MULTILINE, False),  # quoted cells over lines, doubled quotes, CRLF, a blank-only line
    (SCANS * 3 + SCANS.replace("hologic", '"hologic, inc"'), False),  # plain, then quoted
    (SCANS.replace("\n", "\r", 3).replace("\r", "\n", 1), False),  # lone carriage returns
    (SCANS.replace("\n", "\r", 1), True),  # a header ended by a lone carriage return: read whole
    (SCANS + 'A1,2024-01-01,hologic,total_hip,left,0.8,,"open\n', False),  # a quote never closed
    (SCANS[:-1], False),  # no line end after the last record
])
def test_buckets_hold_exactly_the_files_cells(tmp_path, body, is_whole):
    """Every record lands in one bucket with its own line number and cells, as the whole-file
    reader gives them: a split never loses, repeats or renumbers a row."""
    from monitor.formats.csv_read import read_cells
    from monitor.services.import_buckets import CsvSource, bucket_of, split_csv

    path = tmp_path / ("treatments.csv" if body in (QUOTED, MULTILINE) else "scans.csv")
    path.write_bytes(body.encode())
    source = CsvSource(path, path.stem, 0)
    (tmp_path / "spool").mkdir()
    split_csv(source, tmp_path / "spool", 5, today=TODAY, risk_codes=STAFF_RISK_FACTORS, date_format=None)
    assert source.is_whole is is_whole
    header, lines, raw = read_cells(path)
    parts = [source.cells(tmp_path / "spool", b) for b in range(5)]
    assert all(h == header for h, _, _ in parts)
    for b, (_, part_lines, part_raw) in enumerate(parts):
        assert (bucket_of(part_raw["mrn"].tolist(), 5) == b).all()
    got = pd.concat([r.assign(line=l) for _, l, r in parts]).sort_values("line").reset_index(drop=True)
    assert got["line"].tolist() == lines.tolist()
    assert got.drop(columns="line").astype(str).values.tolist() == raw.astype(str).values.tolist()


def test_broken_files_fail_as_in_one_bucket(tmp_path):
    """A file that is not UTF-8, has a wrong number of values or a bad row is named with its line
    exactly as a small import names it, however the import is split."""
    from monitor.store import init_db, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'monitor.db'}")
    init_db(engine)
    good = write_csv(tmp_path / "patients.csv", PATIENTS)
    cases = {"scans.csv": SCANS.encode() + b"A1,2024-01-01,hologic,total_hip,left,0.8\n",
             "mri.csv": b"mrn,study_date,joint,side\nA1,2024-01-01,hip,left\nB2,2024-01-0\xff,hip,left\n",
             "episodes.csv": EPISODES.encode()}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    for name in cases:
        paths = [good, tmp_path / name]
        one = run(engine, paths, tmp_path, bucket_bytes=None)
        many = run(engine, paths, tmp_path, bucket_bytes=TINY)
        assert many == one and one[0] == "rejected", name


def test_worker_processes_import_exactly_as_one(tmp_path, db_url, monkeypatch):
    """Checking an import's parts in worker processes changes nothing a clinic sees: the records
    stored, the counts, the problems (same order), the rejects files, the audit and a broken
    file's error are those of one process doing it all."""
    from monitor.services import import_workers

    used = []
    real = import_workers.prepare_buckets

    def spy(*args, **kw):
        used.append(args[2])
        return real(*args, **kw)

    monkeypatch.setattr(import_workers, "prepare_buckets", spy)
    outcomes, stored = {}, {}
    for workers in (1, 2):
        where = tmp_path / f"w{workers}"
        where.mkdir()
        engine = fresh(db_url, where)
        steps = scenario(where)
        (where / "rejects").mkdir()
        broken = where / "mri.csv"
        broken.write_bytes(b"mrn,study_date,joint,side\nA1,2024-01-01,hip,left\nB2,2024-01-0\xff,hip,left\n")
        steps.append(([steps[0][0][1], broken, where / "missing.csv"], {}))
        outcomes[workers] = [run(engine, paths, where / "rejects", bucket_bytes=TINY, workers=workers, **kw)
                             for paths, kw in steps]
        stored[workers] = contents(engine)
        with engine.connect() as conn:  # the same ids too: rows are written in the same order
            stored[workers]["ids"] = {SPECS[k].table: conn.execute(text(f"SELECT * FROM {SPECS[k].table} ORDER BY id"))
                                      .all() for k in IMPORT_ORDER}
        engine.dispose()
        assert bool(used) is (workers == 2)
    assert outcomes[2] == outcomes[1]
    assert stored[2] == stored[1]
    assert outcomes[1][-1][0] == "rejected" and "line 3" in outcomes[1][-1][2]


def test_workers_started_by_a_fork_server_when_threads_run(tmp_path):
    """In the daemon or the web server (threads running) the workers are not forked from the
    threaded process, and the import is still exactly the one-process import."""
    import threading

    from monitor.services import import_workers

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert import_workers.start_method() in ("forkserver", "spawn")
        outcomes, stored = {}, {}
        for workers in (1, 2):
            where = tmp_path / f"w{workers}"
            where.mkdir()
            engine = fresh("sqlite", where)
            paths, kw = scenario(where)[1]
            outcomes[workers] = run(engine, paths, where, bucket_bytes=TINY, workers=workers, **kw)
            stored[workers] = contents(engine)
            engine.dispose()
    finally:
        stop.set()
        thread.join()
    assert outcomes[2] == outcomes[1] and stored[2] == stored[1]


def test_a_split_import_has_an_even_number_of_buckets(tmp_path):
    """Two workers check as many buckets each (an odd last one was checked alone while the other
    worker waited); one bucket stays one, and a count that is even already is kept."""
    path = tmp_path / "scans.csv"
    path.write_bytes(b"x" * 900)
    assert [bucket_count([path], per) for per in (1000, 900, 450, 300, 225, 100)] == [1, 1, 2, 4, 4, 10]
