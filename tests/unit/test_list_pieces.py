"""Lists written in chunks: rows cut from the whole-list writers, spooled runs merged in order."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from monitor.config import parse_config
from monitor.errors import ConfigError
from monitor.formats import row_text
from monitor.formats.files import frame_csv_bytes
from monitor.formats.spool import RunSpool

AWKWARD = pd.DataFrame({
    "mrn": ["A1", "B2", "C3", "D4"],
    "name": ['Zoë "Z" Müller', "line\r\nbreak, and comma", "=SUM(A1)", None],
    "note": ["", '"', "a\nb", "-2.0"],
    "days": [3, -1, 0, 12],
})


def test_csv_rows_joined_are_the_whole_csv():
    """Quoted line breaks, quotes and formula cells: each row's bytes are cut where the whole file has them."""
    for bom in (False, True):
        header, rows = row_text.csv_header_and_rows(AWKWARD, bom=bom)
        assert len(rows) == 4 and header + b"".join(rows) == frame_csv_bytes(AWKWARD, bom=bom)
        assert row_text.csv_header_and_rows(AWKWARD.iloc[[2, 0]], bom=bom)[1] == [rows[2], rows[0]]


def test_json_records_joined_are_the_whole_json():
    """pandas' and json.dumps' indented lists are cut into records that rejoin to the same text."""
    whole = AWKWARD.to_json(orient="records", force_ascii=False, indent=2)
    assert "[\n" + ",\n".join(row_text.json_records(AWKWARD)) + "\n]" == whole
    records = [{"mrn": "A1", "sources": [1, "x"], "text": "},\n  {"}, {"mrn": "B2", "sources": []}]
    text = json.dumps(records, ensure_ascii=False, indent=2)
    assert "[\n" + ",\n".join(row_text.json_list_pieces(text, 2)) + "\n]" == text
    assert row_text.json_records(AWKWARD.iloc[:0]) == []


def test_spool_merges_runs_in_key_order_keeping_equal_keys_in_run_order():
    """Equal keys (one patient's flags of one code) stay in the order their run gave them."""
    with RunSpool(batch_items=2) as spool:
        spool.add_run([((1, "a"), "r1-0"), ((1, "a"), "r1-1"), ((3, "c"), "r1-2")])
        spool.add_run([])
        spool.add_run([((0, "z"), "r2-0"), ((2, "b"), "r2-1"), ((3, "c"), "r2-2"), ((9, ""), "r2-3")])
        assert [p for _k, p in spool.merged()] == ["r2-0", "r1-0", "r1-1", "r2-1", "r1-2", "r2-2", "r2-3"]
        assert spool.count == 7


def test_scale_section_sets_the_chunk_size_and_refuses_nonsense():
    """A negative or textual chunk size is a configuration error, never a silent default."""
    assert parse_config({"scale": {"chunk_patients": 7}}).scale.chunk_patients == 7
    assert parse_config({}).scale.chunk_patients == 10000
    for bad in (-1, "7", 2.5):
        with pytest.raises(ConfigError, match=r"\[scale\].*chunk_patients"):
            parse_config({"scale": {"chunk_patients": bad}})
    assert parse_config({}).scale.evaluation_workers == 2
    assert parse_config({"scale": {"evaluation_workers": 0}}).scale.evaluation_workers == 0
    for bad in (-1, 17, "2"):
        with pytest.raises(ConfigError, match=r"\[scale\].*evaluation_workers"):
            parse_config({"scale": {"evaluation_workers": bad}})


def test_flag_records_read_as_json_dumps_writes_the_list():
    """Each flag's record, written a field at a time, is what json.dumps(indent=2) writes for the
    list: quotes, line breaks, non-ASCII, a missing evidence, numbered and named sources, an
    acknowledged flag's two extra fields."""
    from monitor.services.list_streams import flag_json

    rows = pd.DataFrame({
        "mrn": ["A1", "B2", "C3"], "code": ["x", "y", "z"], "severity": ["urgent", "warn", "info"],
        "title": ['say "no"', "Zoë\nMüller \\ tab\t", "plain"], "evidence": ["e", None, "</script>"],
        "action": ["a", "b", "c"], "sources": ["2, 4", "", "PROTOCOL §3, 7"],
        "acknowledged_by": ["", "dr \"o\"", ""],
        "acknowledged_at": pd.to_datetime([None, "2026-11-20T10:11:12Z", None], utc=True),
    }).astype({"code": "category", "severity": "category", "sources": "category"})
    acked = rows["acknowledged_by"] != ""
    records = [{"mrn": r.mrn, "code": r.code, "severity": r.severity, "title": r.title,
                "evidence": r.evidence if isinstance(r.evidence, str) else None,
                "action": r.action,
                "sources": [int(s) if s.strip().isdigit() else s.strip() for s in r.sources.split(",") if s.strip()]}
               for r in rows.itertuples()]
    records[1] |= {"acknowledged_by": 'dr "o"', "acknowledged_at": "2026-11-20T10:11:12+00:00"}
    text = json.dumps(records, ensure_ascii=False, indent=2)
    assert "[\n" + ",\n".join(flag_json(rows, acked)) + "\n]" == text
    assert flag_json(rows.iloc[:0], acked.iloc[:0]) == []
