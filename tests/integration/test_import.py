"""Import into a real database (SQLite, and PostgreSQL when configured): validation, idempotence."""

import json
from datetime import date

import pytest
from sqlalchemy import text

from monitor.config import STAFF_RISK_FACTORS
from monitor.errors import ImportRejected, MonitorError
from monitor.services.importing import import_files
from monitor.store import load_cohort
from tests.conftest import write_csv

TODAY = date(2026, 11, 25)

PATIENTS = """
mrn,name,sex,birth_date,enrolled_on,status,risk_factors
A1,Ann Example,F,1990-05-01,2024-01-10,active,smoking
B2,Bob Example,M,1970-02-03,2023-06-01,,
"""
EPISODES = """
mrn,joint,side,onset_date,diagnosed_on,resolved_on,pregnancy_associated,fracture
A1,hip,left,2024-01-01,2024-01-10,,yes,no
B2,hip,right,2023-05-01,2023-06-01,2023-12-01,no,no
"""
SCANS = """
mrn,scan_date,scanner,site,side,bmd,t_score,z_score
B2,2023-06-15,hologic,total_hip,right,0.801,-1.2,-0.9
B2,2023-06-15,hologic,total_hip,left,0.950,0.1,0.3
B2,2023-06-15,hologic,lumbar_spine,,1.020,-0.3,0.0
"""


def run(engine, paths, **kw):
    kw.setdefault("today", TODAY)
    return import_files(engine, paths, actor="tester", risk_codes=STAFF_RISK_FACTORS, **kw)


def counts(engine):
    return load_cohort(engine).counts()


def base_files(tmp_path):
    return [write_csv(tmp_path / "patients.csv", PATIENTS), write_csv(tmp_path / "episodes.csv", EPISODES),
            write_csv(tmp_path / "scans.csv", SCANS)]


def test_import_loads_every_kind_in_dependency_order(engine, tmp_path):
    """Patients, episodes and scans given together land together, whatever the argument order."""
    files = base_files(tmp_path)
    report = run(engine, list(reversed(files)))
    assert [(r.kind, r.inserted) for r in report.files] == [("patients", 2), ("episodes", 2), ("scans", 3)]
    c = load_cohort(engine)
    a1 = c.patients.set_index("mrn").loc["A1"]
    assert a1["risk_factors"] == "smoking" and a1["status"] == "active"
    assert c.patients.set_index("mrn").loc["B2", "status"] == "active"  # blank status = active
    spine = c.scans.loc[c.scans["site"] == "lumbar_spine"].iloc[0]
    assert spine["side"] == "" and spine["bmd_g_cm2"] == pytest.approx(1.02)
    assert bool(c.episodes.set_index("side").loc["left", "pregnancy_associated"]) is True


def test_reimport_is_idempotent(engine, tmp_path):
    """Re-importing the same rows changes nothing."""
    files = base_files(tmp_path)
    run(engine, files)
    before = counts(engine)
    report = run(engine, files)
    assert [(r.inserted, r.updated, r.unchanged) for r in report.files] == [(0, 0, 2), (0, 0, 2), (0, 0, 3)]
    assert counts(engine) == before


def test_changed_row_updates_and_keeps_the_old_value(engine, tmp_path):
    """A corrected row updates the record; the replaced value stays in the audit log."""
    files = base_files(tmp_path)
    run(engine, files)
    write_csv(tmp_path / "episodes.csv", EPISODES.replace("2024-01-10,,yes", "2024-01-10,2024-09-01,yes"))
    report = run(engine, [tmp_path / "episodes.csv"])
    assert (report.files[0].inserted, report.files[0].updated) == (0, 1)
    ep = load_cohort(engine).episodes.set_index("side")
    assert str(ep.loc["left", "resolved_on"].date()) == "2024-09-01"
    with engine.connect() as conn:
        detail = conn.execute(text("SELECT detail FROM audit_event WHERE action='import' ORDER BY id DESC")).first()[0]
    change = json.loads(detail)["changes"][0]
    assert change["resolved_on"] == {"old": None, "new": "2024-09-01"}


def test_absent_optional_column_leaves_stored_value(engine, tmp_path):
    """A file without a column says nothing about it: the stored value is kept."""
    run(engine, base_files(tmp_path))
    write_csv(tmp_path / "p2.csv", "mrn,sex,birth_date\nA1,F,1990-05-01\n")
    run(engine, [tmp_path / "p2.csv"], kind="patients")
    a1 = load_cohort(engine).patients.set_index("mrn").loc["A1"]
    assert a1["risk_factors"] == "smoking" and a1["name"] == "Ann Example"


