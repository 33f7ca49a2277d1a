"""The due list and the flags, evaluated chunk by chunk and written in the whole list's order.

Pass one evaluates each chunk of patients (services.chunks), cuts its sorted rows into text in
the chosen format (formats.row_text) and spools them with their sort keys (formats.spool),
keeping only counts and, for a table, column widths. Pass two (`pieces`) merges the chunks'
rows in the list's order: the text is byte for byte the list evaluated at once, and memory
holds one chunk, never the cohort.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import partial
from datetime import date

from sqlalchemy import Engine

from monitor.config import Config
from monitor.formats import row_text
from monitor.formats.spool import RunSpool
from monitor.services.chunks import consistent, due_chunks, flag_chunks

BATCH_ROWS = 2000


@dataclass
class SpooledList:
    """A list's rows spooled in order keys; `pieces()` gives its text, `count` its rows."""

    fmt: str
    columns: list[str]
    spool: RunSpool = field(default_factory=RunSpool)
    count: int = 0
    widths: list[int] = field(default_factory=list)
    header: bytes = b""
    extra: dict = field(default_factory=dict)

    def add(self, keys, payloads) -> None:
        payloads = list(payloads)
        self.count += len(payloads)
        self.spool.add_run(zip(keys, payloads))

    def add_piece(self, piece: "Piece") -> None:
        """A chunk's rows as cut into text (in a worker process, or here)."""
        self.add(piece.keys, piece.payloads)
        self.widths = [max(a, b) for a, b in zip(self.widths, piece.widths)] if self.widths else piece.widths
        self.header = self.header or piece.header
        for name, value in piece.extra.items():
            self.extra[name] = self.extra.get(name, 0) + value

    def rows(self):
        return (payload for _key, payload in self.spool.merged())

    def close(self) -> None:
        self.spool.close()


def due_keys(rows) -> list[tuple]:
    """rules.evaluation.due_rows' order: days overdue (most first), due date (a blank last), MRN."""
    due = rows["due_date"]
    return list(zip((-rows["days_overdue"]).tolist(), due.isna().tolist(), due.fillna("").tolist(),
                    rows["mrn"].tolist()))


@dataclass
class Piece:
    """One chunk's rows cut into text: their order keys, texts, the table's column widths, the CSV
    header, and counts (`extra`)."""

    keys: list
    payloads: list
    widths: list[int] = field(default_factory=list)
    header: bytes = b""
    extra: dict = field(default_factory=dict)


# What a list changes in a chunk's rows before they become text, by name (a worker is told the name).
PREPARE = {
    "blank_names": lambda rows: rows.assign(name=rows["name"].fillna("")),
    "state_in_words": lambda rows: rows.assign(reminder_state=rows["reminder_detail"]),
}


def spool_due(engine: Engine, *, as_of: date, config: Config, statuses: tuple[str, ...], fmt: str,
              columns: list[str], progress=None, prepare: str | None = None) -> SpooledList:
    """The due list (services.exports.due_list) in `fmt` (table, csv, json; `csv_file` keeps the
    CRLF and starts with a byte order mark), PREPARE[`prepare`] applied to each chunk's rows first."""
    def run(read_in_workers: bool) -> SpooledList:
        out = SpooledList(fmt, columns, widths=[len(c) for c in columns])
        try:
            finish = partial(due_piece, fmt=fmt, columns=columns, prepare=prepare)
            for piece in due_chunks(engine, as_of=as_of, config=config, statuses=statuses, progress=progress,
                                    finish=finish, read_in_workers=read_in_workers):
                out.add_piece(piece)
                del piece  # before the next chunk is evaluated
            if fmt in ("csv", "csv_file") and not out.header:
                import pandas as pd

                out.header = row_text.csv_header_and_rows(pd.DataFrame(columns=columns), bom=fmt == "csv_file")[0]
        except BaseException:
            out.close()
            raise
        return out
    return consistent(run, progress)


def due_piece(rows, *, fmt: str, columns: list[str], prepare: str | None) -> Piece:
    """A chunk's part of the due list as text (run where the chunk was evaluated)."""
    if prepare is not None:
        rows = PREPARE[prepare](rows)
    payloads, widths, header = _payloads(fmt, rows[columns], [len(c) for c in columns])
    return Piece(due_keys(rows), payloads, widths, header)


def _payloads(fmt: str, frame, widths: list[int]) -> tuple[list, list[int], bytes]:
    """The rows' texts in `fmt`, the table's column widths so far, the CSV header."""
    if fmt == "records":  # the values, to build a frame of the list's rows only
        return list(frame.itertuples(index=False, name=None)), widths, b""
    if fmt == "table":
        cells = row_text.table_cells(frame)
        for row in cells:
            widths = [max(w, len(c)) for w, c in zip(widths, row)]
        return cells, widths, b""
    if fmt == "json":
        return row_text.json_records(frame), widths, b""
    if not len(frame):
        return [], widths, b""
    header, lines = row_text.csv_header_and_rows(frame, bom=fmt == "csv_file")
    return lines, widths, header


def list_text(out: SpooledList):
    """The list's text (as cli.context.render writes it, with its final line break), in pieces."""
    if out.fmt == "table":
        yield row_text.table_head(out.columns, out.widths) + "\n"
        yield from _batched(row_text.table_line(cells, out.widths) + "\n" for cells in out.rows())
    elif out.fmt == "json":
        yield from _json_text(out.rows())
    else:
        yield out.header.decode("utf-8").replace("\r\n", "\n")
        yield from _batched(line.decode("utf-8").replace("\r\n", "\n") for line in out.rows())


