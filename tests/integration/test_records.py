"""Retracting and restoring recorded records (SQLite, and PostgreSQL when configured)."""

import json
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from monitor.services import records
from monitor.config import STAFF_RISK_FACTORS, load_config
from monitor.errors import DatabaseError, MonitorError, UnknownPatient
from monitor.services.importing import import_files
from monitor.services.patient_view import describe_patient
from monitor.rules.evaluation import evaluate
from monitor.services.evaluation import evaluate_db, patient_history
from monitor.store import init_db, load_cohort, read_table, reading, require_initialised
from tests.conftest import write_csv

TODAY = date(2026, 11, 25)
AS_OF = date(2025, 12, 15)
NOW = datetime(2026, 11, 25, 9, 30, tzinfo=timezone.utc)
LATER = datetime(2026, 11, 26, 14, 0, tzinfo=timezone.utc)

PATIENTS = """
mrn,name,sex,birth_date,enrolled_on
A1,Ann Example,F,1980-05-01,2024-03-15
B2,Bob Example,M,1970-02-03,2023-06-01
"""
# The onset was typed as 2024-03-01; the real onset is 2024-03-10.
WRONG_EPISODE = """
mrn,joint,side,onset_date,diagnosed_on,resolved_on
A1,hip,left,2024-03-01,2024-03-15,
"""
RIGHT_EPISODE = """
mrn,joint,side,onset_date,diagnosed_on,resolved_on
A1,hip,left,2024-03-10,2024-03-15,
"""
SCANS = """
mrn,scan_date,scanner,site,side,bmd,t_score
A1,2024-04-01,hologic,total_hip,left,0.801,-1.2
A1,2024-04-01,hologic,femoral_neck,left,0.790,-1.1
A1,2024-04-01,hologic,total_hip,right,0.950,0.1
A1,2024-04-01,hologic,femoral_neck,right,0.940,0.0
A1,2024-04-01,hologic,lumbar_spine,,1.020,-0.3
A1,2024-10-01,hologic,total_hip,left,0.850,-0.8
A1,2024-10-01,hologic,total_hip,right,0.951,0.1
"""
OTHERS = {
    "mri.csv": "mrn,study_date,joint,side,reported_as\nA1,2024-03-16,hip,left,toh\n",
    "pregnancies.csv": "mrn,expected_delivery,delivered_on\nA1,2024-09-01,2024-08-28\n",
    "symptoms.csv": "mrn,reported_on,complaint,side,progressive\nA1,2024-03-12,hip_pain,left,yes\n"
                    "A1,2024-03-12,low_back_pain_to_groin,,no\n",
    "assessments.csv": "mrn,assessed_on,calcium_mg_day\nA1,2024-03-20,800\n",
    "treatments.csv": "mrn,drug,dose,started_on\nA1,Alendronic acid,70 mg weekly,2024-04-05\n",
}
# One key per kind, in the import file's terms, and the frame row it names.
KEYS = {
    "episodes": ["hip", "left", "2024-03-01"],
    "scans": ["2024-04-01", "total_hip", "left"],
    "mri": ["2024-03-16", "hip", "left"],
    "pregnancies": ["2024-09-01"],
    "symptoms": ["2024-03-12", "low_back_pain_to_groin"],
    "assessments": ["2024-03-20"],
    "treatments": ["alendronic acid", "2024-04-05"],
}


def load(engine, tmp_path, *texts):
    """Import (file name, CSV text) pairs, each time from a new folder."""
    folder = tmp_path / f"import{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    paths = [write_csv(folder / file, body) for file, body in texts]
    return import_files(engine, paths, today=TODAY, actor="tester", risk_codes=STAFF_RISK_FACTORS)


@pytest.fixture
def loaded(engine, tmp_path):
    load(engine, tmp_path, ("patients.csv", PATIENTS), ("episodes.csv", WRONG_EPISODE), ("scans.csv", SCANS),
         *OTHERS.items())
    return engine


def retract(engine, kind, key, *, mrn="A1", reason="typed wrong", by=None, now=NOW):
    return records.retract(engine, kind, mrn, key, reason=reason, actor="clerk1", on_behalf_of=by, now=now)


def restore(engine, kind, key, *, mrn="A1", reason="retracted by mistake", by=None, now=LATER):
    return records.restore(engine, kind, mrn, key, reason=reason, actor="clerk2", on_behalf_of=by, now=now)


def status_of(engine, mrn="A1", as_of=AS_OF):
    s = evaluate_db(engine, as_of=as_of, config=load_config(None)).schedule.set_index("mrn").loc[mrn]
    return s["status"], int(s["interval_months"]), s["due_date"].date()