def test_all_or_nothing_across_files(engine, tmp_path):
    """One bad cell in one file: nothing from any file is written."""
    files = base_files(tmp_path)
    write_csv(files[2], SCANS + "B2,2023-06-15,hologic,femoral_neck,left,2.5,,\n")
    with pytest.raises(ImportRejected) as info:
        run(engine, files)
    assert "scans.csv, line 5, column 'bmd': expected a number between 0.2 and 2 g/cm², got '2.5'" in str(info.value)
    assert counts(engine)["patients"] == 0


def test_keep_valid_writes_rejects_with_reasons(engine, tmp_path):
    """With --keep-valid the good rows land and the bad ones go to a rejects file."""
    files = base_files(tmp_path)
    write_csv(files[2], SCANS + "ZZ9,2023-06-15,hologic,femoral_neck,left,0.9,,\n")
    out = tmp_path / "rejects"
    out.mkdir()
    report = run(engine, files, keep_valid=True, rejects_dir=out)
    scans = report.files[2]
    assert (scans.inserted, scans.rejected) == (3, 1)
    text_ = (out / "scans.rejects.csv").read_text(encoding="utf-8-sig")
    assert "5,mrn: unknown MRN 'ZZ9': import the patient first,ZZ9" in text_
    assert (out / "scans.rejects.csv").stat().st_mode & 0o777 == 0o600


def test_dry_run_writes_nothing(engine, tmp_path):
    """--dry-run counts what would happen and leaves the database as it was."""
    report = run(engine, base_files(tmp_path), dry_run=True)
    assert report.dry_run and report.files[0].inserted == 2
    assert counts(engine)["patients"] == 0


def test_patient_in_same_invocation_is_known(engine, tmp_path):
    """A new patient and their scans may come in one import."""
    run(engine, base_files(tmp_path))
    assert counts(engine)["scans"] == 3


def test_scan_before_birth_rejected_against_stored_patient(engine, tmp_path):
    """Birth dates already in the database check later imports too."""
    run(engine, base_files(tmp_path)[:1])
    write_csv(tmp_path / "scans.csv", "mrn,scan_date,site,side,bmd\nB2,1969-01-01,total_hip,left,0.9\n")
    with pytest.raises(ImportRejected) as info:
        run(engine, [tmp_path / "scans.csv"])
    assert "scan_date 1969-01-01 is before the patient's birth date 1970-02-03" in str(info.value)


def test_unknown_file_kind_is_an_error(engine, tmp_path):
    """A file whose name does not say what it holds is refused, not guessed."""
    write_csv(tmp_path / "export.csv", "mrn\nA1\n")
    with pytest.raises(MonitorError, match="cannot tell what this file holds"):
        run(engine, [tmp_path / "export.csv"])


def test_every_kind_imports(engine, tmp_path):
    """The clinical kinds beyond the core import with the same rules."""
    files = base_files(tmp_path)
    files += [
        write_csv(tmp_path / "mri.csv", "mrn,study_date,joint,side,t1_low,t2_high,edema_homogeneous,"
                  "subchondral_normal,subchondral_rim,reported_as,contrast\n"
                  "A1,2024-01-09,hip,left,yes,yes,yes,yes,no,osteonecrosis,no\n"),
        write_csv(tmp_path / "pregnancies.csv", "mrn,expected_delivery,delivered_on\nA1,2024-02-01,2024-01-28\n"
                  "A1,2027-03-01,\n"),
        write_csv(tmp_path / "symptoms.csv", "mrn,reported_on,complaint,side,progressive,weight_bearing\n"
                  "A1,2023-12-20,low_back_pain_to_groin,,yes,yes\n"),
        write_csv(tmp_path / "assessments.csv", "mrn,assessed_on,calcium_mg_day,vitamin_d_iu_day,"
                  "serum_25ohd_ng_ml,exercise_min_day,smoker,alcohol_drinks_day\nA1,2024-03-01,800,400,18,20,yes,1\n"),
        write_csv(tmp_path / "treatments.csv", "mrn,drug,dose,started_on,stopped_on\n"
                  "A1,alendronate,70 mg weekly,2024-03-01,2024-06-01\n"),
    ]
    run(engine, files)
    c = counts(engine)
    assert (c["mri"], c["pregnancies"], c["symptoms"], c["assessments"], c["treatments"]) == (1, 2, 1, 1, 1)
    run(engine, files)
    assert counts(engine) == c


