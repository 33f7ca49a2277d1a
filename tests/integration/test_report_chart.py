"""The patient chart's layout facts, read from the drawn figure (not golden images)."""

from datetime import date

import pytest
from matplotlib.text import Text

from monitor.config import STAFF_RISK_FACTORS, Config
from monitor.reports.chart import patient_figure
from monitor.services.exports import patient_report
from monitor.services.importing import import_files
from monitor.store import init_db, make_engine
from tests.conftest import DEMO

AS_OF = date(2026, 11, 20)


@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory):
    path = tmp_path_factory.mktemp("chart") / "demo.db"
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    import_files(engine, sorted(DEMO.glob("*.csv")), today=date(2026, 11, 25), actor="t", risk_codes=STAFF_RISK_FACTORS)
    return engine


def figure_of(engine, mrn):
    fig = patient_figure(patient_report(engine, mrn, as_of=AS_OF, config=Config()))
    fig.canvas.draw()
    return fig


def texts(fig):
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


@pytest.mark.parametrize("mrn", ["TOH-000012", "TOH-000029", "TOH-000039", "TOH-000041", "TOH-000043", "TOH-000222"])
def test_timeline_lanes_never_overlap(demo_engine, mrn):
    """Overlapping episodes, treatments and pregnancies each keep their own row: nothing hides another."""
    ax = figure_of(demo_engine, mrn).axes[2]
    bars = [(p.get_y(), p.get_y() + p.get_height(), p.get_x(), p.get_x() + p.get_width()) for p in ax.patches]
    assert bars
    for i, (y0, y1, x0, x1) in enumerate(bars):
        for (v0, v1, u0, u1) in bars[i + 1:]:
            same_row = abs(y0 - v0) < 1e-9
            assert same_row or y1 <= v0 or v1 <= y0  # rows are apart
            assert not same_row or x1 <= u0 + 1e-6 or u1 <= x0 + 1e-6  # one row: end to end


@pytest.mark.parametrize("mrn", ["TOH-000012", "TOH-000029", "TOH-000039", "TOH-000041", "TOH-000043", "TOH-000222"])
def test_no_text_clipped_and_at_least_7_points(demo_engine, mrn):
    """Every word is on the page and readable at A4; timeline labels stay inside the timeline."""
    fig = figure_of(demo_engine, mrn)
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    for t in texts(fig):
        box = t.get_window_extent(renderer)
        assert page.x0 - 0.5 <= box.x0 and box.x1 <= page.x1 + 0.5 and page.y0 <= box.y0 and box.y1 <= page.y1, t
        assert t.get_fontsize() >= 7, t
    tl = fig.axes[2]
    inside = tl.get_window_extent(renderer)
    for t in tl.texts:
        box = t.get_window_extent(renderer)
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1, t
    labels = [t for t in tl.texts]
    for i, a in enumerate(labels):  # no two labels on top of each other
        for b in labels[i + 1:]:
            assert not a.get_window_extent(renderer).overlaps(b.get_window_extent(renderer)), (a, b)
    markers = [line for line in tl.lines if line.get_linestyle() == "None"]
    for t in labels:  # nor on a marker (a symptom, an MRI, a scan, the due date)
        for m in markers:
            assert not t.get_window_extent(renderer).overlaps(m.get_window_extent(renderer)), (t, m)


def test_timeline_draws_trimesters_symptoms_and_a_legend(demo_engine):
    """A pregnancy shows its trimesters, symptoms and MRI are drawn, and a legend says what the hatching means."""
    ax = figure_of(demo_engine, "TOH-000012").axes[2]
    assert [t.get_text() for t in ax.get_yticklabels()][:3] == ["L hip", "Treatment", "Pregnancy"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"pregnancy, 1st trimester", "pregnancy, 2nd trimester", "pregnancy, 3rd trimester",
            "pregnancy-associated episode", "symptom reported", "MRI reported as TOH"} <= set(legend)
    assert "L hip pain" in {t.get_text() for t in ax.texts}


