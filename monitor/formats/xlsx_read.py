"""An Excel workbook as import files: one sheet per kind, each cell as the text a CSV would hold.

A sheet is named after what it holds (`patients`, `Scans`, ...; case and blanks do not matter),
or `--kind` names the one sheet of a single-sheet workbook. Cells become text exactly as the
CSV reader sees them: a date cell `YYYY-MM-DD`, a whole number without `.0`, TRUE/FALSE as
`true`/`false`, text as typed (stripped). The rows then go through the same checks as a CSV
file; errors name the file, the sheet, the spreadsheet's row and the column.

An MRN typed as a number in Excel (`007` becomes 7 the moment it is typed) cannot be recovered
here: the README asks clinics to format MRN columns as text.
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pandas as pd

from monitor.errors import MonitorError
from monitor.formats.csv_cells import REJECTS_RE, BadImportFile, ParsedFile, _from_rejects_file, header_name, parse_cells
from monitor.formats.import_spec import SPECS


def is_workbook(path: Path) -> bool:
    return Path(path).suffix.lower() == ".xlsx"


def cell_text(value) -> str:
    """One cell's value as the text a CSV file saved from it would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def _open(path: Path):
    import zipfile

    import openpyxl

    if not path.exists():
        raise MonitorError(f"{path}: file not found")
    try:
        return openpyxl.load_workbook(path, data_only=True)  # formulas: the value Excel last computed
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise BadImportFile(f"{path.name}: not an Excel workbook (.xlsx) that can be read: "
                            f"{exc.__class__.__name__}; save it again from the spreadsheet as .xlsx") from None


def sheet_cells(path: Path, ws) -> tuple[list[str], np.ndarray, pd.DataFrame] | None:
    """Header, row numbers and cells (text) of one sheet; None for a sheet with no cells at all.
    Blank rows are skipped; empty columns after the last named one are ignored."""
    rows = [[cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    if not any(any(row) for row in rows):
        return None
    header = rows[0]
    while header and not header[-1]:
        header = header[:-1]
    where = f"{path.name}, sheet '{ws.title}'"
    blank = [i + 1 for i, cell in enumerate(header) if not cell]
    if not header or blank:
        raise BadImportFile(f"{where}, row 1: column {blank[0] if blank else 1} has no name in the header "
                            "(the header must be the first row): delete that column or give it a name")
    width = len(header)
    lines, body = [], []
    for number, row in enumerate(rows[1:], start=2):
        if not any(row):
            continue
        extra = [i for i, cell in enumerate(row[width:], start=width) if cell]
        if extra:
            raise BadImportFile(f"{where}, row {number}: a value in column {extra[0] + 1}, which has no "
                                "name in the header")
        lines.append(number)
        body.append((row + [""] * width)[:width])
    frame = pd.DataFrame(body, columns=header, dtype="str") if body else pd.DataFrame(columns=header, dtype="str")
    return header, np.array(lines, dtype="int64"), frame


def parse_workbook(path: Path, kind: str | None, *, today: date, risk_codes: tuple[str, ...],
                   date_format: str | None = None) -> list[ParsedFile]:
    """Every sheet of a workbook, read and checked like a CSV file of its kind."""
    book = _open(path)
    sheets = [(ws, sheet_cells(path, ws)) for ws in book.worksheets]
    sheets = [(ws, cells) for ws, cells in sheets if cells is not None]  # an untouched "Sheet1"
    if not sheets:
        raise BadImportFile(f"{path.name}: the workbook has no filled sheet")
    if kind:
        if kind not in SPECS:
            raise MonitorError(f"unknown --kind '{kind}' (expected one of: {', '.join(SPECS)})")
        if len(sheets) > 1:
            raise MonitorError(f"{path.name}: --kind reads a workbook with one filled sheet; this one has "
                               f"{len(sheets)} ({', '.join(repr(ws.title) for ws, _ in sheets)}): name each "
                               f"sheet after what it holds ({', '.join(SPECS)}) and leave out --kind")
        kinds = [kind]
    else:
        kinds = [REJECTS_RE.sub("", header_name(ws.title)) for ws, _ in sheets]
        unknown = [ws.title for (ws, _), k in zip(sheets, kinds) if k not in SPECS]
        if unknown:
            raise BadImportFile(f"{path.name}: cannot tell what sheet(s) {', '.join(repr(u) for u in unknown)} "
                                f"hold; name each sheet one of {', '.join(SPECS)} (or pass --kind for a "
                                "workbook with one sheet)")
        twice = sorted({k for k in kinds if kinds.count(k) > 1})
        if twice:
            raise BadImportFile(f"{path.name}: more than one sheet holds {', '.join(twice)}; put them in one sheet")
    parsed = []
    for (ws, (header, lines, raw)), k in zip(sheets, kinds):
        if [h.lower() for h in header[:2]] == ["line", "reason"]:  # a rejects file saved as a workbook
            header, raw = _from_rejects_file(header, raw)
        parsed.append(parse_cells(path, k, header, lines, raw, today=today, risk_codes=risk_codes,
                                  sheet=ws.title, date_format=date_format))
    return parsed
