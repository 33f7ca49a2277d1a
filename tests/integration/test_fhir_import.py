"""FHIR R4 import (README "Importing from FHIR R4"): the US Core DXA example, our own fixtures,
rejections that name file, resource and element, and idempotent re-import."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from monitor.config import STAFF_RISK_FACTORS, FhirSettings
from monitor.errors import ImportRejected
from monitor.services.importing import import_files
from monitor.store import load_cohort
from tests.conftest import REPO

TODAY = date(2026, 11, 25)
OWN = REPO / "tests" / "fixtures" / "fhir"
TOH = FhirSettings(mrn_system="urn:clinic:mrn", toh_codes=("http://snomed.info/sct|123456",))


def us_core() -> Path:
    """../shared/fixtures/fhir/us-core beside the repository (walking up), or skip."""
    for folder in (REPO, *REPO.parents):
        found = folder / "shared" / "fixtures" / "fhir" / "us-core"
        if found.is_dir():
            return found
    pytest.skip("the HL7 US Core DXA example is in ../shared/fixtures/fhir/us-core, absent here")


def run(engine, paths, **kw):
    kw.setdefault("today", TODAY)
    return import_files(engine, list(paths), actor="tester", risk_codes=STAFF_RISK_FACTORS, **kw)


def scans_of(engine, mrn):
    cohort = load_cohort(engine)
    pid = int(cohort.patients.set_index("mrn").loc[mrn, "patient_id"])
    s = cohort.scans.loc[cohort.scans["patient_id"] == pid]
    return {(r.site, r.side or None): (r.bmd_g_cm2, r.t_score, r.z_score, str(r.scan_date.date()))
            for r in s.itertuples()}


def test_us_core_dxa_example_imports_with_sites_sides_and_values(engine):
    """The HL7 US Core DXA report, as an EHR sends it, lands as one left-hip scan with BMD, T and Z."""
    report = run(engine, sorted(us_core().glob("*.json")))
    assert report.problems == []
    patient = load_cohort(engine).patients.iloc[0]
    assert (patient["mrn"], patient["sex"], str(patient["birth_date"].date())) == ("1032702", "F", "1987-02-20")
    stored = scans_of(engine, "1032702")
    assert sorted(stored) == [("femoral_neck", "left"), ("total_hip", "left")]
    assert {v[3] for v in stored.values()} == {"2021-11-10"}  # the date as the scanner wrote it
    assert stored[("total_hip", "left")][0] == 0.734


def test_us_core_values_match_the_files(engine):
    """Each stored value is the one its Observation holds (no value moved between sites)."""
    folder = us_core()
    run(engine, sorted(folder.glob("*.json")))
    stored = scans_of(engine, "1032702")
    for stem, (site, column) in {"dxa-hip-l-armass-bmd": ("total_hip", 0), "dxa-hip-l-t-score-bmd": ("total_hip", 1),
                                 "dxa-hip-l-z-score-bmd": ("total_hip", 2),
                                 "dxa-femur-l-armass-bmd": ("femoral_neck", 0),
                                 "dxa-femur-l-t-score-bmd": ("femoral_neck", 1),
                                 "dxa-femur-l-z-score-bmd": ("femoral_neck", 2)}.items():
        value = json.loads((folder / f"{stem}.json").read_text())["valueQuantity"]["value"]
        assert stored[(site, "left")][column] == pytest.approx(value), stem


def test_own_bundle_and_ndjson_import_everything_they_hold(engine):
    """A clinic's Bundle and NDJSON export: patients, scans (sides from code or bodySite), episode, drug."""
    report = run(engine, [OWN / "clinic-bundle.json", OWN / "scans.ndjson"], fhir=TOH)
    assert report.problems == []
    assert report.skipped == {"Observation (not a DXA result)": 1, "Practitioner (not recorded here)": 1}
    cohort = load_cohort(engine)
    assert sorted(cohort.patients["mrn"]) == ["F-007", "N-2"]  # [fhir] mrn_system before type MR
    assert scans_of(engine, "F-007") == {
        ("femoral_neck", "right"): (0.702, -1.9, pytest.approx(float("nan"), nan_ok=True), "2024-03-05"),
        ("lumbar_spine", None): (0.951, pytest.approx(float("nan"), nan_ok=True),
                                 pytest.approx(float("nan"), nan_ok=True), "2024-03-05"),
        ("total_hip", "right"): (0.811, pytest.approx(float("nan"), nan_ok=True),
                                 pytest.approx(float("nan"), nan_ok=True), "2024-03-05")}
    n2 = scans_of(engine, "N-2")[("lumbar_spine", None)]  # by identifier and by reference: one row
    assert (n2[0], n2[2], n2[3]) == (1.02, -0.4, "2025-01-02")
    episode = cohort.episodes.iloc[0]
    assert (episode["joint"], episode["side"], str(episode["resolved_on"].date())) == ("hip", "right", "2024-06-30")
    assert cohort.treatments.iloc[0][["drug", "dose"]].tolist() == ["alendronate", "70 mg weekly"]


