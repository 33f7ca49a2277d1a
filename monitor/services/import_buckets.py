"""Splitting a large import by patient, so it is checked and written a part at a time.

Every record of one MRN, in every file, lands in the same bucket (a stable hash of the MRN
cell), so repeats within and across files, unknown MRNs and birth dates are all decided inside
one bucket by the same code as a whole import. One streaming pass over each CSV file writes its
lines into one spool file per bucket, with their original line numbers; a bucket is then read
back as the cells of each file, exactly as `read_cells` would have given them for those lines.

Plain blocks of lines are split as text; from the first block with quoted cells (which may hold
separators, doubled quotes and line ends), blank lines or lone carriage returns, the csv module
reads the rest record by record, exactly as the whole-file reader does, and writes each record to
its bucket as CSV. Only a file the split cannot read (bad UTF-8, a wrong number of values, dates
written with slashes, a quoted or repeated header name) is read whole as before, so its errors
read exactly as before, and then split into the buckets. An import with a workbook or FHIR files,
or small enough for one bucket, is one bucket read as before.
"""

from __future__ import annotations

import io
import itertools
import math
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from monitor.formats.csv_cells import REJECTS_RE, ParsedFile, _from_rejects_file, header_name, parse_cells
from monitor.formats.csv_read import BadImportFile, read_cells

BUCKET_BYTES = 16 * 2**20  # of CSV text per bucket: ~250k rows, a few hundred MB while checked
BLOCK_BYTES = 8 * 2**20  # read at a time while splitting
BUCKET_BYTES_ENV = "MONITOR_IMPORT_BUCKET_BYTES"  # tests force many buckets on small files
SLASHED_DATE = re.compile(r"\d/\d{1,2}/\d{4}")


def bucket_bytes(given: int | None = None) -> int:
    if given is not None:
        return max(1, int(given))
    return max(1, int(os.environ.get(BUCKET_BYTES_ENV) or BUCKET_BYTES))


def bucket_count(paths: list[Path], per_bucket: int) -> int:
    """How many buckets: about `per_bucket` bytes of CSV text each, and an even count when more
    than one, so the two workers of a two-core machine check as many each (9 buckets left the
    ninth checked alone while the other worker waited: ~1.8 s at 100k patients; 10 smaller ones
    take as many rounds). Even whatever the worker count, so one process and two still give the
    patients the same ids."""
    total = sum(p.stat().st_size for p in paths if p.is_file())
    k = max(1, math.ceil(total / per_bucket))
    return k if k == 1 else k + k % 2


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
    is_whole: bool = False  # read whole (the split could not read it): each bucket's cells are pickled
    strip: bool = False  # every cell loses its surrounding blanks, as the whole-file reader would strip them

    def _spool(self, folder: Path, bucket: int, ext: str) -> Path:
        return folder / f"{self.index}-{bucket}.{ext}"

    def cells(self, folder: Path, bucket: int) -> tuple[list[str], np.ndarray, pd.DataFrame]:
        """The header, line numbers and cells of this file's records in the bucket."""
        if self.is_whole:
            with open(self._spool(folder, bucket, "pkl"), "rb") as f:
                return pickle.load(f)
        text_path = self._spool(folder, bucket, "csv")
        body = ""
        if text_path.exists():
            with open(text_path, encoding="utf-8", newline="") as f:  # (a quoted cell keeps its CR LF)
                body = f.read()
        lines_path = self._spool(folder, bucket, "lines")
        lines = np.fromfile(lines_path, dtype=np.int64) if lines_path.exists() else np.zeros(0, dtype=np.int64)
        text = self.header_line + "\n" + body
        frame = pd.read_csv(io.StringIO(text), sep=self.sep, dtype="str", keep_default_na=False, na_filter=False,
                            skip_blank_lines=True, engine="c", index_col=False)
        header = [str(h).strip().lower() for h in frame.columns]
        frame.columns = header
        return header, lines, (frame.apply(lambda s: s.str.strip()) if self.strip and len(frame) else frame)


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
            if '"' in header_line or "\r" in header_line:
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
            source.strip = first.startswith(b" ") or _has_blank_marks(first[:end + 1])
            texts = _texts(source, _blocks(f, first[end + 1:]), slashes_matter=date_format is None)
            line_no = 2
            for text in texts:
                whole = text if text.endswith("\n") else text + "\n"
                if _is_plain(whole, sep, len(header)):
                    line_no = _distribute(whole, line_no, source, folder, k, outs, at)
                    continue
                # quoted cells, blank lines, lone carriage returns: the csv module, record by record
                _distribute_records(itertools.chain([text], texts), line_no, source, folder, k, outs,
                                    len(header), at)
                break
    finally:
        for text_file, lines_file in outs.values():
            text_file.close()
            lines_file.close()


def _blocks(f, rest: bytes):
    """The rest of the file in blocks of whole lines (each ends with a line end, but the file's last)."""
    while True:
        block = f.read(BLOCK_BYTES)
        data = rest + block
        if not block:
            if data:
                yield data
            return
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            rest = data
            continue
        yield data[:cut]
        rest = data[cut:]


