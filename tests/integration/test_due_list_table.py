"""The clinic report's due and overdue list: a table with a header on every page, banded rows and
every cell wrapped inside its column."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle

from monitor.config import Config
from monitor.reports.due_list import interval_words, reminder_words
from monitor.reports.pages import LEFT, RIGHT, SHADE
from monitor.services.evaluation import evaluate_db
from tests.integration import test_reports

demo_engine = test_reports.demo_engine  # the demo database fixture, shared with the report tests


def test_intervals_and_reminders_read_as_words():
    """24 months is "2 y", an odd interval stays in months; a reminder says its state, why and who."""
    assert [interval_words(m) for m in (24, 12, 36, 18, 6)] == ["2 y", "1 y", "3 y", "18 mo", "6 mo"]
    assert reminder_words("deferred", "until 2027-01-15: patient abroad", "ana") == \
        "deferred; until 2027-01-15: patient abroad; assigned to ana"
    assert reminder_words("scan_done_elsewhere", "", "") == "scanned elsewhere"
    assert reminder_words("none", "", "") == "no reminder"


def _hard_case(engine):
    """The demo with long names and long reminder notes on every listed patient."""
    evaluation = evaluate_db(engine, as_of=date(2026, 11, 20), config=Config())
    sched = evaluation.schedule
    sched = sched.assign(name=sched["name"] + " Alexandrescu-Vandenberghe-Montgomery")
    ids = sched["patient_id"]
    reminders = pd.DataFrame({
        "reminder_state": "deferred", "reminder_detail": "deferred", "last_outreach_on": "",
        "reminder_note": "until 2027-01-15: patient abroad for work, asked us to call back in January; "
                         "last outreach 2026-11-02 no answer",
        "assigned_to": "clerk.with.a.long.name", "work": "deferred"}, index=pd.Index(ids, name="patient_id"))
    return replace(evaluation, schedule=sched), reminders


def summarise(evaluation, reminders=None, limit: int = 500):
    from monitor.reports.clinic_summary import summarise as summary_of

    return summary_of(evaluation, Config(), reminders, limit=limit)


def test_the_list_is_a_table_whose_cells_stay_in_their_columns(demo_engine):
    """Header repeated on every list page; rows banded; no text past the margin or into the next column."""
    from monitor.reports.clinic import list_figures

    figures = list_figures(summarise(*_hard_case(demo_engine)))
    assert len(figures) >= 3
    for fig in figures:
        texts = [t.get_text() for t in fig.texts]
        assert texts.count("MRN") == 1 and texts.count("Reminder") == 1  # the header, once per page
        assert any(isinstance(p, Rectangle) and to_hex(p.get_facecolor()) == SHADE for p in fig.artists)  # bands
        fig.set_dpi(300)
        FigureCanvasAgg(fig).draw()
        renderer = fig.canvas.get_renderer()
        rows: dict = {}
        for t in fig.texts[1:]:
            box = t.get_window_extent(renderer)
            assert LEFT * fig.bbox.width - 1 <= box.x0 and box.x1 <= RIGHT * fig.bbox.width + 1, t.get_text()[:40]
            assert t.get_fontsize() >= 7
            if t.get_text():
                rows.setdefault(round(t.get_position()[1], 6), []).append(box)
        for boxes in rows.values():
            boxes.sort(key=lambda b: b.x0)
            assert all(a.x1 <= b.x0 + 0.5 for a, b in zip(boxes, boxes[1:]))


def test_the_list_says_every_listed_patient_s_reminder_and_assignee(demo_engine):
    """The wrapped reminder cell keeps all its words: state, until when and why, who works it."""
    from monitor.reports.due_list import due_list_blocks

    evaluation, reminders = _hard_case(demo_engine)
    blocks = [b for b in due_list_blocks(summarise(evaluation, reminders)) if b.kind == "row" and not b.is_header]
    column = 7  # MRN, name, status, due, days, last scan, interval, reminder
    cells: list[str] = []
    for b in blocks:
        if b.cells[0]:
            cells.append("")
        cells[-1] += " " + b.cells[column]
    want = reminder_words("deferred", reminders["reminder_note"].iloc[0], "clerk.with.a.long.name")
    listed = int(evaluation.schedule["status"].isin(("due", "overdue")).sum())
    assert len(cells) == listed and all(" ".join(c.split()) == want for c in cells)


def test_the_clinic_report_is_the_same_bytes_twice(demo_engine, tmp_path):
    """Same data, same file: the table's measuring and banding add nothing that varies."""
    from monitor.reports.clinic import write_clinic_report

    summary = summarise(*_hard_case(demo_engine))
    a = write_clinic_report(summary, tmp_path / "a.pdf", config=Config()).read_bytes()
    b = write_clinic_report(summary, tmp_path / "b.pdf", config=Config()).read_bytes()
    assert a == b
