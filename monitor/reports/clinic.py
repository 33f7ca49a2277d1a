"""The clinic report: counts by status, the overdue list, urgent and warning flags, cohort views.

Takes a clinic summary (reports.clinic_summary: one evaluation's, or a cohort's added up a chunk
of patients at a time) and a path; never queries. PNG = the overview page; PDF = all pages.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from monitor.config import Config
from monitor.reports.clinic_summary import LOST_DAYS, STATUS_ORDER, ClinicSummary, median_of_counts
from monitor.rules.flag_frames import severity_rank
from monitor.reports.chart import A4_LANDSCAPE
from monitor.reports.pages import Block, flow_figures, heading, paragraph, stamp_pages
from monitor.reports.patient import pdf_bytes, png_bytes, settings_lines
from monitor.formats.files import write_private_bytes
from monitor.reports.words import word

# A printed list longer than this helps nobody: the rest is in `monitor export overdue` / `monitor flags`.
LIST_LIMIT = 500
STATUS_FILL = {"not_due": ("white", ""), "due_soon": ("#e6e6e6", ".."), "due": ("#bdbdbd", "//"),
               "overdue": ("#636363", "xx")}


def reminder_line(summary: ClinicSummary) -> str:
    """Active patients by where staff stand with their reminder: `open 80, booked 3, deferred 1, ...`."""
    if summary.reminders is None:
        return ""
    shown = {k: n for k, n in summary.reminders.items() if n or k in ("open", "booked", "deferred", "declined",
                                                                      "unreachable", "closed")}
    return "Reminders of active patients: " + ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in shown.items())


def clinic_kpis(summary: ClinicSummary) -> dict:
    """The manager's numbers on `as_of`: active patients, overdue (count and % of active), median
    days overdue, patients lost (overdue more than a year), patients with an urgent flag."""
    days = summary.overdue_days
    active, overdue = summary.active, int(days.sum())
    return {
        "active": active,
        "overdue": overdue,
        "overdue_pct": round(100.0 * overdue / active, 1) if active else 0.0,
        "median_days_overdue": int(median_of_counts(days)) if overdue else 0,
        "lost": int(days[days.index > LOST_DAYS].sum()),
        "urgent_patients": summary.urgent_patients,
    }


def kpi_lines(summary: ClinicSummary) -> list[str]:
    k = clinic_kpis(summary)
    return [f"Today: {k['overdue']} of {k['active']} active patients overdue ({k['overdue_pct']:.1f}% of active), "
            f"median {k['median_days_overdue']} days past due",
            f"{k['lost']} lost to follow-up (overdue more than a year); {k['urgent_patients']} with an urgent flag"]


def draw_trend_table(fig, summary: ClinicSummary, trends: pd.DataFrame, *, top: float) -> float:
    """The KPIs with their trend: one row per measure, one column per quarter (the last: today).
    Returns where the table ends (figure fraction)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    from monitor.reports.clinic_trends import trend_rows

    step, label_w, left, right = 0.024, 0.25, 0.06, 0.97
    width = (right - left - label_w) / len(trends)
    x = [left + label_w + width * (k + 1) - 0.006 for k in range(len(trends))]  # numbers align right
    heads = [q if on != summary.as_of else "today" for q, on in zip(trends["quarter"], trends["on"])]
    fig.text(left + 0.004, top, "Each quarter's last day (see page 2)", fontsize=8.5, weight="bold", va="top")
    for at, h in zip(x, heads):
        fig.text(at, top, h, fontsize=8.5, weight="bold", ha="right", va="top")
    fig.add_artist(Line2D([left, right], [top - step * 0.72] * 2, color="black", linewidth=0.6))
    y = top - step
    for n, (label, cells) in enumerate(trend_rows(trends)):
        if n % 2 == 0:
            fig.add_artist(Rectangle((left, y - step * 0.8), right - left, step, facecolor="#eeeeee",
                                     edgecolor="none", zorder=-1))
        fig.text(left + 0.004, y, label, fontsize=8.5, va="top")
        for k, (at, cell) in enumerate(zip(x, cells)):
            fig.text(at, y, cell, fontsize=8.5, ha="right", va="top", weight="bold" if k == len(x) - 1 else "normal")
        y -= step
    return y


