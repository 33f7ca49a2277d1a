"""Checking an import file's cells and rows on their own (no database): types, codes, ranges,
dates, lengths. The cells come from a CSV file (csv_read) or a workbook's sheet (xlsx_read) as
text with the line (or row) number of every record; every error names that line and the column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from monitor.errors import MonitorError, Problem
from monitor.formats.csv_read import BadImportFile, read_cells
from monitor.formats.import_spec import EARLIEST_DATE, SPECS, Col, KindSpec


TRUE_WORDS = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
CONTROL_RE = r"[\x00-\x1f\x7f]"
# Contact details (INTERFACE v2): shapes, not truth; a value is stored as entered (trimmed).
PHONE_RE = r"^\+?[0-9 ().\-]+$"  # digits, an optional leading +, spaces, -, ., ( and )
PHONE_DIGITS = (6, 15)
EMAIL_RE = r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$"  # one @, a dot in the domain, no spaces
LANGUAGE_RE = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"  # en, de, pt-BR, es-419
CONTACT_KINDS = ("phone", "email", "address", "language")
REJECTS_RE = re.compile(r"\.rejects(-\d+)?$", re.IGNORECASE)  # scans.rejects.csv, scans.rejects-2.csv


@dataclass
class ParsedFile:
    """One file after validation: typed values of every row, and what was wrong where."""

    path: Path
    kind: str
    present: tuple[str, ...]  # CSV columns the header names
    frame: pd.DataFrame  # typed; column `line` is the file's line number
    raw: pd.DataFrame  # the cells as text, for the rejects file
    problems: list[Problem] = field(default_factory=list)
    bad_lines: set[int] = field(default_factory=set)
    repeat_lines: set[int] = field(default_factory=set)
    sheet: str | None = None  # a workbook's sheet: `line` is then the spreadsheet's row number

    @property
    def label(self) -> str:
        """How errors name the file: `scans.csv`, or `clinic.xlsx, sheet 'scans'`."""
        return self.path.name if self.sheet is None else f"{self.path.name}, sheet '{self.sheet}'"

    @property
    def rejects_stem(self) -> str:
        """The rejects file's stem: the CSV's own, or a sheet's kind (so it goes back without --kind)."""
        return REJECTS_RE.sub("", self.path.stem) if self.sheet is None else self.kind

    def reject(self, line: int, column: str, message: str) -> None:
        self.problems.append(Problem(self.label, line, column, message, unit="line" if self.sheet is None else "row"))
        self.bad_lines.add(line)


def kind_of(path: Path, kind: str | None) -> str:
    if not path.exists():  # a mistyped name is "not found", not "cannot tell what it holds"
        raise MonitorError(f"{path}: file not found")
    if path.is_dir():
        raise MonitorError(f"{path}: is a folder, expected a CSV file")
    if kind:
        if kind not in SPECS:
            raise MonitorError(f"unknown --kind '{kind}' (expected one of: {', '.join(SPECS)})")
        return kind
    stem = REJECTS_RE.sub("", path.stem.lower())  # a rejects file, fixed, goes back as its kind
    if stem in SPECS:
        return stem
    raise MonitorError(
        f"{path.name}: cannot tell what this file holds from its name; name it one of "
        f"{', '.join(s + '.csv' for s in SPECS)} or pass --kind"
    )


def parse_file(path: Path, kind: str, *, today: date, risk_codes: tuple[str, ...],
               date_format: str | None = None) -> ParsedFile:
    """Read and validate one CSV file on its own (no database): types, codes, ranges, dates."""
    header, lines, raw = read_cells(path)
    if REJECTS_RE.search(path.stem):
        header, raw = _from_rejects_file(header, raw)
    return parse_cells(path, kind, header, lines, raw, today=today, risk_codes=risk_codes, date_format=date_format)


def header_name(cell) -> str:
    """A header cell as a column name: case, surrounding blanks and inner runs of blanks do not
    matter (`MRN`, ` Name `, `Birth Date` are mrn, name, birth_date)."""
    return re.sub(r"\s+", "_", str(cell).strip()).lower()


