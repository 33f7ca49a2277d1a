"""Report files, opened and read back: valid PNG/PDF, the right patient, the expected text, stable bytes."""

from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from monitor.cli.main import main
from monitor.config import STAFF_RISK_FACTORS, Config
from monitor.services.importing import import_files
from monitor.reports.chart import patient_figure
from monitor.reports.clinic import write_clinic_report
from monitor.reports.clinic_summary import summarise
from monitor.reports.patient import write_patient_pdf, write_patient_png
from monitor.services.evaluation import evaluate_db
from monitor.services.exports import patient_report
from monitor.store import init_db, make_engine
from tests.conftest import DEMO, write_csv

AS_OF = date(2026, 11, 20)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory):
    path = tmp_path_factory.mktemp("reports") / "demo.db"
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    import_files(engine, sorted(DEMO.glob("*.csv")), today=date(2026, 11, 25), actor="t", risk_codes=STAFF_RISK_FACTORS)
    return engine


def pdf_text(path: Path) -> tuple[int, str]:
    reader = PdfReader(str(path))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_patient_png_and_pdf_are_valid_and_about_the_right_patient(demo_engine, tmp_path):
    """A clinician opens the files: the chart, then tables, flags and settings of that patient."""
    report = patient_report(demo_engine, "TOH-000041", as_of=AS_OF, config=Config())
    png = write_patient_png(report, tmp_path / "p.png")
    assert png.read_bytes().startswith(PNG_MAGIC)
    assert png.stat().st_mode & 0o777 == 0o600
    pdf = write_patient_pdf(report, tmp_path / "p.pdf")
    pages, text = pdf_text(pdf)
    assert pages >= 2  # the chart, then the tables
    assert "TOH-000041" in text and "Emma Weber" in text
    assert "DXA scans and changes" in text and "History: TOH recurred at the same site" in text
    assert "(default, not measured here)" in text
    assert "evaluated as of 2026-11-20" in text


def test_every_pdf_page_is_landscape_numbered_k_of_n_with_the_footer(demo_engine, tmp_path):
    """Page labels match the page count on every page, and each page says whose data it is and that it is confidential."""
    report = patient_report(demo_engine, "TOH-000041", as_of=AS_OF, config=Config())
    reader = PdfReader(str(write_patient_pdf(report, tmp_path / "p.pdf")))
    n = len(reader.pages)
    for k, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert f"page {k} of {n}" in text
        assert "patient TOH-000041 | as of 2026-11-20 | Confidential" in text
        assert page.mediabox.width > page.mediabox.height  # one orientation throughout


def test_scan_table_has_one_row_per_scan_date(demo_engine):
    """Seven scans read as seven rows with a column per site and side, significant changes marked."""
    from monitor.reports.patient import scan_table_rows

    report = patient_report(demo_engine, "TOH-000041", as_of=AS_OF, config=Config())
    header, rows = scan_table_rows(report, "t_score")
    dates = sorted(report.trend["scan_date"].dt.date.astype(str).unique())
    assert [r[0] for r in rows] == dates
    assert header[:4] == ["date", "make", "left total hip", "left femoral neck"]
    assert {r[1] for r in rows} == {"Hologic", "GE Lunar"}
    assert any("*" in cell for r in rows for cell in r[2:])


def test_same_data_gives_identical_bytes(demo_engine, tmp_path):
    """Deterministic files: no creation date, no software stamp."""
    report = patient_report(demo_engine, "TOH-000009", as_of=AS_OF, config=Config())
    a = write_patient_pdf(report, tmp_path / "a.pdf").read_bytes()
    b = write_patient_pdf(report, tmp_path / "b.pdf").read_bytes()
    assert a == b and b"CreationDate" not in a
    assert write_patient_png(report, tmp_path / "a.png").read_bytes() == \
        write_patient_png(report, tmp_path / "b.png").read_bytes()


