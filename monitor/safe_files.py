"""Files that hold patient data: owner-only, written whole or not at all, safe in a spreadsheet."""

from __future__ import annotations

import csv
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from monitor.errors import MonitorError

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9_-]+")


def neutralise(cell) -> str:
    """A cell a spreadsheet will show as text, never run as a formula (OWASP CSV injection)."""
    text = "" if cell is None else str(cell)
    if text.startswith(FORMULA_START):
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


def csv_bytes(header: list[str], rows: Iterable[Iterable]) -> tuple[bytes, int]:
    """CSV text (UTF-8, CRLF as spreadsheets expect) with formula cells neutralised, and its row count."""
    import io

    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    count = 0
    for row in rows:
        writer.writerow([neutralise(c) for c in row])
        count += 1
    return buf.getvalue().encode("utf-8"), count


def write_private_csv(target: Path, header: list[str], rows: Iterable[Iterable]) -> int:
    """Write a CSV file owner-only and atomically; returns the number of data rows."""
    data, count = csv_bytes(header, rows)
    write_private_bytes(Path(target), data)
    return count
