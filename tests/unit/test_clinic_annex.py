"""The clinic report's flag annex, from hand-made flags: what it shows, what it leaves out, and that
its proportional text stays inside the page."""

from datetime import date
from types import SimpleNamespace

import pandas as pd

from monitor.config import Config
from monitor.reports.annex import annex_blocks, annex_flags
from monitor.reports.clinic_summary import annex_part
from monitor.reports.pages import text_width_pt, wrap_pt
from monitor.rules.cohort import Cohort
from monitor.rules.evaluation import Evaluation

AS_OF = date(2026, 11, 20)
LONG = ("left total hip 0.992 → 0.931 g/cm² (-0.061; -6.2 %; -6.1 %/yr) 2019-09-05 → 2020-09-07 vs previous "
        "(LSC 0.025 g/cm², default, not measured here); WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW"
        "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW ") * 3


def flag(pid, code, severity, *, acked="", evidence="evidence"):
    return {"patient_id": pid, "code": code, "severity": severity, "title": f"Title of {code}",
            "evidence": evidence, "action": f"Do something about {code}", "sources": "1, 2",
            "acknowledged_by": acked}


def evaluation(flags: list[dict], patients: int = 4) -> Evaluation:
    cohort = Cohort.from_frames(patients=pd.DataFrame({
        "patient_id": range(1, patients + 1), "mrn": [f"TOH-{k:06d}" for k in range(1, patients + 1)],
        "name": [f"Patient With A Rather Long Name Number {k}" for k in range(1, patients + 1)],
        "status": "active"}))
    return Evaluation(AS_OF, cohort, pd.DataFrame(), pd.DataFrame(flags))


def annex(ev: Evaluation, limit: int = 500) -> SimpleNamespace:
    """What the annex reads of a clinic summary (reports.clinic_summary), from these flags alone."""
    return SimpleNamespace(as_of=ev.as_of, limit=limit, **annex_part(ev, limit=limit))


def shown_text(blocks) -> str:
    return "\n".join(" ".join(b.cells) for b in blocks)


def test_annex_shows_urgent_and_unacknowledged_warnings_only():
    """A manager's annex: acknowledged warnings and information notes are left out, and it says so."""
    ev = evaluation([flag(1, "urgent_a", "urgent", acked="dr"), flag(2, "warn_open", "warn"),
                     flag(2, "warn_acked", "warn", acked="dr"), flag(3, "note", "info")])
    rows, left_out = annex_flags(ev)
    assert sorted(rows["code"]) == ["urgent_a", "warn_open"]  # an urgent flag stays, acknowledged or not
    assert left_out == {"acknowledged": 1, "info": 1}
    text = shown_text(annex_blocks(annex(ev)))
    assert "Title of warn_acked" not in text and "Title of note" not in text
    assert "Left out: 1 warnings a clinician has acknowledged and 1 notes" in text
    assert "▲ URGENT" in text and "● WARNING" in text
    assert "Do something about warn_open" in text and "Do something about note" not in text  # what to do, once


def test_annex_puts_patients_with_an_urgent_flag_first_and_names_each_once():
    """Urgent first; the MRN and name on the patient's first flag only."""
    ev = evaluation([flag(1, "w1", "warn"), flag(4, "u1", "urgent"), flag(4, "w2", "warn")])
    rows = [b for b in annex_blocks(annex(ev)) if b.kind == "row" and b.columns[0] == 0.0 and b.cells[0].startswith("TOH-")]
    assert [b.cells[0].split()[0] for b in rows] == ["TOH-000004", "TOH-000001"]
    assert sum("TOH-000004" in shown_text([b]) for b in annex_blocks(annex(ev))) == 1


def test_wrapped_text_fits_its_column_even_for_one_endless_word():
    """No line wider than asked, measured in the drawn font; nothing is lost by wrapping."""
    lines = wrap_pt(LONG, 300.0, first_pt=120.0)
    assert all(text_width_pt(line) <= 300.0 for line in lines) and text_width_pt(lines[0]) <= 120.0
    assert "".join(lines).replace(" ", "") == LONG.replace(" ", "")


def test_annex_pages_keep_every_text_inside_the_page_at_7_pt_or_more():
    """Long evidence and long names wrap: no text runs off the page or into the next column."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from monitor.reports.clinic import annex_figures
    from monitor.reports.pages import LEFT, RIGHT

    ev = evaluation([flag(k % 4 + 1, f"code_{k % 7}", ("urgent", "warn")[k % 2], evidence=LONG[: 60 * k + 40])
                     for k in range(40)])
    figures = annex_figures(annex(ev), Config())
    assert len(figures) >= 2
    for fig in figures:
        fig.set_dpi(300)  # near the PDF's unhinted glyph widths (screen hinting widens small text)
        FigureCanvasAgg(fig).draw()
        renderer = fig.canvas.get_renderer()
        for t in fig.texts:
            box = t.get_window_extent(renderer)
            assert LEFT * fig.bbox.width - 1 <= box.x0 and box.x1 <= RIGHT * fig.bbox.width + 1, t.get_text()[:40]
            assert 0 <= box.y0 and box.y1 <= fig.bbox.height
            assert t.get_fontsize() >= 7
        # lines never overlap: distinct rows of text sit at distinct heights, cells of a row side by side
        rows: dict = {}
        for t in fig.texts[1:]:
            rows.setdefault(round(t.get_position()[1], 6), []).append(t.get_window_extent(renderer))
        for boxes in rows.values():
            boxes.sort(key=lambda b: b.x0)
            assert all(a.x1 <= b.x0 + 0.5 for a, b in zip(boxes, boxes[1:]))
