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


def test_care_gaps_in_chunks_are_the_bundle_of_the_cohort_at_once(db_url, tmp_path):
    """`export fhir` evaluates a chunk of patients at a time (in workers, or not), and writes the
    very bytes, and the same audit record, as the cohort evaluated at once and made into one Bundle
    (tests/process/test_chunked_lists.py compares the command's files in more chunk sizes)."""
    from dataclasses import replace
    from datetime import date, datetime, timezone

    from sqlalchemy import text

    from monitor.config import Config, ScaleSettings
    from monitor.services.acknowledgements import acknowledge
    from monitor.services.evaluation import evaluate_db
    from monitor.services.fhir_export import export_care_gaps_chunked, export_fhir

    loaded(db_url, tmp_path)
    engine, as_of, config = make_engine(db_url), date(2026, 11, 26), Config()
    whole = tmp_path / "whole.json"
    export_fhir(engine, whole, evaluation=evaluate_db(engine, as_of=as_of, config=config), by="t")
    flagged = json.loads(whole.read_text())["entry"]
    flag = next(e["resource"] for e in flagged if e["resource"]["resourceType"] == "Flag")
    mrn = next(e["resource"]["identifier"][0]["value"] for e in flagged
               if e["resource"]["id"] == flag["subject"]["reference"].split("/")[1])
    # an acknowledged flag leaves the care gaps, in chunks as at once
    acknowledge(engine, mrn, flag["code"]["coding"][0]["code"], note="seen", actor="dr", on_behalf_of=None,
                as_of=as_of, config=config, now=datetime(2026, 11, 26, 9, tzinfo=timezone.utc))
    export_fhir(engine, whole, evaluation=evaluate_db(engine, as_of=as_of, config=config), by="t")
    flags_after = sum(e["resource"]["resourceType"] == "Flag" for e in json.loads(whole.read_text())["entry"])
    assert flags_after < sum(e["resource"]["resourceType"] == "Flag" for e in flagged)
    for chunk, workers in ((1, 0), (7, 2), (0, 2)):
        scaled = replace(config, scale=ScaleSettings(chunk_patients=chunk, evaluation_workers=workers))
        target = tmp_path / f"chunks-{chunk}-{workers}.json"
        count = export_care_gaps_chunked(engine, target, as_of=as_of, config=scaled, by="t")
        assert target.read_bytes() == whole.read_bytes(), (chunk, workers)
        assert oct(target.stat().st_mode & 0o777) == "0o600"
        assert count == sum(e["resource"]["resourceType"] == "Patient" for e in flagged) > 0
    with engine.connect() as conn:
        audits = conn.execute(text("SELECT rows, detail FROM audit_event WHERE action = 'export_fhir' "
                                   "ORDER BY id")).all()
    # (the first export was before the acknowledgement): then the same rows and resources every time
    assert len(audits) == 5 and len({(r, json.loads(d)["resources"]) for r, d in audits[1:]}) == 1
    engine.dispose()


def test_the_history_in_chunks_is_the_bundle_of_the_cohort_at_once(db_url, tmp_path):
    """`export fhir --history` reads a chunk of patients at a time (no evaluation) and writes the
    very bytes, and the same audit record, as the cohort's history made into one Bundle; each
    patient's resources come together, numbered per patient, so a chunk cannot renumber them."""
    from dataclasses import replace
    from datetime import date

    from sqlalchemy import text

    from monitor.config import Config, ScaleSettings
    from monitor.services.evaluation import evaluate_db
    from monitor.services.fhir_export import export_fhir, export_history_chunked

    loaded(db_url, tmp_path)
    engine, as_of, config = make_engine(db_url), date(2026, 11, 26), Config()
    whole = tmp_path / "whole.json"
    count = export_fhir(engine, whole, evaluation=evaluate_db(engine, as_of=as_of, config=config), history=True,
                        by="t")
    entries = [e["resource"] for e in json.loads(whole.read_text())["entry"]]
    owners = [r["id"] if r["resourceType"] == "Patient" else r["subject"]["reference"].split("/")[1]
              for r in entries]
    assert owners == sorted(owners, key=lambda o: int(o.split("-")[1]))  # patient by patient
    kinds = {r["resourceType"] for r in entries}
    assert kinds == {"Patient", "Observation", "Condition", "MedicationStatement"} and count > 50
    for chunk, workers in ((1, 0), (7, 2), (0, 2)):
        scaled = replace(config, scale=ScaleSettings(chunk_patients=chunk, evaluation_workers=workers))
        target = tmp_path / f"history-{chunk}-{workers}.json"
        assert export_history_chunked(engine, target, as_of=as_of, config=scaled, by="t") == count
        assert target.read_bytes() == whole.read_bytes(), (chunk, workers)
        assert oct(target.stat().st_mode & 0o777) == "0o600"
    with engine.connect() as conn:
        audits = conn.execute(text("SELECT rows, detail FROM audit_event WHERE action = 'export_fhir_history' "
                                   "ORDER BY id")).all()
    assert len(audits) == 4 and len({(r, json.loads(d)["resources"]) for r, d in audits}) == 1
    assert audits[0][0] == count and json.loads(audits[0][1])["resources"] == len(entries)
    engine.dispose()
