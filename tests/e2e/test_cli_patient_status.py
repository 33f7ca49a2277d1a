"""`monitor patient discharge|reactivate|deceased|transfer` and `show`'s contact and status blocks."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import text

from monitor.store import make_engine
from tests.conftest import cli_as, import_csvs

LOCAL = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} [+-]\d{2}:\d{2}"

PATIENTS = ("mrn,name,sex,birth_date,enrolled_on,phone,email,preferred_contact,address,language\n"
            "A1,Ann Example,F,1980-05-01,2024-03-15,+44 7700 900123,,phone,Flat 2;3 High Street;Northbridge,pt-BR\n"
            "B2,,M,1970-02-03,2023-06-01,,,,,\n")


def cli(db_url, *args, user="clerk1"):
    return cli_as(user, db_url, *args)


@pytest.fixture
def loaded(db_url, tmp_path):
    return import_csvs(db_url, tmp_path, {"patients": PATIENTS})


def rows(db_url, sql):
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_discharge_then_reactivate_echo_the_patient_and_keep_the_history(loaded):
    """Each action reads back the patient it touched, and is recorded with who, for whom and why."""
    done = cli(loaded, "patient", "discharge", "A1", "--reason", "surveillance complete", "--by", "Dr Lee")
    assert done.exit_code == 0, done.output
    assert done.output == "A1 (Ann Example): discharged (was active).\n"
    assert rows(loaded, "SELECT status FROM patient WHERE mrn = 'A1'") == [("discharged",)]

    back = cli(loaded, "patient", "reactivate", "A1", "--reason", "  new hip pain  ", user="clerk2")
    assert back.output == "A1 (Ann Example): active (was discharged).\n"
    assert rows(loaded, "SELECT from_status, to_status, reason, changed_by, on_behalf_of FROM patient_status_change "
                        "ORDER BY id") == [("active", "discharged", "surveillance complete", "clerk1", "Dr Lee"),
                                           ("discharged", "active", "new hip pain", "clerk2", None)]
    audit = rows(loaded, "SELECT actor, action, subject, rows, detail FROM audit_event WHERE action = 'status_change' "
                         "ORDER BY id")
    pid = rows(loaded, "SELECT id FROM patient WHERE mrn = 'A1'")[0][0]
    assert [a[:4] for a in audit] == [("clerk1", "status_change", f"patient:{pid}", 1),
                                      ("clerk2", "status_change", f"patient:{pid}", 1)]
    first = json.loads(audit[0][4])
    assert {k: first[k] for k in ("from", "to", "reason", "on_behalf_of")} == {
        "from": "active", "to": "discharged", "reason": "surveillance complete", "on_behalf_of": "Dr Lee"}
    assert "Ann" not in audit[0][4] and "A1" not in audit[0][4]  # no patient values in the log

    shown = cli(loaded, "show", "A1", "--as-of", "2025-06-01").output
    assert re.search(r"Status changes \(2\):\n"
                     rf"  {LOCAL}  active -> discharged by clerk1 for Dr Lee: surveillance complete\n"
                     rf"  {LOCAL}  discharged -> active by clerk2: new hip pain\n", shown), shown


def test_transfer_keeps_where_to_and_deceased_stops_surveillance(loaded):
    """Where the patient went is kept in the reason; a deceased patient is no longer due."""
    moved = cli(loaded, "patient", "transfer", "B2", "--to", "Royal Infirmary", "--reason", "moved house")
    assert moved.output == "B2: transferred (was active).\n"
    assert rows(loaded, "SELECT reason FROM patient_status_change") == [("to: Royal Infirmary — moved house",)]
    died = cli(loaded, "patient", "deceased", "A1", "--reason", "notified by the GP")
    assert died.output == "A1 (Ann Example): deceased (was active).\n"
    due = cli(loaded, "due", "--as-of", "2025-06-01", "--format", "csv")
    assert "A1" not in due.output and "B2" not in due.output
    shown = cli(loaded, "show", "A1", "--as-of", "2025-06-01").output
    assert "status deceased" in shown and "not evaluated: the patient is deceased" in shown


@pytest.mark.parametrize("args, code, message", [
    (["discharge", "NOPE", "--reason", "x"], 1, "Error: no patient with MRN 'NOPE'\n"),
    (["reactivate", "A1", "--reason", "x"], 1, "Error: A1 is active already; nothing was changed\n"),
    (["discharge", "A1", "--reason", "   "], 1, "Error: --reason: say why (it must not be blank); it is kept with "
                                                "the change and in the audit log\n"),
    (["transfer", "A1", "--to", " ", "--reason", "x"], 1, "Error: --to: say where to (it must not be blank); it is "
                                                          "kept with the change and in the audit log\n"),
    (["discharge", "A1", "--reason", "a\nb"], 1, "Error: --reason: one line of text, without line breaks, tabs or "
                                                 "control characters\n"),
])
def test_a_wrong_status_change_is_refused_and_changes_nothing(loaded, args, code, message):
    """Mistakes are told plainly (never a patient's name), and leave the record as it was."""
    result = cli(loaded, "patient", *args)
    assert result.exit_code == code and result.output == message, result.output
    assert "Ann" not in result.output
    assert rows(loaded, "SELECT count(*) FROM patient_status_change") == [(0,)]
    assert rows(loaded, "SELECT status FROM patient WHERE mrn = 'A1'") == [("active",)]


def test_a_missing_reason_is_a_usage_error(loaded):
    """The reason is required: click's usage error, exit 2."""
    result = cli(loaded, "patient", "discharge", "A1")
    assert result.exit_code == 2 and "Missing option '--reason'" in result.output


def test_changing_to_the_same_status_twice_is_an_error(loaded):
    """A second discharge (a double click, a colleague) is refused, not recorded twice."""
    assert cli(loaded, "patient", "discharge", "A1", "--reason", "done").exit_code == 0
    again = cli(loaded, "patient", "discharge", "A1", "--reason", "done")
    assert again.exit_code == 1 and again.output == "Error: A1 is discharged already; nothing was changed\n"
    assert rows(loaded, "SELECT count(*) FROM patient_status_change") == [(1,)]


def test_show_lists_the_contact_details_and_says_what_is_not_recorded(loaded):
    """Staff calling a patient read the number, the preferred way and the language in one place."""
    shown = cli(loaded, "show", "A1", "--as-of", "2025-06-01").output
    assert ("Contact:\n"
            "  phone: +44 7700 900123\n"
            "  email: not recorded\n"
            "  preferred contact: phone\n"
            "  address: Flat 2\n"
            "           3 High Street\n"
            "           Northbridge\n"
            "  language: pt-BR\n"
            "Status changes: none\n") in shown, shown
    other = cli(loaded, "show", "B2", "--as-of", "2025-06-01").output
    assert ("Contact:\n  phone: not recorded\n  email: not recorded\n  preferred contact: not recorded\n"
            "  address: not recorded\n  language: not recorded\n") in other, other
