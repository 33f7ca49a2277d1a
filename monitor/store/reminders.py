"""Queries of reminders, their events, and served job slots (one query each, never per patient)."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import text


def _of_patient(patient_id: int | None, where: str) -> tuple[str, dict]:
    """A WHERE clause for one patient's rows (`show` reads one patient, not the cohort), or none."""
    return ("", {}) if patient_id is None else (f" WHERE {where}", {"pid": int(patient_id)})


def load_reminders(conn, *, patient_id: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every reminder and every reminder event (or one patient's), one query each."""
    return load_reminder_rows(conn, patient_id=patient_id), load_reminder_events(conn, patient_id=patient_id)


def load_reminder_rows(conn, *, patient_id: int | None = None) -> pd.DataFrame:
    """Every reminder (or one patient's), with the evaluation date of the run that opened it (NaT when opened otherwise)."""
    where, params = _of_patient(patient_id, "r.patient_id = :pid")
    reminders = pd.read_sql_query(text(
        "SELECT r.id AS reminder_id, r.patient_id, r.item, r.due_date, j.as_of AS opened_as_of "
        "FROM reminder r LEFT JOIN job_run j ON j.id = r.run_id" + where), conn, params=params)
    reminders["due_date"] = pd.to_datetime(reminders["due_date"]).astype("datetime64[us]")
    reminders["opened_as_of"] = pd.to_datetime(reminders["opened_as_of"]).astype("datetime64[us]")
    reminders["patient_id"] = reminders["patient_id"].astype("int64")
    return reminders


def load_reminder_events(conn, *, patient_id: int | None = None) -> pd.DataFrame:
    """Every reminder event, or one patient's (dates as datetime64, `at` as aware UTC)."""
    where, params = _of_patient(patient_id, "reminder_id IN (SELECT id FROM reminder WHERE patient_id = :pid)")
    events = pd.read_sql_query(text(
        "SELECT id AS event_id, reminder_id, at, actor, kind, outcome, reason, until, assignee, due_by, booked_on "
        "FROM reminder_event" + where), conn, params=params)
    events["at"] = pd.to_datetime(events["at"], utc=True, format="ISO8601")
    for column in ("until", "due_by", "booked_on"):
        events[column] = pd.to_datetime(events[column]).astype("datetime64[us]")
    return events


def completed(conn, job: str, slot_on: date) -> int | None:
    row = conn.execute(text("SELECT run_id FROM job_completion WHERE job = :job AND slot_on = :slot"),
                       {"job": job, "slot": slot_on}).first()
    return None if row is None else int(row[0])


def load_contacts(conn) -> pd.DataFrame:
    """How to reach each patient (not clinical: no rule reads it), indexed by patient_id."""
    contacts = pd.read_sql_query(text("SELECT id AS patient_id, phone, preferred_contact FROM patient"), conn)
    contacts["patient_id"] = contacts["patient_id"].astype("int64")
    return contacts.set_index("patient_id")


def load_patient_names(conn, *, patient_id: int | None = None) -> pd.DataFrame:
    """Every patient's (or one patient's) id, MRN, name and status (to read an argument as an MRN,
    echo whom an action hit, and refuse work on a patient no longer followed)."""
    where, params = _of_patient(patient_id, "id = :pid")
    patients = pd.read_sql_query(text("SELECT id AS patient_id, mrn, name, status FROM patient" + where), conn,
                                 params=params)
    patients["patient_id"] = patients["patient_id"].astype("int64")
    return patients
