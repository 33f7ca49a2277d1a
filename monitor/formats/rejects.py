"""Rejects files: the rows an import kept aside, with their line and reason, ready to fix and re-import."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pandas as pd

from monitor.errors import MonitorError
from monitor.formats.csv_cells import ParsedFile
from monitor.formats.files import frame_csv_bytes, write_hidden


def rejected_rows(parsed: ParsedFile) -> pd.DataFrame:
    """The file's rejected rows as the rejects file holds them: `line`, `reason`, then the cells."""
    reasons: dict[int, list[str]] = {}
    for pr in parsed.problems:
        reasons.setdefault(pr.line, []).append(f"{pr.column}: {pr.message}" if pr.column else pr.message)
    lines = parsed.frame["line"].to_numpy()
    keep = np.isin(lines, list(reasons))
    raw = parsed.raw.reset_index(drop=True).loc[keep]
    out = pd.DataFrame({"line": lines[keep], "reason": ["; ".join(reasons[int(l)]) for l in lines[keep]]})
    return pd.concat([out, raw.reset_index(drop=True)], axis=1)


def write_rejected(rows: pd.DataFrame, stem: str, folder: Path) -> Path:
    """Rejected rows (from one or more parts of a file, see `rejected_rows`) in line order, in a
    new rejects file (see `write_rejects`)."""
    rows = rows.sort_values("line", kind="stable").reset_index(drop=True)
    return write_new_file(folder, stem, frame_csv_bytes(rows))


def write_rejects(parsed: ParsedFile, folder: Path) -> Path:
    """The rejected rows with their line and reason, in a new file named after the input
    (`scans.rejects.csv`, else `scans.rejects-2.csv`, ...): an existing file is never replaced."""
    return write_rejected(rejected_rows(parsed), parsed.rejects_stem, folder)  # a rejects file's own: -2


def write_new_file(folder: Path, stem: str, data: bytes) -> Path:
    """Write owner-only bytes under the first free name `STEM.rejects[-N].csv`, whole or not at all:
    a temporary file is linked to the name, which fails rather than replace an existing file."""
    if not folder.is_dir():
        raise MonitorError(f"folder does not exist: {folder}")
    tmp = write_hidden(folder, f".{stem}.rejects.", data)
    try:
        for n in itertools.count(1):
            target = folder / (f"{stem}.rejects.csv" if n == 1 else f"{stem}.rejects-{n}.csv")
            try:
                os.link(tmp, target)
                return target
            except FileExistsError:
                continue
    finally:
        os.unlink(tmp)
    raise AssertionError("unreachable")
