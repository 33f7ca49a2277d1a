"""FHIR R4 out: care gaps (ServiceRequest + Flag per patient due) and the recorded history, as a
Bundle of type `collection` (plain JSON; tests parse it back with fhir.resources' R4B models).

Pure: frames in, a dict out. Codes as in fhir_codes, so `monitor import` reads the history back.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from monitor.formats import fhir_codes as fc


def _day(value) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


def _ext(name: str, value) -> dict | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "":
        return None
    if isinstance(value, (bool,)) or str(type(value)).endswith("bool_'>"):
        return {"url": fc.EXT + name, "valueBoolean": bool(value)}
    if isinstance(value, pd.Timestamp):
        return {"url": fc.EXT + name, "valueDate": _day(value)}
    return {"url": fc.EXT + name, "valueString": str(value)}


def _ref(pid) -> dict:
    return {"reference": f"Patient/patient-{int(pid)}"}


def patient_resource(p, *, history: bool = False) -> dict:
    """A Patient: identifier of type MR, name, gender, birth date (and our extensions with `history`)."""
    res = {"resourceType": "Patient", "id": f"patient-{int(p['patient_id'])}",
           "identifier": [{"type": {"coding": [{"system": fc.V2_0203, "code": "MR"}], "text": "MRN"},
                           "value": str(p["mrn"])}],
           "gender": fc.GENDER_OF.get(p["sex"], "unknown"), "birthDate": _day(p["birth_date"])}
    if isinstance(p.get("name"), str) and p["name"]:
        res["name"] = [{"text": p["name"]}]
    if history:
        exts = [_ext("enrolled_on", p.get("enrolled_on")), _ext("status", p.get("status")),
                _ext("risk_factors", p.get("risk_factors")), _ext("postmenopausal", p.get("postmenopausal"))]
        if any(exts):
            res["extension"] = [e for e in exts if e]
    return res


def care_gap_bundle(due: pd.DataFrame, patients: pd.DataFrame, flags: pd.DataFrame) -> dict:
    """Per patient in `due` (mrn, status, due_date, due_reason): the Patient, a ServiceRequest for the
    DXA on the due date, and each open flag (severity urgent or warn) as a Flag with its evidence."""
    return _bundle([r for _mrn, resources in care_gap_resources(due, patients, flags) for r in resources])


def care_gap_resources(due: pd.DataFrame, patients: pd.DataFrame, flags: pd.DataFrame) -> list[tuple[str, list]]:
    """`care_gap_bundle`'s resources, per patient in `due`'s order: (MRN, that patient's resources)."""
    by_mrn = dict(zip(patients["mrn"], patients.to_dict("records")))
    flags_of: dict[int, list] = {}  # each patient's flags in their order, found once (not a scan per patient)
    for f in flags.itertuples(index=False):
        flags_of.setdefault(int(f.patient_id), []).append(f)
    out = []
    for row in due.itertuples(index=False):
        p = by_mrn[row.mrn]
        pid = int(p["patient_id"])
        entries = [patient_resource(p), {
            "resourceType": "ServiceRequest", "id": f"dxa-due-{pid}", "status": "active", "intent": "plan",
            "code": {"text": fc.DXA_SERVICE_TEXT}, "subject": _ref(pid),
            "occurrenceDateTime": row.due_date, "reasonCode": [{"text": f"{row.status}: {row.due_reason}"}]}]
        for n, f in enumerate(flags_of.get(pid, ()), start=1):
            entries.append({
                "resourceType": "Flag", "id": f"flag-{pid}-{n}", "status": "active",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/flag-category",
                                          "code": "clinical", "display": "Clinical"}],
                              "text": str(f.severity)}],
                "code": {"coding": [{"system": fc.OWN_SYSTEM, "code": str(f.code)}], "text": str(f.title)},
                "subject": _ref(pid),
                "extension": [{"url": fc.EXT + "flag-evidence", "valueString": str(f.evidence or "")},
                              {"url": fc.EXT + "flag-action", "valueString": str(f.action or "")}]})
        out.append((row.mrn, entries))
    return out


def history_bundle(cohort) -> dict:
    """Patients, DXA Observations (LOINC per site, side and measure), episode Conditions and
    MedicationStatements: what `monitor import` reads back into a fresh database."""
    return _bundle([r for _pid, resources in history_resources(cohort) for r in resources])


def history_resources(cohort):
    """`history_bundle`'s resources, patient by patient (by patient id): (patient id, [the Patient,
    its DXA Observations by date, site, side and measure, its episodes as Conditions by onset, its
    treatments as MedicationStatements by start]). Each patient's resources depend on that patient
    alone (episodes and treatments are numbered per patient), so a chunk of patients gives the
    cohort's resources for them. A generator: a caller that writes each patient's text as it
    comes holds one patient's resources at a time."""
    scans = _per_patient(cohort.scans, ["scan_date", "site", "side"])
    # every column a resource shows in the order: records alike in all of them are the same text
    episodes = _per_patient(cohort.episodes, ["onset_date", "joint", "side", "diagnosed_on", "resolved_on"])
    treatments = _per_patient(cohort.treatments, ["started_on", "drug", "stopped_on", "dose"])
    for p in cohort.patients.sort_values("patient_id", kind="stable").to_dict("records"):
        pid = int(p["patient_id"])
        resources = [patient_resource(p, history=True)]
        resources += [o for s in scans.get(pid, ()) for o in _observations(s)]
        resources += [_condition(e, n) for n, e in enumerate(episodes.get(pid, ()), start=1)]
        resources += [_medication(t, n) for n, t in enumerate(treatments.get(pid, ()), start=1)]
        yield pid, resources