def test_chart_draws_the_trend_and_breaks_at_a_scanner_change(demo_engine):
    """The drawn points are the recorded BMD; a make change splits the series into two lines."""
    report = patient_report(demo_engine, "TOH-000041", as_of=AS_OF, config=Config())
    fig = patient_figure(report)
    ax = fig.axes[0]
    trend = report.trend
    left_th = trend.loc[(trend["site"] == "total_hip") & (trend["side"] == "left")].sort_values("scan_date")
    assert left_th["series"].nunique() == 2
    drawn = [line for line in ax.lines if len(line.get_xydata()) and line.get_color() == "#1f4e79"
             and line.get_marker() == "o"]
    assert len(drawn) == 2  # two segments, not one line across the break
    ys = sorted(round(y, 3) for line in drawn for y in line.get_ydata())
    assert ys == sorted(round(v, 3) for v in left_th["bmd_g_cm2"])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "left total hip (affected)" in legend and "right total hip" in legend


def test_t_panel_shows_who_bands_and_thresholds(demo_engine):
    """The T-score panel draws the clinic's two thresholds."""
    report = patient_report(demo_engine, "TOH-000009", as_of=AS_OF, config=Config())
    ax = patient_figure(report).axes[1]
    levels = sorted({round(line.get_ydata()[0], 2) for line in ax.lines if len(set(line.get_ydata())) == 1})
    assert -2.0 in levels and -1.5 in levels
    texts = {t.get_text() for t in ax.texts}
    assert {"normal", "osteopenia", "osteoporosis"} <= texts


def test_clinic_report(demo_engine, tmp_path):
    """The clinic report: overview page, the overdue list, urgent and warning flags, the settings."""
    evaluation = evaluate_db(demo_engine, as_of=AS_OF, config=Config())
    summary = summarise(evaluation, Config(), limit=500)
    path = write_clinic_report(summary, tmp_path / "clinic.pdf", config=Config())
    pages, text = pdf_text(path)
    assert pages >= 3
    assert "clinic report as of 2026-11-20" in text
    overdue = int((evaluation.schedule["status"].isin(("due", "overdue"))).sum())
    assert f"Due and overdue patients ({overdue}), most overdue first" in text
    assert "Flags to act on:" in text and "Protocol settings used" in text
    assert "pregnancy_toh_fracture_risk" not in text and "URGENT: Pregnancy-associated TOH" in text  # titles
    assert "Pregnancy-associated TOH: highest risk of displaced femoral neck fracture" in text  # the annex
    n = len(PdfReader(str(path)).pages)
    assert all(f"page {k} of {n}" in PdfReader(str(path)).pages[k - 1].extract_text() for k in range(1, n + 1))
    png = write_clinic_report(summary, tmp_path / "clinic.png", config=Config(), fmt="png")
    assert png.read_bytes().startswith(PNG_MAGIC)


def test_report_cli_names_files_from_safe_parts(tmp_path, monkeypatch):
    """A hostile MRN never becomes a path: only letters, digits, dot, dash and underscore."""
    db = f"sqlite:///{tmp_path / 'm.db'}"
    CliRunner().invoke(main, ["--db", db, "init"])
    write_csv(tmp_path / "patients.csv", "mrn,sex,birth_date\n../../etc/passwd,F,1980-01-01\nA/1,M,1970-01-01\n"
                                         "A_1,M,1970-01-01\n")
    assert CliRunner().invoke(main, ["--db", db, "import", str(tmp_path / "patients.csv")]).exit_code == 0
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = CliRunner().invoke(main, ["--db", db, "report", "patient", "../../etc/passwd", "--as-of", "2026-01-01",
                                       "--format", "png"], catch_exceptions=False)
    assert result.output == "Wrote patient-etc_passwd-2026-01-01.png\n"
    assert (work / "patient-etc_passwd-2026-01-01.png").is_file()
    out = tmp_path / "many"
    result = CliRunner().invoke(main, ["--db", db, "report", "patients", "--all", "--as-of", "2026-01-01",
                                       "--format", "png", "-o", str(out)], catch_exceptions=False)
    assert result.output == f"Wrote 3 PNG report(s) to {out}\n"
    assert sorted(p.name for p in out.iterdir()) == [
        "patient-A_1-2026-01-01-id3.png", "patient-A_1-2026-01-01.png", "patient-etc_passwd-2026-01-01.png"]