def overview_figure(summary: ClinicSummary, trends: pd.DataFrame | None = None):
    """Page 1: today's numbers with their quarterly trend, reminder work (when the summary has
    it), then active patients by status, overdue patients by time past due, and patients per
    urgent or warning flag."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    trends = summary.trends if trends is None else trends
    fig = Figure(figsize=A4_LANDSCAPE, dpi=100)
    fig.text(0.06, 0.95, f"TOH surveillance: clinic report as of {summary.as_of.isoformat()}", fontsize=15,
             weight="bold")
    for n, line in enumerate(kpi_lines(summary)):
        fig.text(0.06, 0.913 - 0.024 * n, line, fontsize=10, weight="bold")
    if summary.reminders is not None:
        fig.text(0.06, 0.862, reminder_line(summary), fontsize=9)
    end = draw_trend_table(fig, summary, trends, top=0.83)
    counts = pd.Series(summary.status).reindex(STATUS_ORDER, fill_value=0)
    grid = fig.add_gridspec(1, 2, wspace=0.3, left=0.1, right=0.53, top=end - 0.05, bottom=0.1)
    flag_grid = fig.add_gridspec(1, 1, left=0.76, right=0.97, top=end - 0.05, bottom=0.1)  # room for the names

    ax = fig.add_subplot(grid[0, 0])
    bars = ax.barh([s.replace("_", " ") for s in STATUS_ORDER], counts.to_numpy(), edgecolor="black")
    for bar, status in zip(bars, STATUS_ORDER):
        bar.set_facecolor(STATUS_FILL[status][0])
        bar.set_hatch(STATUS_FILL[status][1])
    ax.bar_label(bars, padding=3, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(1, int(counts.max())) * 1.18)
    ax.xaxis.set_major_locator(MaxNLocator(4, integer=True))
    ax.set_title("Active patients by DXA status", fontsize=10, loc="left")
    ax.set_xlabel("patients")

    ax = fig.add_subplot(grid[0, 1])
    days = summary.overdue_days
    edges = [31, 91, 182, 365, 730, 1095, np.inf]
    labels = ["1-3 mo", "3-6 mo", "6-12 mo", "1-2 y", "2-3 y", "> 3 y"]
    bins = pd.cut(pd.Series(days.index, dtype=float), bins=edges, labels=labels, right=False)
    binned = pd.Series(days.to_numpy(), dtype="int64").groupby(bins.to_numpy(), observed=False).sum() \
        .reindex(labels, fill_value=0)
    bars = ax.bar(labels, binned.to_numpy(), color="#636363", edgecolor="black")
    ax.bar_label(bars, padding=2, fontsize=8)
    ax.set_ylim(0, max(1, int(binned.max())) * 1.15)
    ax.set_title(f"Overdue patients by time past due ({int(days.sum())})", fontsize=10, loc="left")
    ax.set_ylabel("patients")
    ax.tick_params(axis="x", labelsize=7.5, rotation=30)

    ax = fig.add_subplot(flag_grid[0, 0])
    by_code = summary.flag_patients.sort_values(["severity", "code"], kind="stable")
    by_code = by_code.assign(rank=severity_rank(by_code["severity"])).sort_values(["rank", "n"], kind="stable")
    names = [("▲ " if s == "urgent" else "● ") + word(c) for s, c in zip(by_code["severity"], by_code["code"])]
    bars = ax.barh(names, by_code["n"], edgecolor="black",
                   color=["#636363" if s == "urgent" else "#d9d9d9" for s in by_code["severity"]],
                   hatch=None)
    ax.bar_label(bars, padding=2, fontsize=7)
    ax.set_xlim(0, max(1, int(by_code["n"].max()) if len(by_code) else 1) * 1.18)
    ax.xaxis.set_major_locator(MaxNLocator(4, integer=True))
    ax.set_title("Patients per flag: ▲ urgent, ● warning", fontsize=10, loc="left")
    ax.tick_params(axis="y", labelsize=7)
    if not len(by_code):
        ax.set_yticks([])
        ax.set_xticks([])
        ax.text(0.5, 0.5, "No urgent or warning flag", transform=ax.transAxes, ha="center", fontsize=9)
    return fig


def list_figures(summary: ClinicSummary):
    """The reminder counts (when the summary has them), then the due and overdue list as a table."""
    from monitor.reports.annex import LEADING, SIZE_PT
    from monitor.reports.due_list import due_list_blocks

    blocks = paragraph(reminder_line(summary)) if summary.reminders is not None else []
    blocks += due_list_blocks(summary)
    return flow_figures("Clinic report: due and overdue patients", blocks, size=SIZE_PT, leading=LEADING)


def annex_figures(summary: ClinicSummary, config: Config):
    """The flag annex (urgent and unacknowledged warnings by patient), then the settings used."""
    from monitor.reports.annex import LEADING, SIZE_PT, annex_blocks

    blocks = annex_blocks(summary) + [Block("gap")]
    settings = settings_lines(config, summary.as_of)
    blocks += [heading(settings[0].capitalize())] + [b for line in settings[1:] for b in paragraph(line.strip())]
    return flow_figures("Clinic report: flags to act on, by patient", blocks, size=SIZE_PT, leading=LEADING)


def write_clinic_report(summary: ClinicSummary, target: Path, *, config: Config, fmt: str = "pdf",
                        record=None) -> Path:
    """The report of `summary` (reports.clinic_summary.summarise: with the reminder states, the
    report shows them as counts and in the due list; without, it has no reminder section)."""
    from monitor.reports.clinic_trends import trends_figure

    trends = summary.trends
    overview = overview_figure(summary, trends)
    footer = f"toh-monitor clinic report | as of {summary.as_of.isoformat()} | confidential patient data"
    if fmt == "png":
        overview.text(0.05, 0.02, footer, fontsize=7, color="dimgrey")
        write_private_bytes(target, png_bytes(overview), record=record)
        return target
    figures = [overview, trends_figure(summary, trends)] + list_figures(summary)
    figures += annex_figures(summary, config)
    stamp_pages(figures, footer)
    write_private_bytes(target, pdf_bytes(figures, f"TOH clinic report {summary.as_of.isoformat()}"), record=record)
    return target
