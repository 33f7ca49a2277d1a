"""Splitting a large import by patient, so it is checked and written a part at a time.

Every record of one MRN, in every file, lands in the same bucket (a stable hash of the MRN
cell), so repeats within and across files, unknown MRNs and birth dates are all decided inside
one bucket by the same code as a whole import. One streaming pass over each CSV file writes its
lines into one spool file per bucket, with their original line numbers; a bucket is then read
back as the cells of each file, exactly as `read_cells` would have given them for those lines.

A file that is not plain (quoted cells, blank lines, a wrong number of values, bad UTF-8, dates
written with slashes, a repeated header name) is read whole as before, so its errors read
exactly as before, and then split into the buckets. An import with a workbook or FHIR files,
or small enough for one bucket, is one bucket read as before.
"""

from __future__ import annotations

import math
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from monitor.formats.csv_cells import REJECTS_RE, ParsedFile, _from_rejects_file, header_name, parse_cells
from monitor.formats.csv_read import BadImportFile, _strip, read_cells

BUCKET_BYTES = 16 * 2**20  # of CSV text per bucket: ~250k rows, a few hundred MB while checked
BLOCK_BYTES = 8 * 2**20  # read at a time while splitting
BUCKET_BYTES_ENV = "MONITOR_IMPORT_BUCKET_BYTES"  # tests force many buckets on small files
SLASHED_DATE = re.compile(r"\d/\d{1,2}/\d{4}")


def bucket_bytes(given: int | None = None) -> int:
    if given is not None:
        return max(1, int(given))
    return max(1, int(os.environ.get(BUCKET_BYTES_ENV) or BUCKET_BYTES))


def bucket_count(paths: list[Path], per_bucket: int) -> int:
    total = sum(p.stat().st_size for p in paths if p.is_file())
    return max(1, math.ceil(total / per_bucket))


def bucket_of(mrns, k: int) -> np.ndarray:
    """The bucket of each MRN cell (surrounding blanks ignored): stable across runs and files."""
    values = np.array([m.strip() if isinstance(m, str) else "" for m in mrns], dtype=object)
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    return (pd.util.hash_array(values) % np.uint64(k)).astype(np.int64)


class _NotPlain(Exception):
    """The file needs the whole-file reader (it names its errors exactly)."""


@dataclass
class CsvSource:
    """One CSV file split into the buckets of a spool folder."""

    path: Path
    kind: str
    index: int
    header_line: str = ""
    sep: str = ","
    is_whole: bool = False  # read whole (not plain): each bucket's cells are pickled

    def _spool(self, folder: Path, bucket: int, ext: str) -> Path:
        return folder / f"{self.index}-{bucket}.{ext}"

    def cells(self, folder: Path, bucket: int) -> tuple[list[str], np.ndarray, pd.DataFrame]:
        """The header, line numbers and cells of this file's records in the bucket."""
        if self.is_whole:
            with open(self._spool(folder, bucket, "pkl"), "rb") as f:
                return pickle.load(f)
        text_path = self._spool(folder, bucket, "csv")
        body = text_path.read_text(encoding="utf-8") if text_path.exists() else ""
        lines_path = self._spool(folder, bucket, "lines")
        lines = np.fromfile(lines_path, dtype=np.int64) if lines_path.exists() else np.zeros(0, dtype=np.int64)
        text = self.header_line + "\n" + body
        import io

        frame = pd.read_csv(io.StringIO(text), sep=self.sep, dtype="str", keep_default_na=False, na_filter=False,
                            skip_blank_lines=True, engine="c", index_col=False)
        header = [str(h).strip().lower() for h in frame.columns]
        frame.columns = header
        return header, lines, _strip(frame, text)


def split_csv(source: CsvSource, folder: Path, k: int, *, today, risk_codes, date_format) -> None:
    """Write the file's records into the bucket spools; a file that is not plain is read whole."""
    try:
        _split_plain(source, folder, k, date_format=date_format, today=today, risk_codes=risk_codes)
    except (_NotPlain, OSError):  # (a file that cannot be opened: the whole-file reader says why)
        for bucket in range(k):
            for ext in ("csv", "lines"):
                source._spool(folder, bucket, ext).unlink(missing_ok=True)
        header, lines, raw = read_cells(source.path)  # raises the file's error, named as before
        _check_header(source, header, today=today, risk_codes=risk_codes, date_format=date_format)
        if date_format is None:
            _check_slashed_dates(source, header, lines, raw)
        at = _mrn_column(header)
        buckets = bucket_of(raw.iloc[:, at].tolist() if at is not None else [""] * len(raw), k)
        for bucket in range(k):
            keep = buckets == bucket
            part = (header, lines[keep], raw.loc[keep].reset_index(drop=True))
            with open(source._spool(folder, bucket, "pkl"), "wb") as f:
                pickle.dump(part, f, protocol=pickle.HIGHEST_PROTOCOL)
        source.is_whole = True


def _mrn_column(header: list[str]) -> int | None:
    names = [header_name(h) for h in header]
    return names.index("mrn") if "mrn" in names else None


