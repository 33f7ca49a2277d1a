"""Dates written day-first or month-first: one clear hint for the whole file, or an explicit format.

A file saved by a spreadsheet in a European or US locale has `25/11/2026` or `11/25/2026` in
every date cell. Rejecting each row alone gives hundreds of identical errors; guessing which one
it is would silently swap day and month for every date up to the 12th. So: one error that says
what the file looks like, and `--date-format` for the user to say it explicitly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SLASHED_RE = r"^(\d{1,2})/(\d{1,2})/(\d{4})$"
# --date-format choices -> strptime format (None: our own YYYY-MM-DD, checked as usual).
DATE_FORMATS = {"YYYY-MM-DD": None, "DD/MM/YYYY": "%d/%m/%Y", "MM/DD/YYYY": "%m/%d/%Y"}


def slashed_pattern(columns: dict[str, pd.Series], lines) -> dict | None:
    """How a file's `NN/NN/YYYY` date cells are ordered, or None when it has none.

    `pattern` is `DD/MM/YYYY` when some first part is above 12, `MM/DD/YYYY` when some second
    part is, `mixed` when both occur, `ambiguous` when neither does; `example` is the first such
    cell (line, column) and, for `mixed`, `other` one of the other order."""
    first = None
    day_first, month_first = [], []
    lines = np.asarray(lines)
    for name, cells in columns.items():
        if not cells.str.contains("/", regex=False).any():  # the usual file: no slashes, no regex
            continue
        parts = cells.reset_index(drop=True).str.extract(SLASHED_RE)
        found = parts[0].notna().to_numpy()
        if not found.any():
            continue
        a = pd.to_numeric(parts[0]).to_numpy()
        b = pd.to_numeric(parts[1]).to_numpy()
        i = int(np.flatnonzero(found)[0])
        if first is None or lines[i] < first[0]:
            first = (int(lines[i]), name)
        day_first += [(int(lines[j]), name) for j in np.flatnonzero(found & (a > 12))[:1]]
        month_first += [(int(lines[j]), name) for j in np.flatnonzero(found & (b > 12))[:1]]
    if first is None:
        return None
    if day_first and month_first:
        return {"pattern": "mixed", "example": min(day_first), "other": min(month_first)}
    if day_first:
        return {"pattern": "DD/MM/YYYY", "example": min(day_first)}
    if month_first:
        return {"pattern": "MM/DD/YYYY", "example": min(month_first)}
    return {"pattern": "ambiguous", "example": first}


def slashed_dates_hint(label: str, unit: str, columns: dict[str, pd.Series], lines) -> str | None:
    """The one error for a file whose dates are written `NN/NN/YYYY` (no cell value in it: a date
    may be a birth date), or None."""
    found = slashed_pattern(columns, lines)
    if found is None:
        return None
    line, column = found["example"]
    at = f"{label}, {unit} {line}, column '{column}': dates must be YYYY-MM-DD"
    if found["pattern"] == "mixed":
        line2, column2 = found["other"]
        return (f"{at}; this file mixes day-first dates (the first is here) and month-first dates "
                f"(e.g. {unit} {line2}, column {column2}); re-save the dates as YYYY-MM-DD")
    if found["pattern"] == "ambiguous":
        return (f"{at}; this file has dates like NN/NN/YYYY (the first is here) and none of them tells "
                "whether the day or the month comes first (no part above 12); re-save the dates as "
                "YYYY-MM-DD, or pass --date-format DD/MM/YYYY or --date-format MM/DD/YYYY, whichever "
                "the file uses")
    pattern = found["pattern"]
    return (f"{at}; this file looks like {pattern} (the first such date is here); re-save the dates as "
            f"YYYY-MM-DD or pass --date-format {pattern}")


def convert_dates(cells: pd.Series, date_format: str) -> tuple[pd.Series, pd.Series]:
    """Cells in the given --date-format as YYYY-MM-DD text, and a mask of the non-blank cells that
    do not fit it (blank where they were). `YYYY-MM-DD` leaves the cells as they are."""
    if date_format not in DATE_FORMATS:
        raise ValueError(f"unknown date format {date_format}")
    strptime = DATE_FORMATS[date_format]
    blank = cells == ""
    if strptime is None:
        return cells, pd.Series(False, index=cells.index)
    shaped = cells.str.match(SLASHED_RE)
    value = pd.to_datetime(cells.where(shaped & ~blank), format=strptime, errors="coerce")
    bad = ~blank & value.isna()
    iso = value.dt.strftime("%Y-%m-%d").where(~bad & ~blank, "")
    return iso.astype("str"), bad


def apply_date_format(parsed, date_columns, date_format: str) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """The parsed file's cells with its date columns converted from `date_format`, and per column
    the cells rejected: a date that does not fit is rejected with its line and column and left
    blank (a column's words, e.g. `ongoing`, pass)."""
    cells_of, rejected = parsed.raw.copy(), {}
    lines = parsed.frame["line"].to_numpy()
    for col in date_columns:
        cells = parsed.raw[col.name].reset_index(drop=True)
        word = cells.str.lower().isin(col.words) if col.words else pd.Series(False, index=cells.index)
        iso, bad = convert_dates(cells.where(~word, ""), date_format)
        for i in np.flatnonzero(bad.to_numpy()):
            parsed.reject(int(lines[i]), col.name, f"expected a date {date_format} (as --date-format says)")
        cells_of[col.name] = iso.where(~word, cells).to_numpy()
        rejected[col.name] = bad
    return cells_of, rejected
