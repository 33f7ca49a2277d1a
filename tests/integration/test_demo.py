"""The bundled demo cohort and `monitor demo`."""

import csv
import os
from datetime import date

from click.testing import CliRunner

from monitor.cli.main import main
from monitor.config import load_config
from monitor.demo.run import DEMO_KINDS, demo_manifest
from monitor.demo.synth import generate, write_cohort
from tests.conftest import DEMO, REPO


def test_bundled_files_match_the_generator(tmp_path):
    """The committed demo CSVs are exactly what `monitor synth` makes: they never drift."""
    m = demo_manifest()
    write_cohort(generate(m["patients"], seed=m["seed"], end_on=date.fromisoformat(m["end_on"])), tmp_path)
    for kind in DEMO_KINDS:
        assert (tmp_path / f"{kind}.csv").read_bytes() == (DEMO / f"{kind}.csv").read_bytes(), kind


def test_generator_is_deterministic_and_seeded():
    """Same seed, same cohort; another seed, another cohort."""
    a = generate(50, seed=3, end_on=date(2026, 1, 1))
    b = generate(50, seed=3, end_on=date(2026, 1, 1))
    c = generate(50, seed=4, end_on=date(2026, 1, 1))
    assert all(a[k].equals(b[k]) for k in a)
    assert not a["scans"].equals(c["scans"])


def test_example_config_is_valid_and_equals_defaults():
    """The shipped example lists the defaults; loading it changes nothing."""
    from monitor.config import Config

    assert load_config(REPO / "data" / "clinic.example.toml") == Config()


def test_demo_runs_every_job(tmp_path):
    """`monitor demo` builds a fresh database and writes the lists a new user looks at."""
    out = tmp_path / "demo-output"
    result = CliRunner().invoke(main, ["demo", "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Surveillance on 2026-11-20 (" in result.output
    assert (out / "monitor.db").is_file()
    with (out / "overdue.csv").open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and {r["status"] for r in rows} == {"due", "overdue"}
    assert os.stat(out / "overdue.csv").st_mode & 0o777 == 0o600
    # Running it again starts from a fresh database, not a doubled one.
    again = CliRunner().invoke(main, ["demo", "-o", str(out)], catch_exceptions=False)
    assert again.output.splitlines()[0] == result.output.splitlines()[0]


def test_demo_cohort_exercises_every_flag():
    """Every flag the software knows is raised at least once in the demo, so staff can see each one."""
    from monitor.rules.evaluation import evaluate
    from monitor.rules.flags import FLAG_CODES, severities
    from tests.unit.test_flags import _to_cohort

    m = demo_manifest()
    end = date.fromisoformat(m["end_on"])
    frames = generate(m["patients"], seed=m["seed"], end_on=end)
    evaluation = evaluate(_to_cohort(frames), as_of=end, config=load_config(None))
    raised = set(zip(evaluation.flags["code"], evaluation.flags["severity"]))
    assert {c for c, _ in raised} == set(FLAG_CODES)
    assert all(s in severities(c) for c, s in raised)


def test_fast_sqlite_read_equals_the_plain_read(tmp_path):
    """Reading codes and dates as numbers is an optimisation only: the frames are identical."""
    import pandas as pd
    from sqlalchemy import text

    from monitor.config import STAFF_RISK_FACTORS
    from monitor.services.importing import import_files
    from monitor.store import TABLES, init_db, make_engine, read_table, reading

    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    init_db(engine)
    import_files(engine, sorted(DEMO.glob("*.csv")), today=date(2026, 11, 25), actor="t",
                 risk_codes=STAFF_RISK_FACTORS)
    with reading(engine) as conn:
        for kind in TABLES:
            pd.testing.assert_frame_equal(read_table(conn, kind), read_table(conn, kind, numeric=False))
    # A value outside the vocabulary (written by hand, not by an import) still reads as it is.
    with engine.begin() as conn:
        conn.execute(text("UPDATE dxa_measurement SET scanner = 'norland' WHERE id = 1"))
    with reading(engine) as conn:
        scans = read_table(conn, "scans")
    assert "norland" in set(scans["scanner"])