BLANK_MARKS = (b" ,", b", ", b" \n", b"\t", b" \r", b"\n ")  # as csv_read._strip looks for them


def _has_blank_marks(data: bytes) -> bool:
    return any(mark in data for mark in BLANK_MARKS)


def _texts(source: CsvSource, blocks, *, slashes_matter: bool):
    """Each block as text, noting what makes the whole-file reader strip every cell (a blank beside
    a separator or a line end, a lone carriage return)."""
    quotes = 0
    for block in blocks:
        text = _decode(block)
        if slashes_matter and "/" in text and SLASHED_DATE.search(text):
            raise _NotPlain  # the one hint is taken from the whole file
        if not source.strip and (block.startswith(b" ") or _has_blank_marks(block)):
            source.strip = True
        if text.count("\r") != text.count("\r\n"):
            source.strip = True  # lines and records part: the whole-file reader reads record by record
        quotes += text.count('"')
        yield text
    if quotes % 2:
        source.strip = True  # a quote never closed: so does the whole-file reader


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _NotPlain from None


def _is_plain(text: str, sep: str, width: int) -> bool:
    """Every line one record of `width` values: no quotes, no blank line, no lone carriage return."""
    if '"' in text or text.count("\r") != text.count("\r\n"):
        return False
    if text.count(sep) != text.count("\n") * (width - 1):
        return False
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)  # (ASCII separators: byte counts)
    seps = np.searchsorted(np.flatnonzero(data == ord(sep)), np.flatnonzero(data == ord("\n")))
    return bool((np.diff(seps, prepend=0) == width - 1).all())  # values per line


def _distribute(text: str, line_no: int, source: CsvSource, folder: Path, k: int, outs: dict, at: int) -> int:
    """Append a block of whole plain lines to the bucket spools; returns the next line's number."""
    rows = text.split("\n")[:-1]  # the block ends with a line end
    mrns = [r.split(source.sep, at + 1)[at] for r in rows]
    lines = np.arange(line_no, line_no + len(rows), dtype=np.int64)
    for bucket, part, part_lines in _by_bucket(rows, mrns, lines, k):
        text_file, lines_file = _outs(source, folder, bucket, outs)
        text_file.write("\n".join(part) + "\n")
        lines_file.write(part_lines.tobytes())
    return line_no + len(rows)


def _distribute_records(texts, line_no: int, source: CsvSource, folder: Path, k: int, outs: dict, width: int,
                        at: int) -> None:
    """The rest of the file read by the csv module (as the whole-file reader reads it): each record
    named by the line it starts on, blank lines skipped, written to its bucket as CSV."""
    import csv

    def lines():
        for text in texts:
            yield from io.StringIO(text, newline="")  # lines split as the whole-file reader splits them

    reader = csv.reader(lines(), delimiter=source.sep)
    rows: list[list[str]] = []
    starts: list[int] = []
    start = line_no
    try:
        for row in reader:
            line, start = start, line_no + reader.line_num
            if start - line != 1:
                source.strip = True  # a cell spans lines: the whole-file reader reads record by record
            if not row or (len(row) == 1 and not row[0].strip()):
                if row:
                    source.strip = True
                continue
            if len(row) != width:
                raise _NotPlain  # the whole-file reader names the line
            rows.append(row)
            starts.append(line)
            if len(rows) >= RECORDS_AT_ONCE:
                _write_records(rows, starts, source, folder, k, outs, at)
                rows, starts = [], []
    except csv.Error:
        raise _NotPlain from None
    _write_records(rows, starts, source, folder, k, outs, at)


RECORDS_AT_ONCE = 50_000


def _write_records(rows: list[list[str]], starts: list[int], source: CsvSource, folder: Path, k: int, outs: dict,
                   at: int) -> None:
    import csv

    if not rows:
        return
    lines = np.array(starts, dtype=np.int64)
    for bucket, part, part_lines in _by_bucket(rows, [r[at] for r in rows], lines, k):
        text_file, lines_file = _outs(source, folder, bucket, outs)
        csv.writer(text_file, delimiter=source.sep, lineterminator="\n").writerows(part)
        lines_file.write(part_lines.tobytes())


def _by_bucket(rows: list, mrns: list[str], lines: np.ndarray, k: int):
    """(bucket, its rows, their line numbers) for each bucket that has rows, rows in file order."""
    buckets = bucket_of(mrns, k)
    order = np.argsort(buckets, kind="stable")
    bounds = np.searchsorted(buckets[order], np.arange(k + 1))
    rows_arr = np.empty(len(rows), dtype=object)
    rows_arr[:] = rows
    rows_arr, lines = rows_arr[order], lines[order]
    for bucket in range(k):
        lo, hi = int(bounds[bucket]), int(bounds[bucket + 1])
        if lo < hi:
            yield bucket, rows_arr[lo:hi].tolist(), lines[lo:hi]


def _outs(source: CsvSource, folder: Path, bucket: int, outs: dict) -> tuple:
    if bucket not in outs:
        outs[bucket] = (open(source._spool(folder, bucket, "csv"), "w", encoding="utf-8", newline=""),
                        open(source._spool(folder, bucket, "lines"), "wb"))
    return outs[bucket]


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
