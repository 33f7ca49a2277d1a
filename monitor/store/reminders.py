"""Queries of reminders, their events, and served job slots (one query each, never per patient)."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import text


def _patients_in(column: str, id_range: tuple[int, int] | None) -> tuple[str, dict]:
    """A WHERE clause keeping the patient ids of `id_range` (lo..hi), and its parameters."""
    if id_range is None:
        return "", {}
    return f" WHERE {column} BETWEEN :lo AND :hi", {"lo": int(id_range[0]), "hi": int(id_range[1])}


def _range(id_range: tuple[int, int] | None, patient_id: int | None) -> tuple[int, int] | None:
    """One patient (`show` reads one patient, not the cohort) is the range of that one id."""
    return (int(patient_id), int(patient_id)) if patient_id is not None else id_range


def load_reminders(conn, id_range: tuple[int, int] | None = None, *,
                   patient_id: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every reminder and every reminder event (of the patient ids in `id_range`, or of one
    patient), one query each."""
    id_range = _range(id_range, patient_id)
    return load_reminder_rows(conn, id_range), load_reminder_events(conn, id_range)


def load_reminder_rows(conn, id_range: tuple[int, int] | None = None, *,
                       patient_id: int | None = None) -> pd.DataFrame:
    """Every reminder (of the patient ids in `id_range`, or of one patient), with the evaluation
    date of the run that opened it (NaT when opened otherwise)."""
    where, params = _patients_in("r.patient_id", _range(id_range, patient_id))
    reminders = pd.read_sql_query(text(
        "SELECT r.id AS reminder_id, r.patient_id, r.item, r.due_date, j.as_of AS opened_as_of "
        "FROM reminder r LEFT JOIN job_run j ON j.id = r.run_id" + where), conn, params=params)
    reminders["due_date"] = pd.to_datetime(reminders["due_date"]).astype("datetime64[us]")
    reminders["opened_as_of"] = pd.to_datetime(reminders["opened_as_of"]).astype("datetime64[us]")
    reminders["patient_id"] = reminders["patient_id"].astype("int64")
    return reminders


def load_reminder_events(conn, id_range: tuple[int, int] | None = None, *,
                         patient_id: int | None = None) -> pd.DataFrame:
    """Every reminder event (of the patient ids in `id_range`, or of one patient; dates as
    datetime64, `at` as aware UTC)."""
    id_range = _range(id_range, patient_id)
    if id_range is None:
        source = "reminder_event"
        params = {}
    else:
        where, params = _patients_in("r.patient_id", id_range)
        source = f"reminder_event WHERE reminder_id IN (SELECT r.id FROM reminder r{where})"
    events = pd.read_sql_query(text(
        "SELECT id AS event_id, reminder_id, at, actor, kind, outcome, reason, until, assignee, due_by, booked_on "
        "FROM " + source), conn, params=params)
    events["at"] = pd.to_datetime(events["at"], utc=True, format="ISO8601")
    for column in ("until", "due_by", "booked_on"):
        events[column] = pd.to_datetime(events[column]).astype("datetime64[us]")
    return events


def completed(conn, job: str, slot_on: date) -> int | None:
    row = conn.execute(text("SELECT run_id FROM job_completion WHERE job = :job AND slot_on = :slot"),
                       {"job": job, "slot": slot_on}).first()
    return None if row is None else int(row[0])


def load_contacts(conn, id_range: tuple[int, int] | None = None) -> pd.DataFrame:
    """How to reach each patient (of the ids in `id_range`; not clinical: no rule reads it),
    indexed by patient_id."""
    where, params = _patients_in("id", id_range)
    contacts = pd.read_sql_query(text("SELECT id AS patient_id, phone, preferred_contact FROM patient" + where),
                                 conn, params=params)
    contacts["patient_id"] = contacts["patient_id"].astype("int64")
    return contacts.set_index("patient_id")


def load_patient_names(conn, id_range: tuple[int, int] | None = None, *,
                       patient_id: int | None = None) -> pd.DataFrame:
    """Every patient's (or those of the ids in `id_range`, or one patient's) id, MRN, name and
    status (to read an argument as an MRN, echo whom an action hit, and refuse work on a patient
    no longer followed)."""
    where, params = _patients_in("id", _range(id_range, patient_id))
    patients = pd.read_sql_query(text("SELECT id AS patient_id, mrn, name, status FROM patient" + where), conn,
                                 params=params)
    patients["patient_id"] = patients["patient_id"].astype("int64")
    return patients