def test_reimport_changes_nothing(engine):
    """Scheduled imports resend the same Bundle: the second one must change nothing."""
    run(engine, [OWN / "clinic-bundle.json"], fhir=TOH)
    again = run(engine, [OWN / "clinic-bundle.json"], fhir=TOH)
    assert [(r.inserted, r.updated) for r in again.files] == [(0, 0)] * len(again.files)
    assert sum(r.unchanged for r in again.files) == 6


def test_without_configured_codes_a_condition_is_skipped_not_guessed(engine):
    """No standard code names TOH: an unlisted Condition is never taken for an episode."""
    report = run(engine, [OWN / "clinic-bundle.json"], fhir=FhirSettings())
    assert "Condition (not a TOH episode code: see [fhir] toh_codes)" in report.skipped
    assert len(load_cohort(engine).episodes) == 0


def bad_bundle(tmp_path, change) -> Path:
    bundle = json.loads((OWN / "clinic-bundle.json").read_text())
    change({e["resource"].get("id"): e["resource"] for e in bundle["entry"]})
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bundle))
    return path


@pytest.mark.parametrize("change, message", [
    (lambda r: r["neck-r-bmd"].pop("bodySite"),
     "bad.json, Observation/neck-r-bmd.code.coding[0]: the code has no side and bodySite gives no laterality"),
    (lambda r: r["spine-bmd"]["valueQuantity"].update(code="mg/cm2"),
     "bad.json, Observation/spine-bmd.valueQuantity.code: BMD must be in g/cm2 (UCUM)"),
    (lambda r: r["hip-r-bmd"]["valueQuantity"].update(value=2.5),
     "bad.json, Observation/hip-r-bmd.valueQuantity.value: expected a number between 0.2 and 2 g/cm²"),
    (lambda r: r["p1"].pop("gender"), "bad.json, Patient/p1.gender: gender is unknown or absent"),
    (lambda r: r["p1"].update(birthDate="2025-02-30"), "bad.json, Patient/p1.birthDate: not valid FHIR R4"),
    (lambda r: r["med-1"]["subject"].update(reference="Patient/nobody"),
     "bad.json, MedicationStatement/med-1.subject.reference: refers to a Patient that is not in this import"),
    (lambda r: r["neck-r-bmd"].update(effectiveDateTime="2030-01-01"),
     "bad.json, Observation/neck-r-bmd.effectiveDateTime: date 2030-01-01 is in the future"),
])
def test_a_value_that_cannot_be_placed_names_file_resource_and_element(engine, tmp_path, change, message):
    """Staff must find the bad element in the EHR's file; nothing of the import is written."""
    with pytest.raises(ImportRejected) as caught:
        run(engine, [bad_bundle(tmp_path, change)], fhir=TOH)
    assert any(str(p).startswith(message) for p in caught.value.problems), [str(p) for p in caught.value.problems]
    assert len(load_cohort(engine).patients) == 0
    assert "Müller" not in str(caught.value) and "1980-05-01" not in str(caught.value)


def test_unknown_gender_may_be_recorded_as_x_when_configured(engine, tmp_path):
    """Some EHRs leave gender unknown: a clinic may choose X rather than reject the patient."""
    path = bad_bundle(tmp_path, lambda r: r["p1"].update(gender="unknown"))
    run(engine, [path], fhir=FhirSettings(unknown_gender="X"))
    assert load_cohort(engine).patients.iloc[0]["sex"] == "X"


def test_keep_valid_writes_fhir_rejects_as_csv_rows(engine, tmp_path):
    """A partly bad Bundle: the good rows go in, the bad ones to a CSV staff can fix and import."""
    path = bad_bundle(tmp_path, lambda r: r["spine-bmd"]["valueQuantity"].update(code="mg/cm2"))
    report = run(engine, [path], fhir=TOH, keep_valid=True, rejects_dir=tmp_path)
    assert len(report.problems) == 1
    rejects = tmp_path / "scans.rejects.csv"
    assert rejects.read_text(encoding="utf-8-sig").splitlines()[0].startswith("line,reason,mrn,scan_date,scanner,site")
    assert len(load_cohort(engine).scans) == 2  # the right hip and femoral neck; not the spine