def test_init_adds_a_column_a_newer_version_needs(engine):
    """`monitor init` upgrades an older database in place: the new nullable column appears, rows stay."""
    from monitor.store import init_db

    with engine.begin() as conn:
        conn.execute(text("INSERT INTO patient (mrn, sex, birth_date, status, risk_factors) "
                          "VALUES ('OLD1', 'F', '1980-01-01', 'active', '')"))
        conn.execute(text("ALTER TABLE patient DROP COLUMN recorded_on"))
    assert init_db(engine) is False
    with engine.connect() as conn:
        cols = {c["name"] for c in __import__("sqlalchemy").inspect(conn).get_columns("patient")}
        assert "recorded_on" in cols
        assert conn.execute(text("SELECT mrn FROM patient")).scalar() == "OLD1"


def test_patient_without_any_date_keeps_one_due_date(engine, tmp_path):
    """No episode, scan or enrolment date: the baseline is anchored on the import day, so the due
    date does not move with the calendar (a moving due date would remind every night)."""
    from monitor.config import Config
    from monitor.services.evaluation import evaluate_db

    write_csv(tmp_path / "patients.csv", "mrn,sex,birth_date\nNODATE,M,1970-01-01\n")
    run(engine, [tmp_path / "patients.csv"], today=date(2026, 3, 1))
    due = [evaluate_db(engine, as_of=d, config=Config()).schedule["due_date"].iloc[0]
           for d in (date(2026, 3, 1), date(2026, 3, 2), date(2026, 9, 1))]
    assert {str(d.date()) for d in due} == {"2026-03-01"}


def test_blank_status_keeps_the_stored_status(engine, tmp_path):
    """A re-export with an empty status cell must not re-activate a discharged patient."""
    write_csv(tmp_path / "patients.csv", "mrn,sex,birth_date,status\nD1,F,1970-01-01,discharged\n")
    run(engine, [tmp_path / "patients.csv"])
    write_csv(tmp_path / "patients.csv", "mrn,sex,birth_date,status\nD1,F,1970-01-01,\n")
    report = run(engine, [tmp_path / "patients.csv"])
    assert (report.files[0].updated, report.files[0].unchanged) == (0, 1)
    assert load_cohort(engine).patients.set_index("mrn").loc["D1", "status"] == "discharged"


def test_an_older_database_asks_for_monitor_init(engine):
    """Using an older database with a newer version says what to do instead of a traceback."""
    from monitor.errors import DatabaseError
    from monitor.store import init_db, require_initialised

    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE patient DROP COLUMN recorded_on"))
    with pytest.raises(DatabaseError, match=r"older version \(no patient.recorded_on\): run `monitor init`"):
        require_initialised(engine)
    init_db(engine)
    require_initialised(engine)


def demo_files():
    from tests.conftest import DEMO

    return sorted(DEMO.glob("*.csv"))


def test_reimport_of_the_demo_cohort_changes_nothing(engine):
    """Re-sending the clinic's unchanged export must not crash on blank yes/no cells (e.g. menopause unknown)."""
    run(engine, demo_files(), today=date(2026, 11, 20))
    before = counts(engine)
    for path in demo_files():
        report = run(engine, [path], today=date(2026, 11, 20))
        assert (report.files[0].inserted, report.files[0].updated) == (0, 0), path.name
        assert report.files[0].unchanged == report.files[0].rows
    dry = run(engine, demo_files(), today=date(2026, 11, 20), dry_run=True)
    assert all((r.inserted, r.updated) == (0, 0) for r in dry.files)
    assert counts(engine) == before


def test_blank_optional_cell_keeps_the_stored_value(engine, tmp_path):
    """A blank pregnancy_associated on re-import must not drop the urgent pregnancy flag of a stored episode."""
    run(engine, base_files(tmp_path))
    write_csv(tmp_path / "episodes.csv", """
        mrn,joint,side,onset_date,diagnosed_on,resolved_on,pregnancy_associated,fracture
        A1,hip,left,2024-01-01,,,,
        """)
    write_csv(tmp_path / "patients.csv", """
        mrn,name,sex,birth_date,enrolled_on,status,risk_factors,postmenopausal
        A1,,F,1990-05-01,,,,
        """)
    write_csv(tmp_path / "scans.csv", """
        mrn,scan_date,scanner,site,side,bmd,t_score,z_score
        B2,2023-06-15,,total_hip,right,0.801,,
        """)
    report = run(engine, [tmp_path / "patients.csv", tmp_path / "episodes.csv", tmp_path / "scans.csv"])
    assert [(r.inserted, r.updated, r.unchanged) for r in report.files] == [(0, 0, 1)] * 3
    c = load_cohort(engine)
    ep = c.episodes.set_index("side").loc["left"]
    assert bool(ep["pregnancy_associated"]) is True and str(ep["diagnosed_on"].date()) == "2024-01-10"
    a1 = c.patients.set_index("mrn").loc["A1"]
    assert (a1["name"], a1["risk_factors"], str(a1["enrolled_on"].date())) == ("Ann Example", "smoking", "2024-01-10")
    scan = c.scans.loc[(c.scans["side"] == "right")].iloc[0]
    assert (scan["scanner"], scan["t_score"]) == ("hologic", pytest.approx(-1.2))


