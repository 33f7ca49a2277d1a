"""Per-patient reports: the chart as PNG, and a PDF of the chart plus the tables behind it.

Deterministic: no creation date in the PDF, no software tag in the PNG, so the same data gives
the same bytes. Files are written owner-only and whole (patient data).
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd

from monitor.reports.chart import SITE_LABEL, patient_figure
from monitor.reports.data import PatientReport
from monitor.reports.pages import Block, flow_figures, heading, paragraph, row, stamp_pages
from monitor.reports.words import SEVERITY_MARK, word
from monitor.formats.files import write_private_bytes

PDF_METADATA = {"CreationDate": None, "Creator": "toh-monitor", "Producer": None}
PNG_METADATA = {"Software": None}


def _d(value) -> str:
    return "" if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


def png_bytes(fig, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata=PNG_METADATA)
    return buf.getvalue()


def pdf_bytes(figures, title: str) -> bytes:
    from matplotlib.backends.backend_pdf import PdfPages

    buf = io.BytesIO()
    with PdfPages(buf, metadata={**PDF_METADATA, "Title": title}) as pdf:
        for fig in figures:
            pdf.savefig(fig)
    return buf.getvalue()


def footer_text(report: PatientReport) -> str:
    return f"toh-monitor | patient {report.mrn} | as of {report.as_of.isoformat()} | Confidential patient data"


def patient_figures(report: PatientReport):
    """All pages of one patient's PDF (chart, then tables), each with the footer and its page number."""
    figures = [patient_figure(report)] + flow_figures(f"{report.mrn}: DXA scans, flags, history, settings",
                                                      detail_blocks(report), leading=1.35)
    stamp_pages(figures, footer_text(report))
    return figures


def patient_file_bytes(report: PatientReport, fmt: str) -> bytes:
    """One patient's report as PNG (the chart) or PDF (the chart with its tables)."""
    if fmt == "png":
        return png_bytes(patient_figure(report, footer=footer_text(report)))
    return pdf_bytes(patient_figures(report), f"TOH surveillance report {report.mrn}")