def test_correcting_a_wrong_onset_gives_back_the_interval_and_status(loaded, tmp_path):
    """A typo in an onset must not turn one episode into 'recurrent TOH' and make the patient overdue."""
    before = status_of(loaded)
    assert before == ("not_due", 24, date(2026, 10, 1))
    load(loaded, tmp_path, ("episodes.csv", RIGHT_EPISODE))  # the corrected row: a new natural key
    assert status_of(loaded)[:2] == ("overdue", 12)  # two episodes: recurrent, 12-month interval
    retract(loaded, "episodes", ["hip", "left", "2024-03-01"], reason="onset typed wrong; real onset 2024-03-10")
    assert status_of(loaded) == before
    onsets = load_cohort(loaded).episodes["onset_date"].dt.date.tolist()
    assert onsets == [date(2024, 3, 10)]


@pytest.mark.parametrize("kind", list(KEYS))
def test_a_retracted_record_is_kept_but_no_frame_holds_it(loaded, kind):
    """Every rule reads the cohort frames: a retracted record must be in none of them, on either read path."""
    full = {numeric: read_table_all(loaded, kind, numeric) for numeric in (True, False)}
    done = retract(loaded, kind, KEYS[kind])
    assert len(done) == 1
    for numeric in (True, False):
        frame = read_table_all(loaded, kind, numeric)
        assert len(frame) == len(full[numeric]) - 1, (kind, numeric)
    assert len(getattr(patient_history(loaded, "A1"), kind)) == len(full[True]) - 1
    with reading(loaded) as conn:
        table = records.TABLE_OF[kind]
        assert conn.execute(text(f"SELECT count(*) FROM {table} WHERE id = :id"), {"id": done[0].record_id}).scalar() == 1


def read_table_all(engine, kind, numeric):
    with reading(engine) as conn:
        return read_table(conn, kind, numeric=numeric)


def test_the_numeric_read_and_the_plain_read_agree_after_a_retraction(loaded):
    """The fast SQLite read must drop exactly the rows the plain read drops, or rules differ by path."""
    retract(loaded, "scans", ["2024-04-01"])
    for kind in ("scans", "episodes", "symptoms"):
        a, b = read_table_all(loaded, kind, True), read_table_all(loaded, kind, False)
        assert a.sort_values(list(a.columns[:4])).reset_index(drop=True).equals(
            b.sort_values(list(b.columns[:4])).reset_index(drop=True)), kind


def test_restoring_brings_the_record_back_to_every_rule(loaded):
    """A retraction made by mistake is undone, and the record counts again."""
    retract(loaded, "episodes", ["hip", "left", "2024-03-01"])
    assert len(load_cohort(loaded).episodes) == 0
    done = restore(loaded, "episodes", ["hip", "left", "2024-03-01"])
    assert [d.key_text for d in done] == ["hip left 2024-03-01"]
    assert len(load_cohort(loaded).episodes) == 1
    retract(loaded, "episodes", ["hip", "left", "2024-03-01"], reason="wrong after all")  # again: a new row
    assert len(load_cohort(loaded).episodes) == 0
    history = records.patient_retractions(loaded, "A1")
    assert [(h.reason, h.restore_reason) for h in history] == [("typed wrong", "retracted by mistake"),
                                                               ("wrong after all", None)]


def test_retract_and_restore_are_audited_without_patient_values(loaded):
    """Who changed the record, for whom, when and why must be traceable; the log holds no patient values."""
    done = retract(loaded, "episodes", ["hip", "left", "2024-03-01"], by="Dr Lee", reason="onset typed wrong")
    restore(loaded, "episodes", ["hip", "left", "2024-03-01"], reason="it was right")
    with reading(loaded) as conn:
        rows = conn.execute(text("SELECT at, actor, action, subject, rows, detail FROM audit_event "
                                 "WHERE action IN ('retract', 'restore') ORDER BY id")).all()
    assert [(r.actor, r.action, r.rows) for r in rows] == [("clerk1", "retract", 1), ("clerk2", "restore", 1)]
    first, second = (json.loads(r.detail) for r in rows)
    record_id, retraction_id = done[0].record_id, done[0].retraction_id
    assert [r.subject for r in rows] == [f"episode:{record_id}"] * 2
    assert first == {"kind": "episodes", "on_behalf_of": "Dr Lee", "reason": "onset typed wrong",
                     "records": [{"table": "episode", "record_id": record_id, "retraction_id": retraction_id}]}
    assert second == {"kind": "episodes", "on_behalf_of": None, "reason": "it was right",
                      "records": [{"table": "episode", "record_id": record_id, "retraction_id": retraction_id}]}
    assert rows[0].at is not None
    logged = " ".join(f"{r.subject} {r.detail}" for r in rows)
    for value in ("A1", "Ann", "2024-03-01", "hip", "left"):
        assert value not in logged


