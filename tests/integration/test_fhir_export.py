"""`monitor export fhir`: a care-gap Bundle that validates as FHIR R4, and a history Bundle that
round-trips: export -> fresh database -> import gives the same `due` list."""

from __future__ import annotations

import csv
import io
import json
import shutil

from monitor.store import init_db, make_engine
from tests.conftest import DEMO, cli_as

# What FHIR carries of the demo: patients, episodes, scans, treatments. Pregnancies, symptoms, MRI
# and assessments have no FHIR mapping here, so the round trip uses the demo without them.
KINDS = ("patients", "episodes", "scans", "treatments")
DUE_FIELDS = ["mrn", "name", "status", "due_date", "days_overdue", "last_scan_date", "interval_months",
              "risk_factors", "flags"]


def loaded(db_url, tmp_path):
    for kind in KINDS:
        shutil.copy(DEMO / f"{kind}.csv", tmp_path / f"{kind}.csv")
    result = cli_as("importer", db_url, "import", *[str(tmp_path / f"{k}.csv") for k in KINDS])
    assert result.exit_code == 0, result.output


def due(db_url):
    result = cli_as("clerk", db_url, "due", "--as-of", "2026-11-26", "--format", "csv")
    assert result.exit_code == 0, result.output
    return [{k: row[k] for k in DUE_FIELDS} for row in csv.DictReader(io.StringIO(result.output))]


def test_care_gap_bundle_validates_and_holds_a_plan_per_patient_due(db_url, tmp_path):
    """An EHR only takes a Bundle that parses: one DXA ServiceRequest per patient due soon/due/overdue."""
    from fhir.resources.R4B.bundle import Bundle

    loaded(db_url, tmp_path)
    out = tmp_path / "gaps.json"
    result = cli_as("clerk", db_url, "export", "fhir", "-o", str(out), "--as-of", "2026-11-26")
    assert result.exit_code == 0, result.output
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    bundle = Bundle.model_validate_json(out.read_text())
    kinds = [e.resource.get_resource_type() for e in bundle.entry]
    rows = [r for r in due(db_url) if r["status"] in ("due_soon", "due", "overdue")]
    assert kinds.count("ServiceRequest") == kinds.count("Patient") == len(rows) > 0
    first = next(e.resource for e in bundle.entry if e.resource.get_resource_type() == "ServiceRequest")
    assert (first.intent, first.status, first.code.text) == ("plan", "active", "DXA bone density scan")
    assert all(e.resource.status == "active" for e in bundle.entry if e.resource.get_resource_type() == "Flag")


def test_history_round_trip_gives_the_same_due_list(db_url, tmp_path):
    """Moving a clinic's records through FHIR must not move anyone's due date or status."""
    loaded(db_url, tmp_path)
    out = tmp_path / "all.json"
    result = cli_as("clerk", db_url, "export", "fhir", "--history", "-o", str(out), "--as-of", "2026-11-26")
    assert result.exit_code == 0, result.output
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    init_db(make_engine(fresh))
    result = cli_as("importer", fresh, "import", str(out))
    assert result.exit_code == 0, result.output
    assert due(fresh) == due(db_url)
    again = cli_as("importer", fresh, "import", str(out))
    assert " 0 new, 0 updated" in again.output and " new," in again.output