def _per_patient(frame: pd.DataFrame, order: list[str]) -> dict[int, list[dict]]:
    """The frame's records per patient id, each patient's in `order` (blanks first)."""
    out: dict[int, list[dict]] = {}
    if not len(frame):
        return out
    for r in frame.sort_values(["patient_id", *order], kind="stable", na_position="first").to_dict("records"):
        out.setdefault(int(r["patient_id"]), []).append(r)
    return out


def _observations(s: dict) -> list[dict]:
    """One scan's DXA Observations: BMD, T-score and Z-score, those recorded."""
    side = s["side"] if isinstance(s["side"], str) and s["side"] else None
    out = []
    for measure, column, unit in (("bmd", "bmd_g_cm2", "g/cm2"), ("t_score", "t_score", "1"),
                                  ("z_score", "z_score", "1")):
        value = s[column]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        code = fc.LOINC_OF[(s["site"], side, measure)]
        words = f"DXA {fc.SITE_WORDS[s['site']]}{'-' + side[0].upper() if side else ''} {fc.MEASURE_WORDS[measure]}"
        day = _day(s["scan_date"])
        out.append({
            "resourceType": "Observation", "id": f"dxa-{int(s['patient_id'])}-{day}-{s['site']}-{side or 'none'}-{measure}".replace("_", "-"),
            "status": "final", "code": {"coding": [{"system": fc.LOINC, "code": code, "display": words}], "text": words},
            "subject": _ref(s["patient_id"]), "effectiveDateTime": day,
            "valueQuantity": {"value": float(value), "unit": unit, "system": fc.UCUM, "code": unit},
            **({"extension": [_ext("scanner", s["scanner"])]} if _ext("scanner", s.get("scanner")) else {})})
    return out


def _condition(e: dict, n: int) -> dict:
    """An episode as a Condition, the patient's `n`th."""
    res = {"resourceType": "Condition", "id": f"episode-{int(e['patient_id'])}-{n}",
           "code": {"coding": [{"system": fc.OWN_SYSTEM, "code": fc.TOH_CODE}],
                    "text": "Transient osteoporosis of the hip (bone marrow oedema)"},
           "bodySite": [{"coding": [{"system": fc.SNOMED, "code": fc.JOINT_CODE[e["joint"]]},
                                    {"system": fc.SNOMED, "code": fc.SIDE_CODE[e["side"]]}],
                         "text": f"{e['side']} {e['joint']}"}],
           "subject": _ref(e["patient_id"]), "onsetDateTime": _day(e["onset_date"])}
    if _day(e["resolved_on"]):
        res["abatementDateTime"] = _day(e["resolved_on"])
    exts = [_ext(c, e.get(c)) for c in ("diagnosed_on", "pregnancy_associated", "fracture", "fracture_on")]
    if any(exts):
        res["extension"] = [x for x in exts if x]
    return res


def _medication(t: dict, n: int) -> dict:
    """A treatment as a MedicationStatement, the patient's `n`th."""
    period = {"start": _day(t["started_on"])}
    if _day(t["stopped_on"]):
        period["end"] = _day(t["stopped_on"])
    res = {"resourceType": "MedicationStatement", "id": f"treatment-{int(t['patient_id'])}-{n}",
           "status": "completed" if "end" in period else "active",
           "medicationCodeableConcept": {"text": str(t["drug"])}, "subject": _ref(t["patient_id"]),
           "effectivePeriod": period}
    if isinstance(t.get("dose"), str) and t["dose"]:
        res["dosage"] = [{"text": t["dose"]}]
    return res


def _bundle(resources: list[dict]) -> dict:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": r} for r in resources]}


def bundle_bytes(bundle: dict) -> bytes:
    return (json.dumps(bundle, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def entries_text(resources: list[dict]) -> str:
    """Resources as they stand among a Bundle's entries in `bundle_bytes`' text (each entry
    indented two levels, entries apart by ",\n"), for `bundle_pieces`."""
    return ",\n".join("  " + json.dumps({"resource": r}, ensure_ascii=False, indent=1).replace("\n", "\n  ")
                       for r in resources)


def bundle_pieces(texts):
    """The bytes of `bundle_bytes` of a collection Bundle, in pieces, from its entries' texts
    (`entries_text`, in order; an empty text adds nothing): a Bundle written as it is made."""
    yield '{\n "resourceType": "Bundle",\n "type": "collection",\n "entry": ['.encode("utf-8")
    first = True
    for text in texts:
        if not text:
            continue
        yield (("\n" if first else ",\n") + text).encode("utf-8")
        first = False
    yield ("]\n}\n" if first else "\n ]\n}\n").encode("utf-8")