def parse_cells(path: Path, kind: str, header: list[str], lines: np.ndarray, raw: pd.DataFrame, *, today: date,
                risk_codes: tuple[str, ...], sheet: str | None = None, date_format: str | None = None,
                parsed: ParsedFile | None = None) -> ParsedFile:
    """Validate the cells of one file or sheet (text, as a CSV reader sees them) on their own.

    `parsed`: a ParsedFile the caller made (FHIR: its rows know their resources) to fill in."""
    from monitor.formats.date_cells import apply_date_format, slashed_dates_hint

    spec = SPECS[kind]
    header = [header_name(h) for h in header]
    raw = raw.set_axis(header, axis=1)
    where = f"{path.name}, line 1" if sheet is None else f"{path.name}, sheet '{sheet}', row 1"
    seen = set()
    for name in header:
        if name in seen:
            raise BadImportFile(f"{where}: column '{name}' appears twice")
        seen.add(name)
    unknown = [h for h in header if h not in spec.names]
    if unknown:
        raise BadImportFile(
            f"{where}: unknown column(s) {', '.join(repr(u) for u in unknown)}; "
            f"{kind + '.csv' if sheet is None else 'a ' + kind + ' sheet'} takes: {', '.join(spec.names)}"
        )
    missing = [c.name for c in spec.columns if c.required and c.name not in header]
    if missing:
        raise BadImportFile(f"{where}: missing required column(s): {', '.join(missing)}")

    if parsed is None:
        parsed = ParsedFile(path, kind, tuple(header), pd.DataFrame({"line": lines}), raw, sheet=sheet)
    line_of = parsed.frame["line"].to_numpy()
    date_columns = [c for c in spec.columns if c.kind == "date" and c.name in header]
    if date_format is None:
        hint = slashed_dates_hint(parsed.label, "line" if sheet is None else "row",
                                  {c.name: raw[c.name] for c in date_columns}, line_of)
        if hint:
            raise BadImportFile(hint)
        cells_of, rejected = raw, {}
    else:
        cells_of, rejected = apply_date_format(parsed, date_columns, date_format)

    lengths = _max_lengths(spec)
    for col in spec.columns:
        if col.name not in header:
            continue
        cells = cells_of[col.name].reset_index(drop=True)
        blank = cells == ""
        if col.required:  # (a date --date-format rejected is not also "required")
            missing = blank & ~rejected[col.name] if col.name in rejected else blank
            for i in np.flatnonzero(missing.to_numpy()):
                parsed.reject(int(line_of[i]), col.name, "a value is required here")
        word = cells.str.lower().isin(col.words) if col.words else pd.Series(False, index=cells.index)
        if col.words:  # a word such as `ongoing` in a date column: a value, not a date
            cells = cells.where(~word, "")
            blank = blank | word
        if col.kind == "date":  # a year before 1900 is a typing error; pandas would even take 0000
            early = cells.str.match(DATE_RE) & (cells.str[:4] < EARLIEST_DATE[:4])
            for i in np.flatnonzero(early.to_numpy()):
                parsed.reject(int(line_of[i]), col.name, f"date {cells.iloc[i]} is before {EARLIEST_DATE}; "
                                                         "check the year")
            blank = blank | early
            cells = cells.where(~early, "")
        value, bad = _parse_column(col, cells, blank, risk_codes)
        for i in np.flatnonzero(bad.to_numpy()):
            parsed.reject(int(line_of[i]), col.name, _expected(col, cells.iloc[i], risk_codes))
        if col.name in lengths:
            long = ~bad & (cells.str.len() > lengths[col.name])
            for i in np.flatnonzero(long.to_numpy()):
                parsed.reject(int(line_of[i]), col.name,
                              f"at most {lengths[col.name]} characters, got {len(cells.iloc[i])}")
        if col.kind == "date":
            _check_future(parsed, col, value, cells, today=today)
        parsed.frame[col.name] = value.to_numpy() if col.kind != "bool" else value.array
        if col.words:
            parsed.frame[f"{col.name}__word"] = cells.where(~word, raw[col.name].reset_index(drop=True).str.lower()) \
                .where(word).to_numpy()

    _check_rows(parsed, spec)
    return parsed


