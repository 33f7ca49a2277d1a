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


# Files no export may overwrite: the open SQLite database and its companions (store registers them).
_PROTECTED: set[Path] = set()


def protect(path: Path) -> None:
    """Refuse, from now on in this process, to write a file that resolves to `path`."""
    _PROTECTED.add(Path(path).resolve())


def check_target(target: Path) -> Path:
    """The target, refused when it is (through any symlink) the database or one of its files,
    or an existing folder."""
    target = Path(target)
    resolved = target.resolve()
    if resolved in _PROTECTED:
        raise MonitorError(f"{target} is the database (or one of its files): choose another file name")
    if target.is_dir():
        raise MonitorError(f"{target} is a folder: give a file name")
    if not target.parent.is_dir():
        raise MonitorError(f"folder does not exist: {target.parent}")
    return target


def private_folder(path: Path) -> Path:
    """A folder for patient files: created owner-only (0700) when missing; an existing folder's
    mode is never changed (it may be shared on purpose)."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise MonitorError(f"{path} exists and is not a folder")
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for p in reversed(missing):
        p.mkdir(mode=0o700)
        os.chmod(p, 0o700)  # mkdir's mode is filtered by the umask
    return path


def write_hidden(folder: Path, prefix: str, data) -> Path:
    """The data (bytes, or an iterable of bytes written as it comes) in a new owner-only hidden
    file `PREFIX….part` in the folder, flushed to disk; removed again if writing fails."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".part")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            for piece in (data,) if isinstance(data, (bytes, bytearray)) else data:
                fh.write(piece)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


class StagedFile:
    """A file written whole beside its target under a temporary name; `publish` renames it into place.

    Publishing after the audit record is committed means a file on disk always has its record,
    and a killed process leaves at most a hidden `.part` file, never a half or unrecorded one."""

    def __init__(self, target: Path, data):
        self.target = check_target(target)
        self.tmp = write_hidden(self.target.parent, f".{self.target.name}.", data)

    def publish(self) -> Path:
        os.replace(self.tmp, self.target)
        return self.target

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


def write_private_bytes(target: Path, data: bytes, *, record=None) -> Path:
    """Write a file readable by its owner only (0600), atomically: a reader sees all or nothing.

    `record`, when given, is called after the data is safely on disk and before it is renamed into
    place (the audit record); if it fails, nothing is published."""
    staged = StagedFile(target, data)
    try:
        if record is not None:
            record()
    except BaseException:
        staged.discard()
        raise
    return staged.publish()


def frame_csv_bytes(frame, *, bom: bool = True) -> bytes:
    """A DataFrame as CSV text (UTF-8, CRLF as spreadsheets expect, minimal quoting), every cell
    as text with formula cells neutralised (plain numbers such as -2.0 are left as they are);
    pandas writes it in C, without a loop over rows.

    A file starts with a UTF-8 byte order mark (`bom`), so Excel reads "Zoë Müller" as written
    instead of guessing a legacy code page; text printed to a terminal goes without one."""
    import numpy as np
    import pandas as pd

    cells = {}
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.StringDtype):  # already text: only its blanks to fill
            text = values.fillna("")
        else:
            text = values.astype("object").where(values.notna(), "").astype("str")
        # The few cells that start like a formula are matched against a plain number; only the
        # risky ones get the quote (a regex over every cell cost more than the CSV writer).
        starts = text.str.startswith(FORMULA_START).to_numpy(dtype=bool, na_value=False)
        if starts.any():
            where = np.flatnonzero(starts)
            plain = text.iloc[where].str.fullmatch(PLAIN_NUMBER).to_numpy(dtype=bool, na_value=False)
            if not plain.all():
                risky = np.zeros(len(text), dtype=bool)
                risky[where[~plain]] = True
                text = text.where(~risky, "'" + text)
        cells[neutralise(column)] = text
    out = pd.DataFrame(cells, index=frame.index)
    if not len(out.columns):
        return b""
    return out.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig" if bom else "utf-8")


def write_private_frame(target: Path, frame, *, record=None) -> int:
    """Write a DataFrame as a CSV file, owner-only and atomically; returns the number of data rows."""
    write_private_bytes(Path(target), frame_csv_bytes(frame), record=record)
    return len(frame)
