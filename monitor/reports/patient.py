"""Per-patient reports: the chart as PNG, and a PDF of the chart plus the tables behind it.

Deterministic: no creation date in the PDF, no software tag in the PNG, so the same data gives
the same bytes. Files are written owner-only and whole (patient data).
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from monitor.reports.chart import SITE_LABEL, patient_figure
from monitor.reports.data import PatientReport
from monitor.reports.pages import text_figures, wrap
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


def patient_file_bytes(report: PatientReport, fmt: str) -> bytes:
    """One patient's report as PNG (the chart) or PDF (the chart with its tables)."""
    if fmt == "png":
        return png_bytes(patient_figure(report))
    figures = [patient_figure(report)]
    footer = f"toh-monitor | {report.mrn} | as of {report.as_of.isoformat()} | confidential patient data"
    figures += text_figures(f"{report.mrn}: due status, DXA changes, flags, settings", detail_lines(report),
                            footer=footer)
    return pdf_bytes(figures, f"TOH surveillance report {report.mrn}")


def write_patient_png(report: PatientReport, target: Path, *, record=None) -> Path:
    return write_private_bytes(target, patient_file_bytes(report, "png"), record=record)


def write_patient_pdf(report: PatientReport, target: Path, *, record=None) -> Path:
    return write_private_bytes(target, patient_file_bytes(report, "pdf"), record=record)



def _change(row, tag: str) -> str:
    if pd.isna(row[f"delta_{tag}"]):
        return "-"
    rate = "" if pd.isna(row[f"pct_year_{tag}"]) else f" {row[f'pct_year_{tag}']:+.1f}%/y"
    mark = " *" if row[f"significant_{tag}"] else ""
    from monitor.rules.trends import format_delta

    return f"{format_delta(row[f'delta_{tag}'], row['lsc_g_cm2'])} {row[f'pct_{tag}']:+.1f}%{rate}{mark}"


def detail_lines(report: PatientReport) -> list[str]:
    """Everything behind the chart, as text lines."""
    lines: list[str] = []
    s = report.schedule
    lines.append("DXA SURVEILLANCE")
    if s is None:
        lines.append(f"  not evaluated: the patient is {report.patient['status']} (only active patients are due)")
    else:
        overdue = f", {s['days_overdue']} days past due" if s["days_overdue"] else ""
        lines.append(f"  {s['status'].replace('_', ' ')}: next scan due {_d(s['due_date'])}{overdue}; "
                     f"interval {s['interval_months']} months")
        lines += wrap(f"why: {s['due_reason']}", "  ")
        if s["risk_reasons"]:
            lines += wrap(f"risk factors: {s['risk_reasons']}", "  ")
    lines.append("")

    lines.append("DXA SCANS AND CHANGES  (change vs previous | vs baseline of the same scanner make; * = at least the LSC)")
    trend = report.trend
    if not len(trend):
        lines.append("  no DXA recorded")
    else:
        lines.append(f"  {'date':10} {'make':9} {'site':19} {'BMD':>6} {'T':>5} {'Z':>5}  {'vs previous':24} {'vs baseline':24}")
        order = {"total_hip": 0, "femoral_neck": 1, "lumbar_spine": 2}
        trend = trend.assign(_o=trend["site"].map(order)).sort_values(["scan_date", "_o", "side"])
        for _, r in trend.iterrows():
            site = f"{r['side']} {SITE_LABEL[r['site']]}".strip()
            t = "" if pd.isna(r["t_score"]) else f"{r['t_score']:+.1f}"
            z = "" if pd.isna(r["z_score"]) else f"{r['z_score']:+.1f}"
            lines.append(f"  {_d(r['scan_date']):10} {r['scanner'][:9]:9} {site:19} {r['bmd_g_cm2']:6.3f} {t:>5} {z:>5}  "
                         f"{_change(r, 'prev'):24} {_change(r, 'base'):24}")
    lines.append("")

    flags = report.flags
    lines.append(f"FLAGS ({len(flags)})" if len(flags) else "FLAGS: none")
    for _, f in flags.iterrows():
        lines.append(f"  [{f['severity'].upper()}] {f['code']}: {f['title']}")
        lines += wrap(f"evidence: {f['evidence']}", "      ")
        lines += wrap(f"action: {f['action']}  [sources: {f['sources']}]", "      ")
    lines.append("")

    h = report.history
    lines.append("HISTORY")
    for _, e in h.episodes.sort_values("onset_date").iterrows():
        flags_ = [n for n, v in (("pregnancy-associated", e["pregnancy_associated"]), ("fracture", e["fracture"]))
                  if pd.notna(v) and bool(v)]
        lines.append(f"  episode  {e['side']} {e['joint']}: onset {_d(e['onset_date'])}, diagnosed "
                     f"{_d(e['diagnosed_on']) or '-'}, resolved {_d(e['resolved_on']) or 'not yet'}"
                     + (f" ({', '.join(flags_)})" if flags_ else ""))
    for _, m in h.mri.sort_values("study_date").iterrows():
        lines.append(f"  MRI      {_d(m['study_date'])} {m['side']} {m['joint']}: reported as {m['reported_as'] or '-'}")
    for _, p in h.pregnancies.iterrows():
        lines.append(f"  pregnancy expected {_d(p['expected_delivery']) or '-'}, delivered {_d(p['delivered_on']) or '-'}")
    for _, t in h.treatments.sort_values("started_on").iterrows():
        lines.append(f"  treatment {t['drug']} {t['dose'] or ''}: {_d(t['started_on'])} to {_d(t['stopped_on']) or 'current'}")
    lines.append("")
    lines += settings_lines(report.config, report.as_of)
    return lines


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
