"""A list's rows as separate pieces of text, exactly as the whole list would be written.

A list written in chunks and merged (formats.spool) must read byte for byte as the list written
at once: each function here cuts the whole-frame writer's output (CSV as formats.files writes it,
JSON as pandas writes it) into one piece per row, so the same writer decides every byte.
"""

from __future__ import annotations


def csv_header_and_rows(frame, *, bom: bool = False) -> tuple[bytes, list[bytes]]:
    """The frame as formats.files.frame_csv_bytes writes it: its header line and one line per row
    (each with its CRLF). A quoted cell may hold a line break: a row ends at a CRLF outside quotes."""
    from monitor.formats.files import frame_csv_bytes

    data = frame_csv_bytes(frame, bom=bom)
    segments = data.split(b"\r\n")
    lines, pending = [], b""
    for segment in segments[:-1]:  # the text ends with CRLF: the last segment is empty
        pending += segment
        if pending.count(b'"') % 2:  # inside a quoted cell: the CRLF was part of it
            pending += b"\r\n"
            continue
        lines.append(pending + b"\r\n")
        pending = b""
    if pending or len(lines) != len(frame) + 1:
        raise RuntimeError("CSV rows could not be told apart")
    return lines[0], lines[1:]


def json_records(frame) -> list[str]:
    """Each row as pandas writes it in `to_json(orient="records", force_ascii=False, indent=2)`:
    `  {` ... `  }`, to be joined by `,\\n` inside `[\\n` ... `\\n]` (`[]` when there are none)."""
    if not len(frame):
        return []
    return json_list_pieces(frame.to_json(orient="records", force_ascii=False, indent=2), len(frame))


def json_list_pieces(text: str, count: int) -> list[str]:
    """A JSON list of `count` objects written with indent 2 (by pandas or json.dumps), cut into
    its objects' texts. No JSON string holds a raw line break and nested values are indented
    deeper, so `\\n  },\\n  {\\n` only ever stands between two objects."""
    if not count:
        return []
    pieces = text[2:-2].split("\n  },\n  {\n")
    if len(pieces) != count:
        raise RuntimeError("JSON records could not be told apart")
    last = len(pieces) - 1
    return [("" if i == 0 else "  {\n") + piece + ("" if i == last else "\n  }") for i, piece in enumerate(pieces)]


def table_cells(frame) -> list[list[str]]:
    """The cells of an aligned text table (cli.context.render): a blank for a missing value."""
    return [["" if v is None or v != v else str(v) for v in row] for row in frame.itertuples(index=False, name=None)]


def table_line(cells, widths) -> str:
    return "  ".join(v.ljust(w) for v, w in zip(cells, widths)).rstrip()


def table_head(columns, widths) -> str:
    """The header line and the rule under it."""
    return table_line(columns, widths) + "\n" + "  ".join("-" * w for w in widths)
