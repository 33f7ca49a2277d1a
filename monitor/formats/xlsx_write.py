"""A list as an Excel workbook: MRNs and phones as text, dates as dates, counts as numbers.

Written with XlsxWriter: every cell is written with the call for its type (`write_string`,
`write_datetime`, `write_number`), so a text such as `007` or `=HYPERLINK(...)` is stored as a text
cell: a spreadsheet neither drops the zeros nor runs it as a formula. The workbook's created date
is fixed and XlsxWriter stamps its zip entries with a fixed time, so the same list gives the same
bytes.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime

ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FIXED_CREATED = datetime(2000, 1, 1)  # a workbook's "created" date: fixed, so bytes repeat
MAX_WIDTH = 50


def is_date_column(name: str) -> bool:
    """Columns that hold dates by our naming rule (`*_on`, `*_date`, `as_of`)."""
    return name.endswith(("_on", "_date")) or name == "as_of"


def frame_xlsx_bytes(frame, *, sheet: str = "list") -> bytes:
    """A DataFrame as one sheet of an .xlsx workbook: a bold, frozen header row with a filter,
    sensible column widths, text as text cells, ISO dates in date columns as date cells
    (YYYY-MM-DD), integer columns as numbers; a blank cell stays empty."""
    import pandas as pd
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False, "strings_to_numbers": False})
    book.set_properties({"created": FIXED_CREATED})
    bold = book.add_format({"bold": True})
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    ws = book.add_worksheet(sheet[:31])
    widths = []
    for c, name in enumerate(frame.columns):
        ws.write_string(0, c, str(name), bold)
        values = frame[name]
        numeric = pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_float_dtype(values.dtype)
        dates = is_date_column(str(name)) and not numeric
        width = len(str(name))
        for r, value in enumerate(values.tolist(), start=1):
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                continue
            if numeric:
                ws.write_number(r, c, float(value) if not float(value).is_integer() else int(value))
                width = max(width, len(str(value)))
            elif dates and isinstance(value, (date, pd.Timestamp)):
                ws.write_datetime(r, c, pd.Timestamp(value).to_pydatetime().replace(tzinfo=None), date_format)
                width = max(width, 10)
            elif dates and ISO_DATE_RE.match(str(value)):
                ws.write_datetime(r, c, datetime.fromisoformat(str(value)), date_format)
                width = max(width, 10)
            elif str(value) != "":
                ws.write_string(r, c, str(value))
                width = max(width, len(str(value)))
        widths.append(min(width + 2, MAX_WIDTH))
    for c, width in enumerate(widths):
        ws.set_column(c, c, width)
    ws.freeze_panes(1, 0)
    if len(frame.columns):
        ws.autofilter(0, 0, max(len(frame), 1), len(frame.columns) - 1)
    book.close()
    return out.getvalue()