def _json_text(records):
    first = True
    for batch in _batches(records):
        yield ("[\n" if first else ",\n") + ",\n".join(batch)
        first = False
    yield "[]\n" if first else "\n]\n"


def _batches(items):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def _batched(texts):
    for batch in _batches(texts):
        yield "".join(batch)


def list_frame(out: SpooledList):
    """A `records` list as one frame (the rows of the list only; for a workbook built whole)."""
    import pandas as pd

    frame = pd.DataFrame(list(out.rows()), columns=out.columns)
    for column in ("days_overdue", "interval_months"):
        if column in frame:
            frame[column] = frame[column].astype("int64")
    return frame


def file_bytes(out: SpooledList):
    """A `csv_file` list as the bytes of formats.files.write_private_frame's file, in pieces."""
    yield out.header
    for batch in _batches(out.rows()):
        yield b"".join(batch)


def spool_flags(engine: Engine, *, as_of: date, config: Config, min_severity: str, codes: tuple[str, ...],
                fmt: str, progress=None) -> SpooledList:
    """The flags of every active patient (rules.evaluation.flag_rows' order): JSON records, or the
    table's lines; `extra` counts the patients and the acknowledged flags."""
    def run(read_in_workers: bool) -> SpooledList:
        out = SpooledList(fmt, [], extra={"patients": 0, "acknowledged": 0})
        try:
            finish = partial(flag_piece, fmt=fmt, config=config)
            for piece in flag_chunks(engine, as_of=as_of, config=config, min_severity=min_severity, codes=codes,
                                     progress=progress, finish=finish, read_in_workers=read_in_workers):
                out.add_piece(piece)
                del piece  # before the next chunk is read
        except BaseException:
            out.close()
            raise
        return out
    return consistent(run, progress)


def flag_piece(rows, *, fmt: str, config: Config) -> Piece:
    """A chunk's flags as text, with the patients and acknowledged flags they count."""
    from monitor.rules.flag_frames import severity_rank

    keys = list(zip((-severity_rank(rows["severity"])).tolist(), rows["mrn"].tolist(), rows["code"].tolist()))
    acked = rows["acknowledged_by"] != ""
    payloads = flag_json(rows, acked) if fmt == "json" else flag_lines(rows, acked, config)
    return Piece(keys, payloads, extra={"patients": int(rows["mrn"].nunique()), "acknowledged": int(acked.sum())})


FLAG_JSON_FIELDS = ["mrn", "code", "severity", "title", "evidence", "action", "sources"]


def flag_json(rows, acked) -> list[str]:
    """Each flag as its record in the JSON list, as `json.dumps(records, ensure_ascii=False,
    indent=2)` writes it (sources as a list; acknowledged_by/at on an acknowledged flag), written
    with the encoder's own string escaping (no whole-list round trip): each distinct value of a
    column encoded once, the records filled in from one template."""
    from json.encoder import encode_basestring

    import numpy as np
    import pandas as pd

    from monitor.rules.evaluation import sources_list

    if not len(rows):
        return []

    def value(v) -> str:
        if v is None or v != v:  # missing (None, NaN): JSON null
            return "null"
        return encode_basestring(v) if isinstance(v, str) else json.dumps(v)

    def listed(items: list) -> str:
        if not items:
            return "[]"
        return "[\n" + ",\n".join("      " + value(x) for x in items) + "\n    ]"

    def encoded(column: str, encode) -> list[str]:
        codes, distinct = pd.factorize(rows[column], use_na_sentinel=True)  # a missing value: -1
        texts = np.array([encode(v) for v in distinct] + ["null"], dtype=object)
        return texts[codes].tolist()

    names = [encode_basestring(f) for f in FLAG_JSON_FIELDS]
    template = "  {{\n" + ",\n".join(f"    {n}: {{}}" for n in names) + "{}\n  }}"
    columns = [encoded(f, value) for f in FLAG_JSON_FIELDS[:-1]]
    columns.append(encoded("sources", lambda s: listed(sources_list(s))))
    extra = [""] * len(rows)
    for i in np.flatnonzero(acked.to_numpy(dtype=bool)).tolist():
        extra[i] = (f',\n    "acknowledged_by": {value(rows["acknowledged_by"].iat[i])}'
                    f',\n    "acknowledged_at": {value(rows["acknowledged_at"].iat[i].isoformat())}')
    return list(map(template.format, *columns, extra))


def flag_lines(rows, acked, config: Config) -> list[str]:
    """Each flag as its lines in the text list."""
    from monitor.rules.clock_text import local_text

    out = []
    for r, is_acked in zip(rows.itertuples(index=False), acked):
        text = (f"{r.mrn}  {r.severity:<6}  {r.code}: {r.title}" + ("  [acknowledged]" if is_acked else "") + "\n"
                f"    evidence: {r.evidence}\n"
                f"    action:   {r.action} [sources: {r.sources}]\n")
        if is_acked:
            text += (f"    acknowledged by {r.acknowledged_by} at {local_text(r.acknowledged_at, config.zone)}: "
                     f"{r.acknowledged_note}\n")
        out.append(text)
    return out


def flags_text(out: SpooledList):
    """The flags' text in pieces: the JSON list, or the table's lines (without its summary line)."""
    if out.fmt == "json":
        yield from _json_text(out.rows())
    else:
        yield from _batched(out.rows())