def test_blank_optional_cell_of_a_new_record_gets_the_default(engine, tmp_path):
    """A new episode with a blank pregnancy cell is recorded as not pregnancy-associated, as before."""
    run(engine, base_files(tmp_path)[:1])
    write_csv(tmp_path / "episodes.csv", "mrn,joint,side,onset_date,pregnancy_associated,fracture\n"
                                         "A1,hip,right,2025-01-01,,\n")
    run(engine, [tmp_path / "episodes.csv"])
    ep = load_cohort(engine).episodes.iloc[0]
    assert bool(ep["pregnancy_associated"]) is False and bool(ep["fracture"]) is False


def test_new_birth_date_after_a_recorded_event_is_rejected(engine, tmp_path):
    """A corrected birth date later than a stored scan would make that scan impossible: refuse it."""
    run(engine, base_files(tmp_path))
    write_csv(tmp_path / "patients.csv", "mrn,sex,birth_date\nA1,F,1990-05-01\nB2,M,2023-07-01\n")
    with pytest.raises(ImportRejected) as info:
        run(engine, [tmp_path / "patients.csv"])
    message = str(info.value)
    assert ("patients.csv, line 3, column 'birth_date': birth_date 2023-07-01 is after the patient's "
            "recorded episode onset of 2023-05-01") in message
    assert "A1" not in message and "1990" not in message
    assert str(load_cohort(engine).patients.set_index("mrn").loc["B2", "birth_date"].date()) == "1970-02-03"


def test_same_record_in_two_files_of_one_import(engine, tmp_path):
    """Two files giving one scan two different BMDs must not silently keep whichever came last."""
    run(engine, base_files(tmp_path)[:1])
    header = "mrn,scan_date,site,side,bmd\n"
    write_csv(tmp_path / "scans.csv", header + "B2,2024-01-05,total_hip,left,0.9\nB2,2024-01-05,total_hip,right,0.8\n")
    write_csv(tmp_path / "scans2.csv", header + "B2,2024-01-05,total_hip,right,0.8\nB2,2024-01-05,total_hip,left,0.7\n")
    with pytest.raises(ImportRejected) as info:
        run(engine, [tmp_path / "scans.csv", tmp_path / "scans2.csv"], kind="scans")
    assert str(info.value).splitlines()[1:] == [
        "  scans2.csv, line 3: same record (mrn, scan_date, site, side) as scans.csv line 2 but with other "
        "values; keep one"]
    assert counts(engine)["scans"] == 0
    write_csv(tmp_path / "scans2.csv", header + "B2,2024-01-05,total_hip,right,0.8\n")
    report = run(engine, [tmp_path / "scans.csv", tmp_path / "scans2.csv"], kind="scans")
    assert [(r.inserted, r.unchanged) for r in report.files] == [(2, 0), (0, 1)]
    assert counts(engine)["scans"] == 2


