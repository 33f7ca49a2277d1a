"""INTERFACE v2 patients.csv contact columns: phone, email, preferred_contact, address, language."""

import pytest
from sqlalchemy import text

from monitor.errors import ImportRejected
from tests.conftest import write_csv
from tests.integration.test_import import run

HEAD = "mrn,name,sex,birth_date,phone,email,preferred_contact,address,language\n"
GOOD = ("A1,Ann Example,F,1990-05-01,+44 7700 900123,ann@example.org,phone,Flat 2;3 High Street;Northbridge,en\n"
        "B2,Bob Example,M,1970-02-03, (020) 7946.0000 ,bob.x@mail.example.org,LETTER,1 Mill Lane; Lowmoor,pt-BR\n"
        "C3,Cy Example,X,1980-01-01,,,none,,\n")


def contacts(engine) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT mrn, phone, email, preferred_contact, address, language FROM patient "
                                 "ORDER BY mrn")).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def patients(tmp_path, body: str, head: str = HEAD):
    return [write_csv(tmp_path / "patients.csv", head + body)]


def test_contact_details_are_stored_as_entered(engine, tmp_path):
    """Staff call from the list: the number is kept exactly as typed (only outer spaces trimmed)."""
    run(engine, patients(tmp_path, GOOD))
    assert contacts(engine) == {
        "A1": ("+44 7700 900123", "ann@example.org", "phone", "Flat 2;3 High Street;Northbridge", "en"),
        "B2": ("(020) 7946.0000", "bob.x@mail.example.org", "letter", "1 Mill Lane; Lowmoor", "pt-BR"),
        "C3": (None, None, "none", None, None),
    }


def test_reimport_is_idempotent_and_a_blank_cell_keeps_the_stored_value(engine, tmp_path):
    """A second import of the same file changes nothing; a later file without the details loses none."""
    run(engine, patients(tmp_path, GOOD))
    stored = contacts(engine)
    again = run(engine, patients(tmp_path, GOOD))
    assert [(r.inserted, r.updated, r.unchanged) for r in again.files] == [(0, 0, 3)]
    blank = run(engine, patients(tmp_path, "A1,Ann Example,F,1990-05-01,,,,,\nB2,Bob Example,M,1970-02-03,,,,,\n"))
    assert [(r.inserted, r.updated) for r in blank.files] == [(0, 0)]
    without = run(engine, patients(tmp_path, "A1,F,1990-05-01\n", head="mrn,sex,birth_date\n"))
    assert [(r.inserted, r.updated) for r in without.files] == [(0, 0)]
    assert contacts(engine) == stored
    changed = run(engine, patients(tmp_path, "A1,F,1990-05-01,+44 7700 900999\n", head="mrn,sex,birth_date,phone\n"))
    assert [r.updated for r in changed.files] == [1]
    assert contacts(engine)["A1"][0] == "+44 7700 900999"


SECRET = "Secret"  # in every bad cell: an error that echoes the cell would show it


@pytest.mark.parametrize("column, cell, expected", [
    ("phone", f"0161 {SECRET}", "expected a phone number: 6 to 15 digits"),
    ("phone", "12345", "expected a phone number: 6 to 15 digits"),
    ("phone", "+44 7700 900123 456 789", "expected a phone number"),  # 16 digits
    ("phone", "44+7700900123", "expected a phone number"),
    ("email", f"{SECRET}.example.org", "expected an email address: one @, a domain with a dot, no spaces"),
    ("email", f"{SECRET}@@example.org", "expected an email address"),
    ("email", f"{SECRET}@example", "expected an email address"),
    ("email", f"{SECRET} x@example.org", "expected an email address"),
    ("preferred_contact", f"{SECRET}", "expected one of phone, email, letter, none"),
    ("preferred_contact", "sms", "expected one of phone, email, letter, none"),
    ("address", f'"1 {SECRET} Lane\nNorthbridge"', "expected the address on one line, its lines separated by ;"),
    ("address", "x" * 401, "at most 400 characters, got 401"),
    ("language", f"{SECRET}ish", "expected a language tag such as en, de or pt-BR"),
    ("language", "en_GB", "expected a language tag"),
    ("language", "e", "expected a language tag"),
])
def test_a_bad_contact_cell_is_rejected_with_line_and_column_never_echoed(engine, tmp_path, column, cell, expected):
    """A wrong contact detail is found where it is, and the error shows no patient data."""
    columns = HEAD.strip().split(",")
    row = {"mrn": "A1", "name": f"Ann {SECRET}", "sex": "F", "birth_date": "1990-05-01", "phone": "+44 7700 900123",
           "email": "ann@example.org", "preferred_contact": "phone", "address": "1 Mill Lane", "language": "en"}
    row[column] = cell
    body = "B2,Bob,M,1970-02-03,,,,,\n" + ",".join(row[c] for c in columns) + "\n"
    with pytest.raises(ImportRejected) as err:
        run(engine, patients(tmp_path, body))
    message = str(err.value)
    assert f"patients.csv, line 3, column '{column}': {expected}" in message
    assert SECRET not in message
    assert contacts(engine) == {}  # nothing written


@pytest.mark.parametrize("preferred, column", [("phone", "phone"), ("email", "email"), ("letter", "address")])
def test_a_preferred_contact_needs_its_means(engine, tmp_path, preferred, column):
    """A reminder by letter needs an address (and a call a phone): the import says which is missing."""
    with pytest.raises(ImportRejected) as err:
        run(engine, patients(tmp_path, f"A1,Ann,F,1990-05-01,,,{preferred},,en\n"))
    assert (f"patients.csv, line 2, column 'preferred_contact': preferred contact is {preferred} but the patient "
            f"has no {column} recorded") in str(err.value)


def test_a_preferred_contact_may_use_a_stored_means(engine, tmp_path):
    """The means recorded by an earlier import count: a file may set only the preference."""
    run(engine, patients(tmp_path, "A1,F,1990-05-01,1 Mill Lane;Lowmoor\n", head="mrn,sex,birth_date,address\n"))
    run(engine, patients(tmp_path, "A1,F,1990-05-01,letter\n", head="mrn,sex,birth_date,preferred_contact\n"))
    assert contacts(engine)["A1"] == (None, None, "letter", "1 Mill Lane;Lowmoor", None)
    with pytest.raises(ImportRejected, match="preferred contact is email"):
        run(engine, patients(tmp_path, "A1,F,1990-05-01,email\n", head="mrn,sex,birth_date,preferred_contact\n"))


def test_keep_valid_rows_rejects_only_the_bad_contact_row(engine, tmp_path):
    """A scheduled import keeps the good rows and sends the bad one to the rejects file."""
    body = GOOD + "D4,Di,M,1980-01-01,not a phone,,,,\n"
    report = run(engine, patients(tmp_path, body), keep_valid=True, rejects_dir=tmp_path)
    assert [(r.inserted, r.rejected) for r in report.files] == [(3, 1)]
    assert [str(p) for p in report.problems] == [
        "patients.csv, line 5, column 'phone': expected a phone number: 6 to 15 digits, an optional leading +, and "
        "only spaces, -, ., ( or ) between them"]