def test_report_patients_needs_a_selection_and_known_mrns(demo_engine, tmp_path):
    """Asking for nothing, or for an unknown MRN, is a clear error."""
    db = str(demo_engine.url)
    r = CliRunner().invoke(main, ["--db", db, "report", "patients", "-o", str(tmp_path / "x")])
    assert r.exit_code == 1 and "name MRNs, or choose --status, --severity or --all" in r.stderr
    r = CliRunner().invoke(main, ["--db", db, "report", "patients", "NOPE", "-o", str(tmp_path / "x")])
    assert r.exit_code == 1 and "no patient with MRN 'NOPE'" in r.stderr


def test_weekly_job_writes_the_clinic_report_to_the_outbox(demo_engine, tmp_path):
    """The daemon's clinic-report slot lands a PDF in the outbox."""
    from monitor.jobs.nightly import CLINIC_REPORT, run_job

    config = replace(Config(), jobs=replace(Config().jobs, outbox=str(tmp_path / "outbox")))
    result = run_job(demo_engine, CLINIC_REPORT, slot_on=date(2026, 11, 16), as_of=AS_OF, config=config,
                     now_utc=datetime(2026, 11, 20, 5, tzinfo=timezone.utc), trigger="manual", actor="t")
    assert result.outcome == "ok"
    assert result.files == [str(tmp_path / "outbox" / "clinic-report-2026-11-20.pdf")]
    assert PdfReader(result.files[0]).pages


def test_flags_json_on_a_whole_cohort(demo_engine):
    """`monitor flags --format json` over many patients and codes: one document, the contract's keys."""
    import json

    result = CliRunner().invoke(main, ["--db", str(demo_engine.url), "flags", "--format", "json", "--as-of", "2026-11-20"],
                                catch_exceptions=False)
    data = json.loads(result.output)
    assert len(data) > 100
    assert {tuple(sorted(d)) for d in data} == {("action", "code", "evidence", "mrn", "severity", "sources", "title")}
    assert all(isinstance(d["sources"], list) and d["sources"] for d in data)
    assert {s for d in data for s in d["sources"]} >= {1, 2, 4, 5, 6, 7, "ISCD"}
    ranks = [("info", "warn", "urgent").index(d["severity"]) for d in data]
    assert ranks == sorted(ranks, reverse=True)  # most severe first


def test_clinic_report_lists_are_capped(demo_engine, tmp_path, monkeypatch):
    """A network-sized list is cut with a pointer to the full export, not printed as 1,000 pages."""
    from monitor.reports import clinic

    monkeypatch.setattr(clinic, "LIST_LIMIT", 5)
    evaluation = evaluate_db(demo_engine, as_of=AS_OF, config=Config())
    from monitor.reports.due_list import due_list_blocks

    summary = summarise(evaluation, Config(), limit=5)
    blocks = due_list_blocks(summary)
    due = int((evaluation.schedule["status"].isin(("due", "overdue"))).sum())
    assert blocks[-1].cells == (f"... and {due - 5} more: the full list is `monitor export overdue -o FILE`",)
    assert sum(1 for b in blocks if b.kind == "row" and b.cells[0]) == 5 + 1  # the header and five patients
    from monitor.reports.annex import annex_blocks

    last = " ".join(annex_blocks(summary)[-1].cells)
    assert last.startswith("... and ") and "monitor flags --severity warn" in last