def test_import_prepares_outside_the_write_lock_and_redoes_after_a_concurrent_change(tmp_path, monkeypatch):
    """A long import must not lock out the nightly run or staff for its whole duration (ENGINEERING.md),
    and a change made meanwhile must not be overwritten with values computed before it."""
    import sqlite3

    import pandas as pd

    from monitor.store import init_db, make_engine

    db = tmp_path / "monitor.db"
    engine = make_engine(f"sqlite:///{db}")
    init_db(engine)
    run(engine, base_files(tmp_path))
    write_csv(tmp_path / "patients.csv", "mrn,name,sex,birth_date\nA1,Ann Mine,F,1990-05-01\n")
    reads = []
    real_read = pd.read_sql_query

    def read_while_another_writes(*args, **kwargs):
        if not reads:  # another writer (staff renaming the patient) must get the lock at once;
            # the rows about to be updated are re-read under the lock and found changed
            other = sqlite3.connect(db, timeout=0.2, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE patient SET name = 'Ann Other' WHERE mrn = 'A1'")
            other.execute("COMMIT")
            other.close()
        reads.append(args[0])
        return real_read(*args, **kwargs)

    monkeypatch.setattr(pd, "read_sql_query", read_while_another_writes)
    report = run(engine, [tmp_path / "patients.csv"])
    assert report.files[0].updated == 1
    with engine.connect() as conn:
        detail = conn.execute(text("SELECT detail FROM audit_event WHERE actor='tester' ORDER BY id DESC")).first()[0]
    assert json.loads(detail)["changes"][0]["name"] == {"old": "Ann Other", "new": "Ann Mine"}


def test_rejects_files_never_overwrite_each_other(engine, tmp_path):
    """Two clinics' scans.csv in one import (or yesterday's rejects) must each keep their rejected rows for follow-up."""
    run(engine, base_files(tmp_path)[:1])
    header = "mrn,scan_date,site,side,bmd\n"
    for folder, bmd in (("north", "2.5"), ("south", "3.5")):
        (tmp_path / folder).mkdir()
        write_csv(tmp_path / folder / "scans.csv", header + f"B2,2024-01-0{len(folder)},total_hip,left,{bmd}\n")
    out = tmp_path / "rejects"
    out.mkdir()
    (out / "scans.rejects.csv").write_text("yesterday's rejects\n")
    report = run(engine, [tmp_path / "north" / "scans.csv", tmp_path / "south" / "scans.csv"], keep_valid=True,
                 rejects_dir=out)
    assert [r.rejects_file for r in report.files] == [str(out / "scans.rejects-2.csv"), str(out / "scans.rejects-3.csv")]
    assert (out / "scans.rejects.csv").read_text() == "yesterday's rejects\n"
    assert "'2.5'" in (out / "scans.rejects-2.csv").read_text(encoding="utf-8-sig") and "'3.5'" in (out / "scans.rejects-3.csv").read_text(encoding="utf-8-sig")


@pytest.mark.parametrize("kind, content, message", [
    ("patients", "mrn,sex,birth_date\nY0,F,0000-01-01\n",
     "patients.csv, line 2, column 'birth_date': date 0000-01-01 is before 1900-01-01; check the year"),
    ("patients", "mrn,sex,birth_date\nY1,F,1899-12-31\n",
     "patients.csv, line 2, column 'birth_date': date 1899-12-31 is before 1900-01-01; check the year"),
    ("scans", "mrn,scan_date,site,side,bmd\nB2,0001-01-01,total_hip,left,0.9\n",
     "scans.csv, line 2, column 'scan_date': date 0001-01-01 is before 1900-01-01; check the year"),
    ("pregnancies", "mrn,expected_delivery\nA1,3000-01-01\n",
     "pregnancies.csv, line 2, column 'expected_delivery': expected_delivery 3000-01-01 is more than 44 weeks "
     "after today (2026-11-25)"),
    ("pregnancies", "mrn,expected_delivery\nA1,2027-09-30\n",
     "pregnancies.csv, line 2, column 'expected_delivery': expected_delivery 2027-09-30 is more than 44 weeks "
     "after today (2026-11-25)"),
    ("treatments", "mrn,drug,started_on,stopped_on\nA1,alendronate,2025-01-01,2036-11-26\n",
     "treatments.csv, line 2, column 'stopped_on': stopped_on 2036-11-26 is more than 10 years after today "
     "(2026-11-25)"),
    ("treatments", "mrn,drug,started_on\nA1," + "x" * 65 + ",2025-01-01\n",
     "treatments.csv, line 2, column 'drug': at most 64 characters, got 65"),
    ("patients", "mrn,sex,birth_date\n" + "M" * 65 + ",F,1980-01-01\n",
     "patients.csv, line 2, column 'mrn': at most 64 characters, got 65"),
])
def test_absurd_dates_and_too_long_text_are_rejected(engine, tmp_path, kind, content, message):
    """A year 0000, a delivery in the year 3000 or an over-long MRN is a typing error: refuse it, never store it."""
    run(engine, base_files(tmp_path)[:1])
    before = counts(engine)
    write_csv(tmp_path / f"{kind}.csv", content)
    with pytest.raises(ImportRejected) as info:
        run(engine, [tmp_path / f"{kind}.csv"])
    assert message in str(info.value)
    assert counts(engine) == before


def test_future_dates_within_their_bounds_are_accepted(engine, tmp_path):
    """A delivery expected in 44 weeks and a treatment planned to stop in 10 years are real plans."""
    run(engine, base_files(tmp_path)[:1])
    write_csv(tmp_path / "pregnancies.csv", "mrn,expected_delivery\nA1,2027-09-29\n")
    write_csv(tmp_path / "treatments.csv", "mrn,drug,started_on,stopped_on\nA1,alendronate,2025-01-01,2036-11-25\n")
    run(engine, [tmp_path / "pregnancies.csv", tmp_path / "treatments.csv"])
    assert (counts(engine)["pregnancies"], counts(engine)["treatments"]) == (1, 1)


def test_rejects_file_round_trip(engine, tmp_path):
    """Staff fix the rejected rows in the rejects file and import it as it is: a T-score of -2.0 stays a number."""
    run(engine, base_files(tmp_path)[:1])
    write_csv(tmp_path / "scans.csv", "mrn,scan_date,site,side,bmd,t_score\n"
                                      "B2,2024-01-05,total_hip,left,0.9,-2.0\nB2,2024-01-05,total_hip,right,9,+1.5\n")
    write_csv(tmp_path / "patients.csv", "mrn,name,sex,birth_date\nC3,=HYPERLINK(\"x\"),Q,1980-01-01\n")
    run(engine, [tmp_path / "patients.csv", tmp_path / "scans.csv"], keep_valid=True, rejects_dir=tmp_path)
    scans_rejects = (tmp_path / "scans.rejects.csv").read_text(encoding="utf-8-sig")
    assert scans_rejects.splitlines()[1].endswith(",B2,2024-01-05,total_hip,right,9,+1.5")
    patients_rejects = (tmp_path / "patients.rejects.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in patients_rejects
    (tmp_path / "scans.rejects.csv").write_text(scans_rejects.replace("right,9,", "right,0.95,"))
    (tmp_path / "patients.rejects.csv").write_text(patients_rejects.replace(",Q,", ",F,"))
    report = run(engine, [tmp_path / "patients.rejects.csv", tmp_path / "scans.rejects.csv"])
    assert [(r.kind, r.inserted) for r in report.files] == [("patients", 1), ("scans", 1)]
    c = load_cohort(engine)
    assert c.patients.set_index("mrn").loc["C3", "name"] == '=HYPERLINK("x")'
    assert c.scans.set_index("side").loc["right", "t_score"] == pytest.approx(1.5)
    assert c.scans.set_index("side").loc["left", "t_score"] == pytest.approx(-2.0)


def test_a_patient_added_meanwhile_is_not_added_twice(tmp_path, monkeypatch):
    """Two clerks importing the same new patient at once: one record, no database error."""
    import sqlite3

    import pandas as pd

    from monitor.store import init_db, make_engine

    db = tmp_path / "monitor.db"
    engine = make_engine(f"sqlite:///{db}")
    init_db(engine)
    write_csv(tmp_path / "patients.csv", "mrn,sex,birth_date\nN1,F,1980-01-01\n")
    real_read, reads = pd.read_sql_query, []

    def read_while_another_imports(*args, **kwargs):
        if not reads:
            with sqlite3.connect(db, isolation_level=None) as other:
                other.execute("INSERT INTO patient (mrn, sex, birth_date, status, risk_factors) "
                              "VALUES ('N1', 'F', '1980-01-01', 'active', '')")
        reads.append(args[0])
        return real_read(*args, **kwargs)

    monkeypatch.setattr(pd, "read_sql_query", read_while_another_imports)
    report = run(engine, [tmp_path / "patients.csv"])
    assert (report.files[0].inserted, report.files[0].unchanged) == (0, 1)
    assert counts(engine)["patients"] == 1


def test_new_birth_date_after_the_kept_enrolment_is_rejected(engine, tmp_path):
    """A blank enrolment cell keeps the stored enrolment date, so a birth date after it is impossible."""
    write_csv(tmp_path / "patients.csv", "mrn,sex,birth_date,enrolled_on\nE1,F,1990-01-01,2020-01-01\n")
    run(engine, [tmp_path / "patients.csv"])
    write_csv(tmp_path / "patients.csv", "mrn,sex,birth_date,enrolled_on\nE1,F,2021-01-01,\n")
    with pytest.raises(ImportRejected, match="birth_date 2021-01-01 is after the patient's recorded enrolment "
                                              "of 2020-01-01"):
        run(engine, [tmp_path / "patients.csv"])