def test_a_key_that_matches_nothing_is_an_error_and_writes_nothing(loaded):
    """Retracting 'nothing' silently would leave the wrong record counting while staff think it is gone."""
    with pytest.raises(records.NoSuchRecord) as caught:
        retract(loaded, "episodes", ["hip", "right", "2024-03-01"])
    assert str(caught.value).startswith("no such record: episodes A1 hip right 2024-03-01")
    assert "hip left 2024-03-01" in str(caught.value)  # what the patient does have
    with pytest.raises(UnknownPatient):
        retract(loaded, "episodes", ["hip", "left", "2024-03-01"], mrn="ZZ9")
    with reading(loaded) as conn:
        assert conn.execute(text("SELECT count(*) FROM retraction")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM audit_event WHERE action = 'retract'")).scalar() == 0


def test_retracting_twice_and_restoring_what_counts_are_clear_errors(loaded):
    """Staff must be told the record is already retracted (or not), not get a silent no-op."""
    retract(loaded, "episodes", ["hip", "left", "2024-03-01"])
    with pytest.raises(records.AlreadyRetracted, match="already retracted"):
        retract(loaded, "episodes", ["hip", "left", "2024-03-01"])
    with pytest.raises(records.NotRetracted, match="is not retracted"):
        restore(loaded, "assessments", ["2024-03-20"])


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_reason_is_required(loaded, reason):
    """A correction without a reason cannot be reviewed later."""
    with pytest.raises(MonitorError, match="reason"):
        retract(loaded, "episodes", ["hip", "left", "2024-03-01"], reason=reason)


@pytest.mark.parametrize("kind, key, message", [
    ("episodes", ["hip", "left"], "episodes take JOINT SIDE ONSET_DATE"),
    ("episodes", ["elbow", "left", "2024-03-01"], "joint: expected one of hip, knee, ankle, foot, got 'elbow'"),
    ("episodes", ["hip", "left", "01/03/2024"], "onset_date: expected a date YYYY-MM-DD, got '01/03/2024'"),
    ("scans", ["2024-04-01", "total_hip"], "total_hip needs a side: left or right"),
    ("scans", ["2024-04-01", "lumbar_spine", "left"], "the lumbar spine has no side"),
    ("patients", ["x"], "unknown kind 'patients'"),
])
def test_a_malformed_key_is_a_usage_error(loaded, kind, key, message):
    """A mistyped key is explained in the import file's terms before anything is looked up."""
    with pytest.raises(records.BadKey) as caught:
        retract(loaded, kind, key)
    assert message in str(caught.value)
    assert caught.value.exit_code == 2


def test_codes_are_accepted_in_any_letter_case(loaded):
    """Staff type codes as they see them in a spreadsheet, as imports accept them."""
    done = retract(loaded, "episodes", ["HIP", "Left", "2024-03-01"])
    assert [d.key_text for d in done] == ["hip left 2024-03-01"]
    done = retract(loaded, "treatments", ["ALENDRONIC ACID", "2024-04-05"])
    assert [d.key_text for d in done] == ["Alendronic acid 2024-04-05"]


def test_a_scan_date_alone_retracts_every_site_of_that_scan(loaded):
    """A scan filed under the wrong patient or date is wrong at every site; one command takes it all back."""
    done = retract(loaded, "scans", ["2024-10-01"])
    assert sorted(d.key_text for d in done) == ["2024-10-01 total_hip left", "2024-10-01 total_hip right"]
    status, interval, due = status_of(loaded)
    assert due == date(2026, 4, 1)  # the earlier scan is the last one again
    retract(loaded, "scans", ["2024-04-01", "lumbar_spine"])
    assert "lumbar_spine" not in set(load_cohort(loaded).scans["site"])
    done = retract(loaded, "scans", ["2024-04-01"])  # the rest of that scan
    assert len(done) == 4
    with pytest.raises(records.AlreadyRetracted):
        retract(loaded, "scans", ["2024-04-01"])
    assert len(restore(loaded, "scans", ["2024-04-01"])) == 5


def test_reimporting_a_retracted_row_leaves_it_retracted(loaded, tmp_path):
    """A nightly re-import of the clinic's full export must not bring a retracted record back."""
    retract(loaded, "episodes", ["hip", "left", "2024-03-01"])
    report = load(loaded, tmp_path, ("episodes.csv", WRONG_EPISODE))
    assert (report.files[0].inserted, report.files[0].updated, report.files[0].unchanged) == (0, 0, 1)
    assert len(load_cohort(loaded).episodes) == 0
    assert len(records.patient_retractions(loaded, "A1", active_only=True)) == 1


def test_rules_other_than_the_schedule_ignore_a_retracted_record(loaded, tmp_path):
    """Flags rest on the same history: a retracted second episode raises no recurrence flag."""
    load(loaded, tmp_path, ("episodes.csv", "mrn,joint,side,onset_date\nA1,hip,right,2024-09-01\n"))
    config = load_config(None)

    def codes():
        return set(evaluate(patient_history(loaded, "A1"), as_of=AS_OF, config=config).flags["code"])

    assert "recurrence_contralateral" in codes()
    retract(loaded, "episodes", ["hip", "right", "2024-09-01"], reason="other patient's episode")
    assert "recurrence_contralateral" not in codes()


def test_show_marks_retracted_records_with_who_when_and_why(loaded):
    """The clinician reading the history sees what was taken back, by whom and why, apart from what counts."""
    retract(loaded, "episodes", ["hip", "left", "2024-03-01"], by="Dr Lee", reason="onset typed wrong")
    retract(loaded, "scans", ["2024-10-01"], reason="scan of another patient")
    text_ = describe_patient(loaded, "A1", as_of=AS_OF, config=load_config(None))
    assert "Episodes (0):" in text_
    assert "DXA scans (1)" in text_
    section = text_[text_.index("Retracted records (3)"):]
    assert ("  episodes hip left 2024-03-01 (diagnosed_on 2024-03-15, pregnancy_associated no, fracture no)\n"
            "      retracted 2026-11-25 09:30 +00:00 by clerk1 for Dr Lee: onset typed wrong") in section
    assert "  scans 2024-10-01 total_hip left (scanner hologic, bmd 0.85, t_score -0.8)" in section


def test_records_list_shows_active_and_restored_retractions(loaded):
    """The correction history of a patient is reviewable, including retractions that were undone."""
    retract(loaded, "symptoms", ["2024-03-12", "hip_pain", "left"])
    restore(loaded, "symptoms", ["2024-03-12", "hip_pain", "left"], by="Dr Lee")
    retract(loaded, "assessments", ["2024-03-20"])
    rows = records.patient_retractions(loaded, "A1")
    assert [(r.kind, r.key_text, r.is_active) for r in rows] == [
        ("symptoms", "2024-03-12 hip_pain left", False), ("assessments", "2024-03-20", True)]
    assert rows[0].retracted_at == NOW and rows[0].restored_at == LATER
    assert (rows[0].restored_by, rows[0].restored_on_behalf_of) == ("clerk2", "Dr Lee")
    assert records.patient_retractions(loaded, "B2") == []


def test_one_record_has_at_most_one_active_retraction(loaded):
    """The database itself refuses a second active retraction (two clerks at once)."""
    done = retract(loaded, "assessments", ["2024-03-20"])
    with pytest.raises(IntegrityError):
        with loaded.begin() as conn:
            conn.execute(text("INSERT INTO retraction (table_name, record_id, retracted_at, retracted_by, reason) "
                              "VALUES ('assessment', :id, :at, 'x', 'y')"), {"id": done[0].record_id, "at": NOW})


def test_an_older_database_is_told_to_run_init(engine):
    """A database made before retractions must be upgraded, not evaluated with retracted records counting."""
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE retraction"))
    with pytest.raises(DatabaseError, match=r"run `monitor init` to upgrade it"):
        require_initialised(engine)
    init_db(engine)
    require_initialised(engine)
    assert load_cohort(engine).counts()["episodes"] == 0


def test_two_clerks_at_once_get_a_clear_error_not_a_traceback(loaded, monkeypatch):
    """Two staff correcting the same record at the same moment: one wins, the other is told, the log stays true."""
    key = ["hip", "left", "2024-03-01"]
    first = retract(loaded, "episodes", key)[0]
    real = records._matches

    def as_read_before_the_other_committed(retraction_id):
        def matches(conn, parsed):
            patient_id, rows = real(conn, parsed)
            return patient_id, [{**r, "retraction_id": retraction_id} for r in rows]
        return matches

    monkeypatch.setattr(records, "_matches", as_read_before_the_other_committed(None))
    with pytest.raises(records.AlreadyRetracted, match="retracted by someone else just now"):
        retract(loaded, "episodes", key)
    monkeypatch.setattr(records, "_matches", real)
    restore(loaded, "episodes", key, reason="first restore")
    monkeypatch.setattr(records, "_matches", as_read_before_the_other_committed(first.retraction_id))
    with pytest.raises(records.NotRetracted, match="restored by someone else just now"):
        restore(loaded, "episodes", key, reason="second restore")
    with reading(loaded) as conn:
        events = conn.execute(text("SELECT action FROM audit_event WHERE action IN ('retract', 'restore') "
                                   "ORDER BY id")).scalars().all()
    assert events == ["retract", "restore"]
    assert [r.restore_reason for r in records.patient_retractions(loaded, "A1")] == ["first restore"]