def _from_rejects_file(header: list[str], raw: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    """A rejects file we wrote, fixed by staff: without its leading `line` and `reason` columns,
    and without the `'` we put before a cell a spreadsheet would run as a formula."""
    if [h.lower() for h in header[:2]] == ["line", "reason"]:
        header, raw = header[2:], raw.iloc[:, 2:]
    ours = raw.apply(lambda s: s.str.match(r"'[=+\-@\t\r]")) if len(raw) else raw
    return header, raw.where(~ours, raw.apply(lambda s: s.str[1:])) if len(raw) else raw


def _check_future(parsed: ParsedFile, col: Col, value: pd.Series, cells: pd.Series, *, today: date) -> None:
    """Dates are not after today, except those that may be planned: within their limit."""
    line_of = parsed.frame["line"].to_numpy()
    if col.future_limit is None:
        limit, message = pd.Timestamp(today), f"is in the future (today is {today.isoformat()})"
    else:
        amount, unit = col.future_limit
        offset = pd.Timedelta(weeks=amount) if unit == "weeks" else pd.DateOffset(years=amount)
        limit = pd.Timestamp(today) + offset
        message = f"is more than {amount} {unit} after today ({today.isoformat()})"
    late = (value > limit).fillna(False)
    for i in np.flatnonzero(late.to_numpy()):
        what = "date" if col.future_limit is None else col.name
        parsed.reject(int(line_of[i]), col.name, f"{what} {cells.iloc[i]} {message}")


def _max_lengths(spec: KindSpec) -> dict[str, int]:
    """The longest text each text or code column's table column holds (an MRN: the patient's)."""
    from monitor.store.tables import SQLModel  # importing the models registers their tables

    out = {}
    for col in spec.columns:
        if col.kind not in ("mrn", "text", "code", "codes", *CONTACT_KINDS):
            continue
        table = SQLModel.metadata.tables["patient" if col.kind == "mrn" else spec.table]
        length = getattr(table.c[col.db].type, "length", None)
        if length:
            out[col.name] = int(length)
    return out


def _parse_column(col: Col, cells: pd.Series, blank: pd.Series, risk_codes) -> tuple[pd.Series, pd.Series]:
    """Typed values and a mask of cells that are not blank yet not valid."""
    if col.kind == "date":
        shaped = cells.str.match(DATE_RE)
        value = pd.to_datetime(cells.where(shaped & ~blank), format="%Y-%m-%d", errors="coerce")
        value = value.astype("datetime64[us]")
        return value, ~blank & value.isna()
    if col.kind == "float":
        value = pd.to_numeric(cells.where(~blank), errors="coerce").astype("float64")
        bad = ~blank & (value.isna() | ~np.isfinite(value.fillna(0)))
        if col.lo is not None:
            bad |= value < col.lo
        if col.hi is not None:
            bad |= value > col.hi
        return value.where(~bad), bad
    if col.kind == "bool":
        lowered = cells.str.lower()
        value = lowered.map(TRUE_WORDS).astype("boolean")
        return value, ~blank & value.isna()
    if col.kind == "code":
        norm = cells.str.upper() if col.upper else cells.str.lower()
        bad = ~blank & ~norm.isin(col.codes)
        return norm.where(~blank, None).astype("object"), bad
    if col.kind == "codes":
        known = set(risk_codes)
        parts = cells.str.lower().str.split(";")
        normalised = parts.map(lambda ps: ";".join(sorted({p.strip() for p in ps if p.strip()})))
        bad = parts.map(lambda ps: any(p.strip() and p.strip() not in known for p in ps))
        return normalised.where(~blank, None).astype("object"), bad.astype(bool)
    if col.kind in CONTACT_KINDS:
        control = cells.str.contains(CONTROL_RE, regex=True)
        if col.kind == "phone":
            digits = cells.str.count(r"\d")
            shaped = cells.str.match(PHONE_RE) & digits.between(*PHONE_DIGITS)
        elif col.kind == "email":
            shaped = cells.str.match(EMAIL_RE) & (cells.str.count("@") == 1)
        elif col.kind == "language":
            shaped = cells.str.match(LANGUAGE_RE)
        else:  # address: free text on one line, its lines separated by `;`
            shaped = pd.Series(True, index=cells.index)
        bad = ~blank & (control | ~shaped.astype(bool))
        return cells.where(~blank, None).astype("object"), bad
    # mrn / text (their length is checked against the table's column)
    bad = cells.str.contains(CONTROL_RE, regex=True)
    return cells.where(~blank, None).astype("object"), bad & ~blank


def _expected(col: Col, got: str, risk_codes) -> str:
    if col.private:  # a contact detail is patient data: say what was expected, never echo it
        return CONTACT_EXPECTED.get(col.kind) or f"expected one of {', '.join(col.codes)}"
    if col.kind == "date":
        words = "".join(f" or '{w}'" for w in col.words)
        return f"expected a date YYYY-MM-DD{words}, got '{got}'"
    if col.kind == "float":
        rng = f" between {col.lo:g} and {col.hi:g}" if col.lo is not None else ""
        unit = " g/cm²" if col.name == "bmd" else ""
        return f"expected a number{rng}{unit}, got '{got}'"
    if col.kind == "bool":
        return f"expected yes or no, got '{got}'"
    if col.kind == "code":
        return f"expected one of {', '.join(col.codes)}, got '{got}'"
    if col.kind == "codes":
        unknown = [p.strip() for p in got.lower().split(";") if p.strip() and p.strip() not in risk_codes]
        return f"unknown risk factor code(s) {', '.join(unknown)}; known: {', '.join(risk_codes)}"
    return "text must not hold control characters"


CONTACT_EXPECTED = {
    "phone": f"expected a phone number: {PHONE_DIGITS[0]} to {PHONE_DIGITS[1]} digits, an optional leading +, "
             "and only spaces, -, ., ( or ) between them",
    "email": "expected an email address: one @, a domain with a dot, no spaces",
    "address": "expected the address on one line, its lines separated by ; (no line breaks or tabs)",
    "language": "expected a language tag such as en, de or pt-BR (letters, then -parts)",
}


def _check_rows(parsed: ParsedFile, spec: KindSpec) -> None:
    """Checks across the columns of one row, and duplicate keys within the file."""
    frame = parsed.frame
    lines = frame["line"].to_numpy()
    for earlier, later in spec.order_checks:
        if earlier in frame and later in frame:
            wrong = (frame[later] < frame[earlier]).fillna(False).to_numpy()
            for i in np.flatnonzero(wrong):
                parsed.reject(int(lines[i]), later, f"{later} {frame[later].iloc[i].date()} is before "
                                                    f"{earlier} {frame[earlier].iloc[i].date()}")
    if spec.kind == "scans":
        side = frame["side"] if "side" in frame else pd.Series([None] * len(frame))
        spine = frame["site"] == "lumbar_spine"
        for i in np.flatnonzero((spine & side.notna()).to_numpy()):
            parsed.reject(int(lines[i]), "side", "the lumbar spine has no side; leave it blank")
        for i in np.flatnonzero((~spine & frame["site"].notna() & side.isna()).to_numpy()):
            parsed.reject(int(lines[i]), "side", f"{frame['site'].iloc[i]} needs a side: left or right")
    if spec.kind == "pregnancies":
        exp = frame["expected_delivery"] if "expected_delivery" in frame else pd.Series(pd.NaT, index=frame.index)
        dlv = frame["delivered_on"] if "delivered_on" in frame else pd.Series(pd.NaT, index=frame.index)
        for i in np.flatnonzero((exp.isna() & dlv.isna()).to_numpy()):
            parsed.reject(int(lines[i]), "expected_delivery", "give expected_delivery, delivered_on, or both")
        frame["key_on"] = exp.fillna(dlv)
        if "breastfeeding_until" in frame:
            # `ongoing` or a date; a blank cell leaves the stored value alone (NA).
            ongoing = frame["breastfeeding_until__word"] == "ongoing"
            given = ongoing | frame["breastfeeding_until"].notna()
            frame["breastfeeding_ongoing"] = pd.array(np.where(given, ongoing, None), dtype="boolean")
    if spec.kind == "episodes" and "fracture_on" in frame and "fracture" in frame:
        blank = frame["fracture"].isna() & frame["fracture_on"].notna()
        frame["fracture"] = frame["fracture"].where(~blank, True).astype("boolean")
    if spec.kind == "episodes" and "fracture_on" in frame:
        # A fracture date says there was a fracture; "fracture = no" beside one is a contradiction.
        said_no = (frame["fracture"] == False).fillna(False) if "fracture" in frame else pd.Series(False, index=frame.index)  # noqa: E712
        for i in np.flatnonzero((said_no & frame["fracture_on"].notna()).to_numpy()):
            parsed.reject(int(lines[i]), "fracture", "fracture is 'no' but fracture_on gives a date; correct one of them")
