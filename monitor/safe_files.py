"""Files that hold patient data: owner-only, written whole or not at all, safe in a spreadsheet."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from monitor.errors import MonitorError

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A plain number (-2.0, +1.5, 1e-3) is a value, not a formula: a spreadsheet shows it as that number.
PLAIN_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9_-]+")


def neutralise(cell) -> str:
    """A cell a spreadsheet will show as text, never run as a formula (OWASP CSV injection)."""
    text = "" if cell is None else str(cell)
    if text.startswith(FORMULA_START) and not re.fullmatch(PLAIN_NUMBER, text):
        return "'" + text
    return text


def safe_name(part: str, *, max_len: int = 64) -> str:
    """A file-name part made only of letters, digits, dash and underscore (no dots, no slashes)."""
    cleaned = SAFE_NAME_RE.sub("_", part).strip("_-")[:max_len]
    return cleaned or "x"


def write_private_bytes(target: Path, data: bytes) -> None:
    """Write a file readable by its owner only (0600), atomically: a reader sees all or nothing."""
    target = Path(target)
    if not target.parent.is_dir():
        raise MonitorError(f"folder does not exist: {target.parent}")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        os.chmod(target, 0o600)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def frame_csv_bytes(frame) -> bytes:
    """A DataFrame as CSV text (UTF-8, CRLF as spreadsheets expect, minimal quoting), every cell
    as text with formula cells neutralised (plain numbers such as -2.0 are left as they are);
    pandas writes it in C, without a loop over rows."""
    import pandas as pd

    cells = {}
    for column in frame.columns:
        text = frame[column].astype("object").where(frame[column].notna(), "").astype("str")
        risky = text.str.startswith(FORMULA_START) & ~text.str.fullmatch(PLAIN_NUMBER)
        cells[neutralise(column)] = text.where(~risky, "'" + text)
    out = pd.DataFrame(cells, index=frame.index)
    if not len(out.columns):
        return b""
    return out.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def write_private_frame(target: Path, frame) -> int:
    """Write a DataFrame as a CSV file, owner-only and atomically; returns the number of data rows."""
    write_private_bytes(Path(target), frame_csv_bytes(frame))
    return len(frame)