def combined_pdf_bytes(pieces, title: str, progress=None) -> tuple[bytes, list[str]]:
    """Many patients' PDFs (`pieces`: each patient's MRN and `patient_file_bytes` PDF, in order) as
    one file with a bookmark per patient (by MRN); each patient keeps its own "page k of N".
    Deterministic like a single report."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    mrns = []
    for mrn, data in pieces:
        start = len(writer.pages)
        writer.append(PdfReader(io.BytesIO(data)), import_outline=False)
        writer.add_outline_item(title=mrn, page_number=start)
        mrns.append(mrn)
        if progress:
            progress()
    writer.add_metadata({"/Title": title, "/Creator": PDF_METADATA["Creator"]})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue(), mrns


def write_patient_png(report: PatientReport, target: Path, *, record=None) -> Path:
    return write_private_bytes(target, patient_file_bytes(report, "png"), record=record)


def write_patient_pdf(report: PatientReport, target: Path, *, record=None) -> Path:
    return write_private_bytes(target, patient_file_bytes(report, "pdf"), record=record)


SCAN_COLUMNS = (("total_hip", "left"), ("femoral_neck", "left"), ("total_hip", "right"), ("femoral_neck", "right"),
                ("lumbar_spine", ""))


def _cell(r, score: str) -> str:
    """BMD (score) | change vs previous | vs baseline, a change of at least the LSC marked with *."""
    parts = [f"{r['bmd_g_cm2']:.3f}"]
    if pd.notna(r[score]):
        parts[0] += f" ({r[score]:+.1f})"
    for tag in ("prev", "base"):
        if pd.isna(r[f"delta_{tag}"]):
            parts.append("-")
        else:
            parts.append(f"{r[f'delta_{tag}']:+.3f}{'*' if r[f'significant_{tag}'] else ''}")
    return "  ".join(parts[:1]) + "  " + " / ".join(parts[1:])


def scan_table_rows(report: PatientReport, score: str) -> tuple[list[str], list[list[str]]]:
    """One row per scan date: date, make, then per site and side BMD (score), Δ previous / Δ baseline."""
    trend = report.trend
    present = [c for c in SCAN_COLUMNS
               if ((trend["site"] == c[0]) & (trend["side"].fillna("") == c[1])).any()]
    header = ["date", "make"] + [f"{side} {SITE_LABEL[site]}".strip() for site, side in present]
    out = []
    for day, scan in trend.groupby("scan_date", sort=True):
        cells = [_d(day), word(scan["scanner"].iloc[0])]
        for site, side in present:
            hit = scan.loc[(scan["site"] == site) & (scan["side"].fillna("") == side)]
            cells.append(_cell(hit.iloc[0], score) if len(hit) else "")
        out.append(cells)
    return header, out


def detail_blocks(report: PatientReport) -> list[Block]:
    """Everything behind the chart: due status, the scan table, flags by severity, history, settings."""
    from monitor.reports.chart import uses_z_scores

    blocks: list[Block] = [heading("DXA surveillance")]
    s = report.schedule
    if s is None:
        blocks += paragraph(f"Not evaluated: the patient is {report.patient['status']} (only active patients are due).")
    else:
        overdue = f", {s['days_overdue']} days past due" if s["days_overdue"] else ""
        blocks += paragraph(f"{word(s['status']).capitalize()}: next scan due {_d(s['due_date'])}{overdue}; "
                            f"interval {s['interval_months']} months.", bold=True)
        blocks += paragraph(f"Why: {readable(s['due_reason'])}")
        if s["risk_reasons"]:
            blocks += paragraph(f"Risk factors: {readable(s['risk_reasons'])}")
    score = "z_score" if uses_z_scores(report) else "t_score"
    blocks.append(heading("DXA scans and changes"))
    if not len(report.trend):
        blocks += paragraph("Baseline DXA never done.")
    else:
        blocks += paragraph(f"Each cell: BMD g/cm² ({score[0].upper()}-score)  change vs previous / vs baseline "
                            "of the same scanner make, g/cm²; * = a change of at least the LSC (significant).")
        header, rows = scan_table_rows(report, score)
        width = (1.0 - 0.16) / max(len(header) - 2, 1)
        columns = [0.0, 0.075] + [0.16 + n * width for n in range(len(header) - 2)]
        blocks.append(row(header, columns, bold=True))
        blocks += [row(cells, columns) for cells in rows]
    blocks += flag_blocks(report)
    blocks += reminder_blocks(report)
    blocks += history_blocks(report)
    blocks.append(heading("Protocol settings used"))
    settings = [b for line in settings_lines(report.config, report.as_of)[1:] for b in paragraph(line.strip())]
    return blocks + [replace(b, keep_with_next=True) for b in settings[:-1]] + settings[-1:]  # on one page


CODE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def readable(text: str) -> str:
    """Stored codes inside a rule's sentence as words (`pregnancy_associated_toh;smoking` reads
    "pregnancy associated TOH, smoking")."""
    return re.sub(r";(?=\S)", ", ", CODE.sub(lambda m: word(m.group(0)), str(text)))


def flag_blocks(report: PatientReport) -> list[Block]:
    """Flags grouped by severity (a shape and a word), each with its evidence and action."""
    flags = report.flags
    blocks = [heading(f"Flags ({len(flags)})" if len(flags) else "Flags: none")]
    for severity in ("urgent", "warn", "info"):
        some = flags.loc[flags["severity"] == severity]
        if not len(some):
            continue
        blocks.append(Block("gap"))
        blocks += paragraph(f"{SEVERITY_MARK[severity]} ({len(some)})", bold=True)
        for _, f in some.iterrows():
            blocks += paragraph(f"{f['title']}   [code {f['code']}]", 2, bold=True)
            blocks += paragraph(f"Evidence: {readable(f['evidence'])}", 4)
            blocks += paragraph(f"Action: {f['action']}  [sources: {f['sources']}]", 4)
    return blocks


REMINDER_COLUMNS = (("at", 0.0), ("by", 0.13), ("event", 0.22), ("outcome", 0.31), ("detail", 0.42), ("note", 0.58))


def reminder_blocks(report: PatientReport) -> list[Block]:
    """Each reminder (newest first): what it is and where it stands, then its events, oldest first."""
    blocks = [heading(f"Reminder history ({len(report.reminders)})" if report.reminders else "Reminder history: none")]
    columns = [at for _, at in REMINDER_COLUMNS]
    for h in report.reminders:
        blocks += paragraph("Reminder " + h.header.split(", reminder ", 1)[-1], bold=True)
        if h.rows:
            blocks.append(row([name for name, _ in REMINDER_COLUMNS], columns, bold=True))
            blocks += [row([str(r.get(name, "") or "")[:90] for name, _ in REMINDER_COLUMNS], columns) for r in h.rows]
    return blocks


def history_blocks(report: PatientReport) -> list[Block]:
    h = report.history
    blocks = [heading("History")]
    for _, e in h.episodes.sort_values("onset_date").iterrows():
        notes = [n for n, v in (("pregnancy-associated", e["pregnancy_associated"]), ("fracture", e["fracture"]))
                 if pd.notna(v) and bool(v)]
        blocks += paragraph(f"Episode {e['side']} {e['joint']}: onset {_d(e['onset_date'])}, diagnosed "
                            f"{_d(e['diagnosed_on']) or '-'}, resolved {_d(e['resolved_on']) or 'not yet'}"
                            + (f" ({', '.join(notes)})" if notes else ""))
    for _, m in h.mri.sort_values("study_date").iterrows():
        blocks += paragraph(f"MRI {_d(m['study_date'])} {m['side']} {m['joint']}: reported as {word(m['reported_as'])}")
    for _, p in h.pregnancies.iterrows():
        until = "ongoing" if pd.notna(p["breastfeeding_ongoing"]) and bool(p["breastfeeding_ongoing"]) else \
            _d(p["breastfeeding_until"]) or "-"
        blocks += paragraph(f"Pregnancy: expected {_d(p['expected_delivery']) or '-'}, delivered "
                            f"{_d(p['delivered_on']) or '-'}, breastfeeding until {until}")
    for _, s in h.symptoms.sort_values("reported_on").iterrows():
        blocks += paragraph(f"Symptom {_d(s['reported_on'])}: {word(s['complaint'])}"
                            + (f" ({s['side']})" if isinstance(s["side"], str) and s["side"] else ""))
    for _, t in h.treatments.sort_values("started_on").iterrows():
        blocks += paragraph(f"Treatment {t['drug']} {t['dose'] or ''}: {_d(t['started_on'])} to "
                            f"{_d(t['stopped_on']) or 'current'}")
    if len(blocks) == 1:
        blocks += paragraph("Nothing recorded.")
    return blocks


def settings_lines(config, as_of) -> list[str]:
    """The protocol settings a report was computed with, LSC defaults marked as such."""
    sc, th, tr = config.schedule, config.thresholds, config.trend
    lines = ["PROTOCOL SETTINGS USED", f"  evaluated as of {as_of.isoformat()} (clinic time zone {config.timezone})",
             f"  DXA interval {sc.interval_months} months, {sc.risk_interval_months} with additional risk factors [2, 3];"
             f" due soon {sc.due_soon_days} days ahead, overdue {sc.grace_days} days after the due date"]
    for site in ("total_hip", "femoral_neck", "lumbar_spine"):
        value, measured = tr.lsc(site)
        origin = "measured here (2.77 x precision)" if measured else "default, not measured here"
        lines.append(f"  LSC {SITE_LABEL[site]}: {value:.3f} g/cm² ({origin})")
    lines.append(f"  persistent osteopenia T <= {th.persistent_osteopenia_t:+.1f} [5]; therapy T < {th.therapy_t:+.1f} "
                 f"with a risk factor [2]; low for age Z <= {th.low_for_age_z:+.1f} under {th.z_score_age} (ISCD)")
    lines.append(f"  migratory window {th.migratory_window_months} months [1]; third trimester {th.third_trimester_weeks} "
                 f"weeks before delivery, postpartum {th.postpartum_months} months [6]")
    return lines
