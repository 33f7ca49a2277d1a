"""FHIR R4 files in: Bundles, single resources or NDJSON, mapped to the rows a CSV import reads.

Every resource is checked against fhir.resources' R4B model (the shape), then mapped to cells of
the import kinds (patients, scans, episodes, treatments) as text, so the very same validation,
all-or-nothing, idempotence and audit as CSV apply (`csv_cells.parse_cells`). A value that cannot
be placed is rejected naming file, resource and element path, never the patient's value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from monitor.config import FhirSettings
from monitor.errors import MonitorError, Problem
from monitor.formats.csv_cells import BadImportFile, ParsedFile, parse_cells

FHIR_SUFFIXES = (".json", ".ndjson")
COLUMNS = {
    "patients": ("mrn", "name", "sex", "birth_date", "enrolled_on", "status", "risk_factors", "postmenopausal"),
    "scans": ("mrn", "scan_date", "scanner", "site", "side", "bmd", "t_score", "z_score"),
    "episodes": ("mrn", "joint", "side", "onset_date", "diagnosed_on", "resolved_on", "pregnancy_associated",
                 "fracture", "fracture_on"),
    "treatments": ("mrn", "drug", "dose", "started_on", "stopped_on"),
}
KIND_OF = {"Patient": "patients", "Observation": "scans", "DiagnosticReport": "scans", "Condition": "episodes",
           "MedicationStatement": "treatments", "MedicationRequest": "treatments"}
MISSING = {"bmd": "a T- or Z-score without the BMD (g/cm2) of the same patient, date, site and side",
           "birth_date": "no birthDate", "onset_date": "no onsetDateTime", "started_on": "no start date",
           "drug": "no drug name (medicationCodeableConcept text or coding display)"}
GOT_RE = re.compile(r",? got '.*'$", re.DOTALL)  # a CSV message's echo of the cell: a patient value here


def is_fhir(path: Path) -> bool:
    return path.suffix.lower() in FHIR_SUFFIXES


class FhirProblem(Problem):
    """An invalid FHIR value: file, resource and element path (`Observation/x.code.coding[0]`)."""

    __slots__ = ("where",)

    def __init__(self, file: str, line: int, column: str, message: str, where: str):
        super().__init__(file, line, column, message)
        self.where = where

    def __str__(self) -> str:
        return f"{self.file}, {self.where}: {self.message}"


@dataclass
class Res:
    """One resource and where it came from."""

    file: str
    label: str  # `Patient/example`, or `line 3` / `entry[2]` when it has no id
    data: dict
    full_url: str | None = None


@dataclass
class Row:
    cells: dict[str, str]
    where: dict[str, tuple[str, str]]  # column -> (file, element path); "" -> the row's resource
    reason: tuple[str, str] | None = None  # (element path, why) when the resource cannot be placed


@dataclass
class FhirParsedFile(ParsedFile):
    """A kind's rows from FHIR: a rejection names the resource and element of the cell."""

    rows: list[Row] = field(default_factory=list)

    def reject(self, line: int, column: str, message: str) -> None:
        row = self.rows[line - 1]
        if row.reason is not None and (column, message) != ("", row.reason[1]):
            return  # a resource that could not be placed: its reason says it all
        file, where = row.where.get(column) or row.where[""]
        if message == "a value is required here":
            message = MISSING.get(column, f"no {column}: the resource does not give it")
        self.problems.append(FhirProblem(file, line, column, GOT_RE.sub("", message), where))
        self.bad_lines.add(line)


def read_fhir_files(paths: list[Path], *, today: date, risk_codes: tuple[str, ...],
                    settings: FhirSettings) -> tuple[list[FhirParsedFile], dict[str, int]]:
    """Every resource of the files, as one import: parsed kinds, and what was skipped (by reason)."""
    resources = [r for path in paths for r in read_resources(path)]
    rows, skipped = map_resources(resources, settings)
    parsed = []
    for kind, kind_rows in rows.items():
        if not kind_rows:
            continue
        raw = pd.DataFrame([[r.cells.get(c, "") for c in COLUMNS[kind]] for r in kind_rows],
                           columns=list(COLUMNS[kind]), dtype="str")
        p = FhirParsedFile(Path(f"{kind}.fhir"), kind, COLUMNS[kind],
                           pd.DataFrame({"line": range(1, len(kind_rows) + 1)}), raw, rows=kind_rows)
        for n, row in enumerate(kind_rows, start=1):
            if row.reason is not None:
                p.reject(n, "", row.reason[1])
        parsed.append(parse_cells(p.path, kind, list(COLUMNS[kind]), p.frame["line"].to_numpy(), raw,
                                  today=today, risk_codes=risk_codes, parsed=p))
    return parsed, skipped


def read_resources(path: Path) -> list[Res]:
    """The resources of one file: a Bundle's entries, a single resource, or NDJSON lines."""
    if not path.exists():
        raise MonitorError(f"{path}: file not found")
    if path.is_dir():
        raise MonitorError(f"{path}: is a folder, expected a FHIR JSON file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadImportFile(f"{path.name}: not UTF-8 text; FHIR JSON is UTF-8") from None
    except OSError as exc:
        raise MonitorError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    items: list[tuple[str, object]] = []
    if path.suffix.lower() == ".ndjson":
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                items.append((f"line {n}", _json(path, line, f", line {n}")))
    else:
        items.append(("", _json(path, text, "")))
    out: list[Res] = []
    for place, data in items:
        if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
            raise BadImportFile(f"{path.name}{', ' + place if place else ''}: not a FHIR resource "
                                "(a JSON object with a resourceType)")
        if data["resourceType"] == "Bundle":
            for i, entry in enumerate(data.get("entry") or []):
                res = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(res, dict) and isinstance(res.get("resourceType"), str):
                    out.append(Res(path.name, _label(res, f"{place + ' ' if place else ''}entry[{i}]"), res,
                                   entry.get("fullUrl")))
        else:
            out.append(Res(path.name, _label(data, place or "resource"), data))
    return out


def _json(path: Path, text: str, where: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadImportFile(f"{path.name}{where}: not valid JSON ({exc.msg}, line {exc.lineno} column "
                            f"{exc.colno})") from None


def _label(res: dict, place: str) -> str:
    rid = res.get("id")
    return f"{res['resourceType']}/{rid}" if isinstance(rid, str) and rid else f"{res['resourceType']} ({place})"


def shape_problem(res: dict) -> tuple[str, str] | None:
    """The first element where the resource does not fit the FHIR R4 model: (path, reason)."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    try:
        get_fhir_model_class(res["resourceType"]).model_validate(res)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"]).lstrip(".")
        return loc, f"not valid FHIR R4: {first['msg']}"
    return None


def map_resources(resources: list[Res], settings: FhirSettings) -> tuple[dict[str, list[Row]], dict[str, int]]:
    """Rows per kind for every resource we record; the others counted by why they were skipped."""
    from monitor.formats.fhir_mapping import Mapper

    return Mapper(resources, settings).run()