def _check_header(source: CsvSource, header: list[str], *, today, risk_codes, date_format) -> None:
    """Header errors (unknown, missing or repeated columns) raised now, in the order of the files."""
    raw = pd.DataFrame({i: pd.Series(dtype="str") for i in range(len(header))})
    raw.columns = header
    head = header
    if REJECTS_RE.search(source.path.stem):
        head, raw = _from_rejects_file(header, raw)
    parse_cells(source.path, source.kind, head, np.zeros(0, dtype=np.int64), raw, today=today,
                risk_codes=risk_codes, date_format=date_format)


def _check_slashed_dates(source: CsvSource, header: list[str], lines: np.ndarray, raw: pd.DataFrame) -> None:
    """The one hint for a file whose dates are written with slashes, from the whole file (the
    first such date of the file, not of a bucket)."""
    from monitor.formats.date_cells import slashed_dates_hint
    from monitor.formats.import_spec import SPECS

    if REJECTS_RE.search(source.path.stem):
        header, raw = _from_rejects_file(header, raw)
    raw = raw.set_axis([header_name(h) for h in header], axis=1)
    columns = {c.name: raw[c.name] for c in SPECS[source.kind].columns if c.kind == "date" and c.name in raw}
    hint = slashed_dates_hint(source.path.name, "line", columns, lines)
    if hint:
        raise BadImportFile(hint)


def _split_plain(source: CsvSource, folder: Path, k: int, *, date_format, today, risk_codes) -> None:
    import csv

    from monitor.formats.csv_read import separator

    outs: dict[int, tuple] = {}
    try:
        with open(source.path, "rb") as f:
            first = f.read(BLOCK_BYTES)
            if first.startswith(b"\xef\xbb\xbf"):
                first = first[3:]
            end = first.find(b"\n")
            if end < 0:
                raise _NotPlain
            header_line = _decode(first[:end]).rstrip("\r")
            sep = separator(header_line)
            if '"' in header_line:
                raise _NotPlain
            header = [h.strip().lower() for h in next(csv.reader([header_line], delimiter=sep))]
            names = [header_name(h) for h in header]
            if len(set(names)) != len(names) or any(not h for h in header) or len(header) < 2:
                raise _NotPlain
            try:
                _check_header(source, header, today=today, risk_codes=risk_codes, date_format=date_format)
            except BadImportFile:
                raise _NotPlain from None  # the whole-file reader names the first error as before
            at = _mrn_column(header)
            if at is None:
                raise _NotPlain
            source.header_line, source.sep = header_line, sep
            rest, line_no = first[end + 1:], 2
            while True:
                block = f.read(BLOCK_BYTES)
                data = rest + block
                if not block:
                    if data and not data.endswith(b"\n"):
                        data += b"\n"
                    cut = len(data)
                else:
                    cut = data.rfind(b"\n") + 1
                    if cut == 0:
                        rest = data
                        continue
                chunk, rest = data[:cut], data[cut:]
                if chunk:
                    line_no = _distribute(_decode(chunk), line_no, source, folder, k, outs, len(header), at,
                                          slashes_matter=date_format is None)
                if not block:
                    break
    finally:
        for text_file, lines_file in outs.values():
            text_file.close()
            lines_file.close()


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _NotPlain from None


def _distribute(text: str, line_no: int, source: CsvSource, folder: Path, k: int, outs: dict, width: int,
                at: int, *, slashes_matter: bool) -> int:
    """Append a block of whole lines to the bucket spools; returns the next line's number."""
    if '"' in text or text.count("\r") != text.count("\r\n") or (slashes_matter and SLASHED_DATE.search(text)):
        raise _NotPlain
    rows = text.split("\n")[:-1]  # the block ends with a line end
    sep = source.sep
    counts = np.fromiter((r.count(sep) for r in rows), dtype=np.int64, count=len(rows))
    if (counts != width - 1).any():
        raise _NotPlain  # a blank line, or a wrong number of values: the whole-file reader names it
    mrns = [r.split(sep, at + 1)[at] for r in rows]
    buckets = bucket_of(mrns, k)
    lines = np.arange(line_no, line_no + len(rows), dtype=np.int64)
    order = np.argsort(buckets, kind="stable")
    bounds = np.searchsorted(buckets[order], np.arange(k + 1))
    rows_arr = np.array(rows, dtype=object)[order]
    lines = lines[order]
    for bucket in range(k):
        lo, hi = int(bounds[bucket]), int(bounds[bucket + 1])
        if lo == hi:
            continue
        if bucket not in outs:
            outs[bucket] = (open(source._spool(folder, bucket, "csv"), "w", encoding="utf-8", newline=""),
                            open(source._spool(folder, bucket, "lines"), "wb"))
        text_file, lines_file = outs[bucket]
        text_file.write("\n".join(rows_arr[lo:hi]) + "\n")
        lines_file.write(lines[lo:hi].tobytes())
    return line_no + len(rows)


def parse_bucket(sources: list[CsvSource], folder: Path, bucket: int, *, today, risk_codes,
                 date_format) -> list[ParsedFile]:
    """Every file's records of one bucket, checked on their own (as `parse_file` checks a file)."""
    parsed = []
    for source in sources:
        header, lines, raw = source.cells(folder, bucket)
        if REJECTS_RE.search(source.path.stem):
            header, raw = _from_rejects_file(header, raw)
        parsed.append(parse_cells(source.path, source.kind, header, lines, raw, today=today,
                                  risk_codes=risk_codes, date_format=date_format))
    return parsed