def test_report_patients_to_a_pdf_file_writes_one_combined_pdf(demo_engine, tmp_path):
    """A batch for printing: one PDF, a bookmark per patient at that patient's first page, same bytes twice."""
    db = str(demo_engine.url)
    args = ["--db", db, "report", "patients", "TOH-000041", "TOH-000009", "--as-of", "2026-11-20", "-o"]
    r = CliRunner().invoke(main, args + [str(tmp_path / "batch.pdf")], catch_exceptions=False)
    assert r.exit_code == 0
    assert r.output == f"Wrote 2 patient report(s) to {tmp_path / 'batch.pdf'} (one PDF, a bookmark per patient)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["batch.pdf"]
    assert (tmp_path / "batch.pdf").stat().st_mode & 0o777 == 0o600
    reader = PdfReader(str(tmp_path / "batch.pdf"))
    marks = [(m.title, reader.get_destination_page_number(m)) for m in reader.outline]
    assert [title for title, _ in marks] == ["TOH-000009", "TOH-000041"]  # in MRN order, like the folder
    assert marks[0][1] == 0 and 0 < marks[1][1] < len(reader.pages)
    assert "page 1 of" in reader.pages[marks[1][1]].extract_text()  # each patient counts its own pages
    CliRunner().invoke(main, args + [str(tmp_path / "again.pdf")], catch_exceptions=False)
    assert (tmp_path / "again.pdf").read_bytes() == (tmp_path / "batch.pdf").read_bytes()
    r = CliRunner().invoke(main, args + [str(tmp_path / "c.pdf"), "--format", "png"])
    assert r.exit_code == 1 and "Error: " in r.stderr and "for PNG charts name a folder" in r.stderr


def test_clinic_kpis_count_overdue_share_median_and_lost(demo_engine):
    """The manager's numbers are computed from the schedule: % of active overdue, median days, lost > 1 year."""
    from monitor.reports.clinic import clinic_kpis

    evaluation = evaluate_db(demo_engine, as_of=AS_OF, config=Config())
    k = clinic_kpis(summarise(evaluation, Config(), limit=500))
    sched = evaluation.schedule
    days = sched.loc[sched["status"] == "overdue", "days_overdue"]
    assert k["active"] == len(sched) and k["overdue"] == len(days) > 0
    assert k["overdue_pct"] == round(100 * len(days) / len(sched), 1)
    assert k["median_days_overdue"] == int(days.astype(float).median())
    assert k["lost"] == int((days > 365).sum()) > 0


def test_clinic_flag_details_leave_out_acknowledged_warnings(demo_engine):
    """A warning a clinician acknowledged leaves the clinic report's details; urgent flags always stay."""
    from monitor.reports.annex import annex_flags

    evaluation = evaluate_db(demo_engine, as_of=AS_OF, config=Config())
    flags = evaluation.flags
    warn = flags.loc[flags["severity"] == "warn"].iloc[0]
    before, _ = annex_flags(evaluation)
    acked = flags.assign(acknowledged_by=[("dr" if i == warn.name else "") for i in flags.index])
    after, left_out = annex_flags(replace(evaluation, flags=acked))
    assert len(after) == len(before) - 1 and left_out["acknowledged"] == 1
    assert set(before["severity"]) == {"urgent", "warn"}