def test_affected_only_from_the_episode_onset(demo_engine):
    """A scan taken before that side's episode is not called affected."""
    fig = figure_of(demo_engine, "TOH-000039")  # the left hip's episode began after the only scan
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "left total hip" in legend and "left total hip (affected)" not in legend
    assert "right total hip (affected)" in legend


def test_young_adult_gets_the_z_panel_not_t_bands(demo_engine):
    """ISCD: T-score categories do not apply under 50; the Z-score −2.0 line is drawn instead."""
    ax = figure_of(demo_engine, "TOH-000039").axes[1]  # a man of 41
    assert ax.get_ylabel() == "Z-score"
    assert not {"normal", "osteopenia", "osteoporosis"} & {t.get_text() for t in ax.texts}
    assert [round(line.get_ydata()[0], 2) for line in ax.lines if list(line.get_xdata()) == [0, 1]] == [-2.0]


def test_header_has_age_flags_as_words_and_the_current_year(demo_engine):
    """Age is on the header, flags read as titles with their severity word, the axis names this year."""
    fig = figure_of(demo_engine, "TOH-000039")
    words = " ".join(t.get_text() for t in fig.texts)
    assert "age 41" in words and "WARNING: Migratory pattern" in words and "migratory_pattern" not in words
    assert "2026" in [t.get_text() for t in fig.axes[2].get_xticklabels()]


def test_fracture_star_and_breastfeeding_are_drawn_and_explained(demo_engine):
    """A fracture is a star on its episode (not hatching) and breastfeeding its own dotted bar, both in the legend."""
    ax = figure_of(demo_engine, "TOH-000043").axes[2]
    assert [line for line in ax.lines if line.get_marker() == "*"]
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    assert {"fracture (star)", "breastfeeding", "pregnancy-associated episode"} <= legend
    assert [p for p in ax.patches if p.get_hatch() == "...."]


def test_no_treatment_threshold_is_drawn_while_breastfeeding(demo_engine):
    """Safety first: a breastfeeding woman's T-score panel names no drug threshold (drug labelling)."""
    from dataclasses import replace

    from monitor.rules.pregnancy import pregnancy_spans

    report = patient_report(demo_engine, "TOH-000029", as_of=AS_OF, config=Config())
    spans = pregnancy_spans(report.history.pregnancies, settings=report.config.thresholds).dropna(subset=["bf_end"])
    during = (spans["delivered_on"].iloc[-1] + (spans["bf_end"].iloc[-1] - spans["delivered_on"].iloc[-1]) / 2).date()
    post = report.history.patients.assign(postmenopausal=True)  # T-scores apply: not a young adult
    breastfeeding = replace(report, as_of=during, patient=report.patient,
                            history=replace(report.history, patients=post))
    ax = patient_figure(breastfeeding).axes[1]
    assert ax.get_ylabel() == "T-score" and "no treatment thresholds shown" in ax.get_title(loc="left")
    assert not [line for line in ax.lines if list(line.get_xdata()) == [0, 1]]  # no threshold line
    assert not any("alendronate" in t.get_text() or "therapy" in t.get_text() for t in ax.texts)
    ax = patient_figure(replace(breastfeeding, as_of=AS_OF)).axes[1]  # weaned by now: the thresholds are back
    assert sorted(round(line.get_ydata()[0], 2) for line in ax.lines if list(line.get_xdata()) == [0, 1]) == [-2.0, -1.5]


def test_a_short_history_names_the_current_year_and_the_next_dxa_year(demo_engine):
    """A history starting this year still labels the year of the next DXA (TOH-000104: one scan in 2026,
    next DXA 2027): a date axis with one label cannot be read."""
    fig = figure_of(demo_engine, "TOH-000104")
    labels = [t.get_text() for t in fig.axes[2].get_xticklabels() if t.get_text()]
    assert labels[:2] == ["2026", "2027"]
