"""Reading a clinic's CSV file into cells, with the line number of every record.

Staff fix errors in an editor by line number, so every record is named by the line it starts
on, even across blank lines, Windows line ends and quoted cells that span lines.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from monitor.errors import MonitorError


class BadImportFile(MonitorError):
    """A file that cannot be read as an import file (encoding, shape, header): a rejected import."""

    exit_code = 2


def read_table_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MonitorError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise MonitorError(f"{path}: is a folder, expected a CSV file") from None
    except OSError as exc:  # no permission, a broken disk, ...
        raise MonitorError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BadImportFile(f"{path.name}, line {line}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                            "save it as CSV UTF-8") from None


def separator(text: str) -> str:
    """',' — or ';' when the header line has semicolons and no comma (a European spreadsheet's CSV)."""
    header = text.split("\n", 1)[0]
    return ";" if ";" in header and "," not in header else ","


def read_cells(path: Path) -> tuple[list[str], np.ndarray, pd.DataFrame]:
    """Header (lower case), line numbers and cells (text, stripped) of a CSV file; blank lines are skipped.

    The csv module counts each record's values; pandas' C parser reads the cells. When a quoted
    cell spans lines (so records and lines part) or a line holds only blanks, the csv module reads
    the file record by record instead, to name every line exactly.
    """
    text = read_table_text(path)
    if not text.strip():
        raise BadImportFile(f"{path.name}, line 1: the file is empty; expected a header row")
    try:
        header_cells = next(csv.reader([text.split("\n", 1)[0].rstrip("\r")], delimiter=separator(text)), [])
    except csv.Error:  # a stray carriage return or the like: the readers below name the line
        header_cells = []
    blank = [i + 1 for i, cell in enumerate(header_cells) if not cell.strip()]
    if blank and len(header_cells) > 1:
        raise BadImportFile(f"{path.name}, line 1: column {blank[0]} has no name in the header (an empty column "
                            "left by a spreadsheet?): delete that column or give it a name")
    try:
        sep = separator(text)
        lengths = np.fromiter((len(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=sep)),
                              dtype=np.int64)
    except csv.Error:
        return _read_cells_slowly(path, text)
    physical = text.count("\n") + (0 if text.endswith("\n") else 1)
    width = int(lengths[0])
    if len(lengths) != physical or (width > 1 and (lengths == 1).any()):
        return _read_cells_slowly(path, text)
    wrong = np.flatnonzero((lengths != 0) & (lengths != width))
    if len(wrong):
        i = int(wrong[0])
        raise BadImportFile(f"{path.name}, line {i + 1}: expected {width} values as in the header, "
                           f"found {int(lengths[i])}")
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype="str", keep_default_na=False, na_filter=False,
                            skip_blank_lines=True, engine="c", index_col=False)
    except pd.errors.ParserError:  # a quote never closed: the csv module reads it (as the split does)
        return _read_cells_slowly(path, text)
    lines = (np.flatnonzero(lengths != 0)[1:] + 1).astype("int64")
    if len(frame) != len(lines):
        return _read_cells_slowly(path, text)
    header = [str(h).strip().lower() for h in frame.columns]  # header names ignore case and blanks
    frame.columns = header
    return header, lines, _strip(frame, text)


def _strip(frame: pd.DataFrame, text: str) -> pd.DataFrame:
    """Cells without surrounding blanks; skipped when the text has no blank beside a separator."""
    if not (" ," in text or ", " in text or " \n" in text or "\t" in text or " \r" in text
            or text.startswith(" ") or "\n " in text):
        return frame
    return frame.apply(lambda s: s.str.strip()) if len(frame) else frame


def _read_cells_slowly(path: Path, text: str) -> tuple[list[str], np.ndarray, pd.DataFrame]:
    """The csv module, line by line: exact line numbers for cells that span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator(text))
    lines: list[int] = []
    rows: list[list[str]] = []
    try:
        header = next(reader)
        width = len(header)
        start = reader.line_num + 1
        for row in reader:
            line, start = start, reader.line_num + 1  # a record is named by the line it starts on
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != width:
                raise BadImportFile(f"{path.name}, line {line}: expected {width} values as in the "
                                   f"header, found {len(row)}")
            lines.append(line)
            rows.append(row)
    except csv.Error as exc:
        raise BadImportFile(f"{path.name}, line {reader.line_num}: not valid CSV: {exc}") from None
    header = [h.strip().lower() for h in header]
    frame = pd.DataFrame(rows, columns=header, dtype="str") if rows else pd.DataFrame(columns=header, dtype="str")
    return header, np.array(lines, dtype="int64"), (frame.apply(lambda s: s.str.strip()) if len(frame) else frame)