def test_clinic_overview_text_stays_on_the_page(demo_engine):
    """The manager's page 1: every line of text whole on the page, codes as words (TOH, MRI), none under 7 pt."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    from monitor.reports.clinic import overview_figure

    fig = overview_figure(summarise(evaluate_db(demo_engine, as_of=AS_OF, config=Config()), Config(), limit=500))
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    ticks = {id(t) for ax in fig.axes for t in ax.xaxis.findobj(Text) + ax.yaxis.findobj(Text)}
    def inside(value, limits):
        return min(limits) - 1e-9 <= value <= max(limits) + 1e-9

    in_view = [t for ax in fig.axes for t in ax.get_xticklabels() if inside(t.get_position()[0], ax.get_xlim())]
    in_view += [t for ax in fig.axes for t in ax.get_yticklabels() if inside(t.get_position()[1], ax.get_ylim())]
    shown = [t for t in fig.findobj(Text) if id(t) not in ticks] + in_view  # ticks outside the view are not drawn
    shown = [t for t in shown if t.get_visible() and t.get_text().strip()]
    for t in shown:
        box = t.get_window_extent(renderer)
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and fig.bbox.y0 <= box.y0 <= box.y1 <= fig.bbox.y1, t
        assert t.get_fontsize() >= 7
    words = " ".join(t.get_text() for t in shown)
    assert "lost to follow-up" in words and "% of active" in words and "median" in words
    assert "_" not in words and "▲ pregnancy TOH fracture risk" in words


def test_patient_pdf_has_the_reminder_history(demo_engine, tmp_path):
    """The PDF says what the clinic did about the due scan: each reminder, where it stands, its events."""
    from types import SimpleNamespace

    report = patient_report(demo_engine, "TOH-000041", as_of=AS_OF, config=Config())
    assert report.reminders == ()  # imported only: no nightly run yet, so no reminder
    header = "TOH-000041 (Emma Weber), reminder 7 (DXA due 2026-10-10): open; assigned to clerk1"
    rows = [{"at": "2026-11-02 09:15 +01:00", "by": "clerk1", "event": "outreach", "outcome": "no_answer",
             "detail": "", "note": "left a message"}]
    pdf = write_patient_pdf(replace(report, reminders=(SimpleNamespace(header=header, rows=rows),)), tmp_path / "r.pdf")
    _, text = pdf_text(pdf)
    assert "Reminder history (1)" in text and "Reminder 7 (DXA due 2026-10-10): open; assigned to clerk1" in text
    assert "2026-11-02 09:15 +01:00" in text and "left a message" in text


def test_clinic_trend_table_ends_with_today_and_matches_the_kpis(demo_engine):
    """Page 1's trend table: eight quarters, the last one today, its numbers the same as the KPIs above it."""
    from monitor.reports.clinic import clinic_kpis
    from monitor.reports.clinic_trends import quarterly_trends

    evaluation = evaluate_db(demo_engine, as_of=AS_OF, config=Config())
    trends = quarterly_trends(evaluation, Config())
    k = clinic_kpis(summarise(evaluation, Config(), limit=500))
    assert trends["quarter"].tolist()[-1] == "2026Q4" and len(trends) == 8 and trends["on"].iloc[-1] == AS_OF
    today = trends.iloc[-1]
    assert [today["active"], today["overdue"], today["pct"], today["median_days"], today["lost"]] == \
        [k["active"], k["overdue"], k["overdue_pct"], k["median_days_overdue"], k["lost"]]
    assert (trends["active"].diff().dropna() >= 0).all()  # the demo clinic grows; nobody enrolled later counts
    assert trends["answered"].sum() > 0 and trends["due_to_scan_days"].notna().any()


def test_demo_showcases_cover_the_issue_list(demo_engine):
    """The demo's patient reports show each hard case once: migratory, pregnancy with breastfeeding,
    scanner change, a young adult (Z-scores) and a patient on bone treatment."""
    from monitor.demo.run import SHOWCASES, showcase_patients
    from monitor.rules.thresholds import latest_scores

    evaluation = evaluate_db(demo_engine, as_of=AS_OF, config=Config())
    ids = showcase_patients(evaluation)
    assert len(ids) == len(set(ids)) == len(SHOWCASES)
    codes = {pid: set(evaluation.flags.loc[evaluation.flags["patient_id"] == pid, "code"]) for pid in ids}
    migratory, pregnant, scanner, young, treated = ids
    assert "migratory_pattern" in codes[migratory] and "scanner_changed" in codes[scanner]
    preg = evaluation.cohort.pregnancies
    assert preg.loc[preg["patient_id"] == pregnant, "breastfeeding_until"].notna().any() or \
        preg.loc[preg["patient_id"] == pregnant, "breastfeeding_ongoing"].fillna(False).astype(bool).any()
    scores = latest_scores(evaluation.cohort, Config()).set_index("patient_id")
    assert bool(scores.loc[young, "is_young"]) and young not in set(preg["patient_id"])
    assert "on_bone_treatment" in codes[treated]


