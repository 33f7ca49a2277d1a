"""Mapping FHIR R4 resources (plain dicts) to import rows: pure, no database, no files.

Patient -> patients; Observation (DXA by LOINC) and DiagnosticReport (its results) -> scans, the
BMD, T- and Z-score of one patient, date, site and side combined into one row; Condition (a TOH
episode code) -> episodes; MedicationStatement / MedicationRequest -> treatments.
"""

from __future__ import annotations

from monitor.config import FhirSettings
from monitor.formats import fhir_codes as fc
from monitor.formats.fhir_read import KIND_OF, Res, Row, shape_problem

SKIP_STATUSES = ("entered-in-error", "cancelled")


def day(value) -> str:
    """The date of a FHIR date or dateTime as written (the clinic's local date at the scanner)."""
    return value[:10] if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-" else \
        (value if isinstance(value, str) else "")


def codings(concept) -> list[dict]:
    return [c for c in (concept or {}).get("coding") or [] if isinstance(c, dict)]


def ext(res: dict, name: str):
    for e in res.get("extension") or []:
        if isinstance(e, dict) and e.get("url") == fc.EXT + name:
            return next((v for k, v in e.items() if k.startswith("value")), None)
    return None


def as_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


class Mapper:
    def __init__(self, resources: list[Res], settings: FhirSettings):
        self.resources = resources
        self.settings = settings
        self.rows: dict[str, list[Row]] = {k: [] for k in ("patients", "scans", "episodes", "treatments")}
        self.skipped: dict[str, int] = {}
        self.by_ref: dict[str, Res] = {}
        for r in resources:
            self.by_ref[r.label] = r
            if r.full_url:
                self.by_ref[r.full_url] = r
        self.mrn_of: dict[int, str | None] = {}  # id(Patient Res) -> its MRN

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def bad(self, kind: str, r: Res, path: str, why: str) -> None:
        where = f"{r.label}.{path}" if path else r.label
        self.rows[kind].append(Row({}, {"": (r.file, where)}, (where, why)))

    def run(self):
        valid = []
        for r in self.resources:
            kind = KIND_OF.get(r.data["resourceType"])
            if kind is None:
                self.skip(f"{r.data['resourceType']} (not recorded here)")
                continue
            if r.data.get("status") in SKIP_STATUSES:
                self.skip(f"{r.data['resourceType']} with status {r.data['status']}")
                continue
            problem = shape_problem(r.data)
            if problem:
                self.bad(kind, r, *problem)
                continue
            valid.append(r)
        for r in valid:
            if r.data["resourceType"] == "Patient":
                self.patient(r)
        reports = {}  # id(Observation Res) -> the DiagnosticReport listing it
        for r in valid:
            if r.data["resourceType"] == "DiagnosticReport":
                for i, ref in enumerate(r.data.get("result") or []):
                    target = self.by_ref.get((ref or {}).get("reference", ""))
                    if target is None or target.data["resourceType"] != "Observation":
                        self.bad("scans", r, f"result[{i}].reference",
                                 "refers to an Observation that is not in this import")
                    else:
                        reports[id(target)] = r
        scans: dict[tuple, Row] = {}
        for r in valid:
            t = r.data["resourceType"]
            if t == "Observation":
                self.observation(r, reports.get(id(r)), scans)
            elif t == "Condition":
                self.condition(r)
            elif t in ("MedicationStatement", "MedicationRequest"):
                self.medication(r)
        self.rows["scans"].extend(scans.values())
        return self.rows, self.skipped

    # -- Patient ---------------------------------------------------------------------------
    def patient(self, r: Res) -> None:
        d, s = r.data, self.settings
        idents = [(i, x) for i, x in enumerate(d.get("identifier") or []) if x.get("value")]
        # The configured system first (the clinic said where its MRN is), else the identifier of type MR.
        mrn_at = next((i for i, x in idents if s.mrn_system and x.get("system") == s.mrn_system), None)
        if mrn_at is None:
            mrn_at = next((i for i, x in idents if any(c.get("code") == "MR" and c.get("system") in (None, fc.V2_0203)
                                                       for c in codings(x.get("type")))), None)
        if mrn_at is None:
            self.mrn_of[id(r)] = None
            return self.bad("patients", r, "identifier", "no identifier of type MR (nor of the system "
                                                          "[fhir] mrn_system names): the MRN is needed")
        mrn = d["identifier"][mrn_at]["value"]
        self.mrn_of[id(r)] = mrn
        where = {"": (r.file, r.label), "mrn": (r.file, f"{r.label}.identifier[{mrn_at}].value"),
                 "birth_date": (r.file, f"{r.label}.birthDate")}
        cells = {"mrn": mrn, "birth_date": d.get("birthDate") or ""}
        names = d.get("name") or []
        pick = next((n for n in names if n.get("use") in ("usual", "official")), names[0] if names else None)
        if pick:
            at = names.index(pick)
            cells["name"] = pick.get("text") or " ".join([*(pick.get("given") or []), pick.get("family") or ""]).strip()
            where["name"] = (r.file, f"{r.label}.name[{at}]")
        sex, path = self.sex(d)
        if sex is None:
            return self.bad("patients", r, "gender", "gender is unknown or absent: record female, male or other "
                                                     "(or set [fhir] unknown_gender = \"X\")")
        cells["sex"], where["sex"] = sex, (r.file, f"{r.label}.{path}")
        for column in ("enrolled_on", "status", "risk_factors", "postmenopausal"):
            value = ext(d, column)
            if value is not None:
                cells[column] = as_cell(value)
                where[column] = (r.file, f"{r.label}.extension({fc.EXT}{column})")
        self.rows["patients"].append(Row(cells, where))

    def sex(self, d: dict) -> tuple[str | None, str]:
        if d.get("gender") in fc.GENDER:
            return fc.GENDER[d["gender"]], "gender"
        for i, e in enumerate(d.get("extension") or []):
            if e.get("url") == fc.BIRTH_SEX_EXT and e.get("valueCode") in fc.BIRTH_SEX:
                return fc.BIRTH_SEX[e["valueCode"]], f"extension[{i}]"
            if e.get("url") == fc.INDIVIDUAL_SEX_EXT and (e.get("valueCoding") or {}).get("code") in fc.INDIVIDUAL_SEX:
                return fc.INDIVIDUAL_SEX[e["valueCoding"]["code"]], f"extension[{i}]"
        return (self.settings.unknown_gender or None), "gender"

    def subject(self, kind: str, r: Res, *fallbacks: Res) -> tuple[str, str] | None:
        """The MRN of the resource's subject and its path; None (rejected) when it cannot be found."""
        for holder in (r, *fallbacks):
            ref = holder.data.get("subject") or holder.data.get("patient")
            if ref:
                break
        else:
            self.bad(kind, r, "subject", "no subject: whose record is this?")
            return None
        path = "subject"
        ident = ref.get("identifier")
        if ident and ident.get("value") and (any(c.get("code") == "MR" for c in codings(ident.get("type")))
                                             or ident.get("system") in (None, self.settings.mrn_system)):
            return ident["value"], f"{path}.identifier.value"
        target = self.by_ref.get(ref.get("reference", ""))
        if target is None or target.data["resourceType"] != "Patient":
            self.bad(kind, r, f"{path}.reference", "refers to a Patient that is not in this import (include the "
                                                   "Patient, or refer to it by its MR identifier)")
            return None
        mrn = self.mrn_of.get(id(target))
        if not mrn:
            self.bad(kind, r, f"{path}.reference", f"the Patient {target.label} has no MRN")
            return None
        return mrn, f"{path}.reference"

    # -- Observation -----------------------------------------------------------------------
    def observation(self, r: Res, report: Res | None, scans: dict) -> None:
        d = r.data
        found = [(i, c["code"]) for i, c in enumerate(codings(d.get("code")))
                 if c.get("system") == fc.LOINC and c.get("code") in fc.DXA_LOINC]
        if not found:
            words = " ".join([str((d.get("code") or {}).get("text") or "")] +
                             [str(c.get("display") or "") for c in codings(d.get("code"))]).lower()
            if report is None and not any(w in words for w in ("dxa", "bone density", "bmd")):
                return self.skip("Observation (not a DXA result)")
            return self.bad("scans", r, "code.coding", "not a DXA code we know (BMD, T-score or Z-score of hip, "
                                                       "femur or lumbar spine by LOINC)")
        at, code = found[0]
        site, side, measure = fc.DXA_LOINC[code]
        if side is None and site != "lumbar_spine":
            sides = [(j, fc.LATERALITY[c["code"]]) for j, c in enumerate(codings(d.get("bodySite")))
                     if c.get("system") == fc.SNOMED and c.get("code") in fc.LATERALITY]
            if not sides:
                return self.bad("scans", r, f"code.coding[{at}]", "the code has no side and bodySite gives no "
                                                                 "laterality (SNOMED 7771000 left, 24028007 right)")
            side = sides[0][1]
        subject = self.subject("scans", r, *([report] if report else []))
        if subject is None:
            return
        q = d.get("valueQuantity")
        if not q or q.get("value") is None:
            return self.bad("scans", r, "valueQuantity.value", "no value")
        unit = q.get("code") or q.get("unit")
        if measure == "bmd" and unit not in ("g/cm2", "g/cm²"):
            return self.bad("scans", r, "valueQuantity.code", "BMD must be in g/cm2 (UCUM)")
        if measure != "bmd" and q.get("code") not in (None, "1") and not str(q.get("code")).startswith("{"):
            return self.bad("scans", r, "valueQuantity.code", "a T- or Z-score has no unit (UCUM 1)")
        when, date_path = d.get("effectiveDateTime") or (d.get("effectivePeriod") or {}).get("start"), "effectiveDateTime"
        if not when and report is not None:
            when, date_path = report.data.get("effectiveDateTime"), f"{report.label}.effectiveDateTime"
        if not when:
            return self.bad("scans", r, "effectiveDateTime", "no date: the scan date is needed")
        mrn, subject_path = subject
        key = (mrn, day(when), site, side or "")
        row = scans.get(key)
        if row is None:
            row = scans[key] = Row({"mrn": mrn, "scan_date": day(when), "site": site, "side": side or ""},
                                   {"": (r.file, r.label), "mrn": (r.file, f"{r.label}.{subject_path}"),
                                    "scan_date": (r.file, date_path if "." in date_path else f"{r.label}.{date_path}"),
                                    "site": (r.file, f"{r.label}.code.coding[{at}]"),
                                    "side": (r.file, f"{r.label}.code.coding[{at}]")})
        if ext(d, "scanner") is not None:
            row.cells["scanner"] = str(ext(d, "scanner"))
            row.where["scanner"] = (r.file, f"{r.label}.extension({fc.EXT}scanner)")
        value = str(q["value"])
        if measure in row.cells and row.cells[measure] != value:
            return self.bad("scans", r, "valueQuantity.value", f"another value for the same {measure} is given by "
                                                               f"{row.where[measure][1].split('.')[0]}")
        row.cells[measure] = value
        row.where[measure] = (r.file, f"{r.label}.valueQuantity.value")

    # -- Condition -------------------------------------------------------------------------
    def condition(self, r: Res) -> None:
        d = r.data
        wanted = set(self.settings.toh_codes)
        is_toh = any((c.get("system") == fc.OWN_SYSTEM and c.get("code") == fc.TOH_CODE)
                     or f"{c.get('system')}|{c.get('code')}" in wanted or c.get("code") in wanted
                     for c in codings(d.get("code")))
        if not is_toh:
            return self.skip("Condition (not a TOH episode code: see [fhir] toh_codes)")
        joint = side = None
        for site in d.get("bodySite") or []:
            for c in codings(site):
                if c.get("system") == fc.SNOMED:
                    joint = joint or fc.JOINT_CODES.get(c.get("code"))
                    side = side or fc.LATERALITY.get(c.get("code"))
            words = str(site.get("text") or "").lower().split()
            joint = joint or next((w for w in words if w in ("hip", "knee", "ankle", "foot")), None)
            side = side or next((w for w in words if w in ("left", "right")), None)
        if joint is None or side is None:
            return self.bad("episodes", r, "bodySite", "needs the joint (hip, knee, ankle, foot) and the side "
                                                       "(SNOMED 7771000 left, 24028007 right)")
        subject = self.subject("episodes", r)
        if subject is None:
            return
        onset = d.get("onsetDateTime") or (d.get("onsetPeriod") or {}).get("start")
        cells = {"mrn": subject[0], "joint": joint, "side": side, "onset_date": day(onset),
                 "resolved_on": day(d.get("abatementDateTime") or (d.get("abatementPeriod") or {}).get("start"))}
        where = {"": (r.file, r.label), "mrn": (r.file, f"{r.label}.{subject[1]}"),
                 "joint": (r.file, f"{r.label}.bodySite"), "side": (r.file, f"{r.label}.bodySite"),
                 "onset_date": (r.file, f"{r.label}.onsetDateTime"),
                 "resolved_on": (r.file, f"{r.label}.abatementDateTime")}
        for column in ("diagnosed_on", "pregnancy_associated", "fracture", "fracture_on"):
            value = ext(d, column)
            if value is not None:
                cells[column] = as_cell(value)
                where[column] = (r.file, f"{r.label}.extension({fc.EXT}{column})")
        self.rows["episodes"].append(Row(cells, where))

    # -- MedicationStatement / MedicationRequest -------------------------------------------
    def medication(self, r: Res) -> None:
        d = r.data
        concept = d.get("medicationCodeableConcept")
        if not concept:
            return self.bad("treatments", r, "medicationCodeableConcept",
                            "the drug is needed as medicationCodeableConcept (text or coding display)")
        first = next(iter(codings(concept)), {})
        drug = concept.get("text") or first.get("display") or first.get("code") or ""
        subject = self.subject("treatments", r)
        if subject is None:
            return
        if d["resourceType"] == "MedicationStatement":
            period = d.get("effectivePeriod") or {}
            start, start_path = (period.get("start"), "effectivePeriod.start") if period else \
                (d.get("effectiveDateTime"), "effectiveDateTime")
            stop = period.get("end")
            dose = next((x.get("text") for x in d.get("dosage") or [] if x.get("text")), "")
        else:
            start, start_path, stop = d.get("authoredOn"), "authoredOn", None
            dose = next((x.get("text") for x in d.get("dosageInstruction") or [] if x.get("text")), "")
        self.rows["treatments"].append(Row(
            {"mrn": subject[0], "drug": drug, "dose": dose or "", "started_on": day(start), "stopped_on": day(stop)},
            {"": (r.file, r.label), "mrn": (r.file, f"{r.label}.{subject[1]}"),
             "drug": (r.file, f"{r.label}.medicationCodeableConcept"), "dose": (r.file, f"{r.label}.dosage"),
             "started_on": (r.file, f"{r.label}.{start_path}"),
             "stopped_on": (r.file, f"{r.label}.effectivePeriod.end")}))