def test_clinic_page_one_table_cells_never_overlap_even_at_network_scale(demo_engine):
    """Six-digit counts and the longest labels stay in their columns (a 100k-patient clinic's numbers)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from monitor.reports.clinic import overview_figure
    from monitor.reports.clinic_trends import quarterly_trends

    evaluation = evaluate_db(demo_engine, as_of=AS_OF, config=Config())
    trends = quarterly_trends(evaluation, Config())
    big = trends.assign(**{c: trends[c] * 1000 for c in ("active", "overdue", "lost", "scans", "diagnosed")})
    fig = overview_figure(summarise(evaluation, Config(), limit=500), trends=big.assign(median_days=123456.0))
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    rows: dict = {}
    for t in fig.texts:
        rows.setdefault(round(t.get_position()[1], 4), []).append(t.get_window_extent(renderer))
    for boxes in rows.values():
        boxes.sort(key=lambda b: b.x0)
        assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:]))
        assert all(0 <= b.x0 and b.x1 <= fig.bbox.width for b in boxes)


def test_patient_pdf_reads_risk_codes_as_words_and_keeps_the_settings_together(demo_engine, tmp_path):
    """`pregnancy_associated_toh;smoking` is code, not a sentence; the settings never straggle onto a page."""
    report = patient_report(demo_engine, "TOH-000066", as_of=AS_OF, config=Config())
    path = write_patient_pdf(report, tmp_path / "p.pdf")
    pages, text = pdf_text(path)
    assert "pregnancy_associated_toh" not in text and "pregnancy associated TOH, smoking" in text
    last = PdfReader(str(path)).pages[-1].extract_text()
    assert "Protocol settings used" in last and "migratory window" in last


def test_clinic_trend_page_text_stays_clear_of_the_charts(demo_engine):
    """Page 2: the method note under the charts never runs into a quarter's label, and stays on the page."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from monitor.reports.clinic_trends import quarterly_trends, trends_figure

    evaluation = evaluate_db(demo_engine, as_of=AS_OF, config=Config())
    fig = trends_figure(evaluation, quarterly_trends(evaluation, Config()))
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    note = next(t for t in fig.texts if t.get_text().startswith("How: ")).get_window_extent(renderer)
    assert 0 <= note.x0 and note.x1 <= fig.bbox.width and note.y0 >= 0
    ticks = [t.get_window_extent(renderer) for ax in fig.axes for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and all(b.y0 > note.y1 for b in ticks)


def test_reports_drawn_by_workers_are_the_bytes_drawn_here(demo_engine, tmp_path, monkeypatch):
    """Several patients' files are drawn by the evaluation workers, a few at a time, and handed back
    in order: the same files, names and bytes as drawn in this process, in a folder and combined."""
    from monitor.config import ScaleSettings
    from monitor.services import chunk_workers, exports

    evaluation = evaluate_db(demo_engine, as_of=AS_OF, config=Config())
    ids = [int(i) for i in evaluation.cohort.patients["patient_id"].iloc[:exports.REPORTS_FOR_WORKERS + 1]]
    pools = []
    real_pool = chunk_workers._pool
    monkeypatch.setattr(chunk_workers, "_pool", lambda n: pools.append(n) or real_pool(n))
    out = {}
    for workers in (0, 2):
        config = replace(Config(), scale=ScaleSettings(evaluation_workers=workers))
        for fmt in ("pdf", "png"):
            written = exports.write_patient_reports(demo_engine, evaluation, ids, tmp_path / f"{fmt}-{workers}",
                                                    fmt=fmt, config=config)
            out[fmt, workers] = {p.name: p.read_bytes() for p in written}
        exports.write_combined_patient_pdf(demo_engine, evaluation, ids, tmp_path / f"all-{workers}.pdf", config=config)
        out["combined", workers] = (tmp_path / f"all-{workers}.pdf").read_bytes()
    assert pools == [2, 2, 2]  # the three batches with workers drew in worker processes; none without
    for kind in ("pdf", "png", "combined"):
        assert out[kind, 2] == out[kind, 0]
    assert len(out["pdf", 2]) == len(ids)


def test_named_patients_are_evaluated_alone_and_drawn_as_from_the_cohort(demo_engine, tmp_path):
    """`report patients MRN ...` evaluates only the patients named (seconds saved per thousand
    patients): their files are the bytes drawn from the whole cohort's evaluation, an acknowledged
    flag and a discharged patient included, and an unknown MRN is refused the same way."""
    from monitor.errors import UnknownPatient
    from monitor.services import exports
    from monitor.services.acknowledgements import acknowledge
    from monitor.services.evaluation import evaluate_patients, select_patients
    from monitor.services.patient_status import change_status

    import shutil

    shutil.copy(demo_engine.url.database, tmp_path / "own.db")  # this test's own copy: it writes
    demo_engine = make_engine(f"sqlite:///{tmp_path / 'own.db'}")
    config, now = Config(), datetime(2026, 11, 20, 9, tzinfo=timezone.utc)
    cohort = evaluate_db(demo_engine, as_of=AS_OF, config=config)
    flagged = cohort.flags.loc[cohort.flags["severity"] == "urgent"]
    pid = int(flagged["patient_id"].iloc[0])
    mrn_of = dict(zip(cohort.cohort.patients["patient_id"], cohort.cohort.patients["mrn"]))
    acknowledge(demo_engine, mrn_of[pid], str(flagged["code"].iloc[0]), note="seen", actor="dr", on_behalf_of=None,
                as_of=AS_OF, config=config, now=now)
    change_status(demo_engine, "TOH-000041", "discharge", reason="moved away", actor="clerk", now=now)
    mrns = (mrn_of[pid], "TOH-000009", "TOH-000041", "TOH-000230")
    whole = evaluate_db(demo_engine, as_of=AS_OF, config=config)
    alone = evaluate_patients(demo_engine, mrns, as_of=AS_OF, config=config)
    assert len(alone.cohort.patients) == 4 < len(whole.cohort.patients)
    drawn = {}
    for name, evaluation in (("whole", whole), ("alone", alone)):
        ids = select_patients(evaluation, mrns=mrns)
        written = exports.write_patient_reports(demo_engine, evaluation, ids, tmp_path / name, fmt="pdf",
                                                config=config)
        drawn[name] = {p.name: p.read_bytes() for p in written}
    assert drawn["alone"] == drawn["whole"] and len(drawn["whole"]) == 4
    with pytest.raises(UnknownPatient, match="no patient with MRN 'NOPE', 'NADA'"):
        evaluate_patients(demo_engine, ("TOH-000009", "NOPE", "NADA"), as_of=AS_OF, config=config)
    demo_engine.dispose()


def test_patients_chosen_by_status_or_flag_are_found_in_chunks_and_drawn_in_batches(demo_engine, tmp_path,
                                                                                 monkeypatch):
    """`report patients --status/--severity/--all` choose their patients a chunk at a time and
    evaluate and draw them a batch at a time: the same patients, files and bytes as chosen from and
    drawn with the whole cohort's evaluation (chunks of 40, batches of 3); an unknown MRN beside
    them is refused first."""
    from monitor.config import ScaleSettings
    from monitor.errors import UnknownPatient
    from monitor.services import exports
    from monitor.services.evaluation import select_patients

    monkeypatch.setattr(exports, "REPORT_BATCH", 3)
    whole = evaluate_db(demo_engine, as_of=AS_OF, config=Config())
    mrn_of = dict(zip(whole.cohort.patients["patient_id"], whole.cohort.patients["mrn"]))
    chunked = replace(Config(), scale=ScaleSettings(chunk_patients=40, evaluation_workers=0))
    for choice in ({"statuses": ("due",)}, {"min_severity": "urgent", "mrns": ("TOH-000041",)}, {"everyone": True}):
        want = [mrn_of[pid] for pid in select_patients(whole, **choice)]
        got = exports.selected_mrns(demo_engine, as_of=AS_OF, config=chunked, **choice)
        assert got == want and len(got) > 3, choice
    ids = select_patients(whole, statuses=("due",))
    chosen = [mrn_of[pid] for pid in ids]
    written = exports.write_patient_reports(demo_engine, whole, ids, tmp_path / "whole", fmt="pdf", config=Config())
    reports = exports.reports_in_batches(demo_engine, chosen, as_of=AS_OF, fmt="pdf", config=Config())
    batched = exports.stage_patient_reports(demo_engine, reports, tmp_path / "batched", count=len(chosen), as_of=AS_OF,
                                            fmt="pdf", config=Config())
    assert {p.name: p.read_bytes() for p in batched} == {p.name: p.read_bytes() for p in written}
    with pytest.raises(UnknownPatient, match="no patient with MRN 'NOPE'"):
        exports.selected_mrns(demo_engine, as_of=AS_OF, config=chunked, mrns=("NOPE",), everyone=True)
