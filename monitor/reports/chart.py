"""The per-patient BMD chart: both hips over the years, T-scores with WHO bands, the story around.

Built as a `matplotlib.figure.Figure` object on Agg (no pyplot state: the daemon runs jobs in
threads). Greyscale-safe: left and right differ by line style and marker fill, not colour alone.
"""

from __future__ import annotations

import pandas as pd

from monitor.reports.data import PatientReport
from monitor.reports.words import word

SIDE_STYLE = {"left": dict(color="#1f4e79", linestyle="-", mfc="#1f4e79"),
              "right": dict(color="#b34700", linestyle="--", mfc="white")}
SITE_MARKER = {"total_hip": "o", "femoral_neck": "s"}
SITE_LABEL = {"total_hip": "total hip", "femoral_neck": "femoral neck", "lumbar_spine": "lumbar spine"}
WHO_BANDS = ((-1.0, 5.0, "normal", "white", ""), (-2.5, -1.0, "osteopenia", "#e6e6e6", ""),
             (-7.0, -2.5, "osteoporosis", "#bdbdbd", "//"))
A4_LANDSCAPE = (11.69, 8.27)


def _dates(values) -> pd.Series:
    return pd.to_datetime(pd.Series(values)).dropna()


def affected_sides(report: PatientReport) -> set[str]:
    ep = report.history.episodes
    return set(ep.loc[ep["joint"] == "hip", "side"])


def affected_from(report: PatientReport) -> dict[str, pd.Timestamp]:
    """Per hip side with an episode, its first onset: scans from that day on are of an affected hip."""
    ep = report.history.episodes
    hips = ep.loc[ep["joint"] == "hip"]
    return {str(side): day for side, day in hips.groupby("side")["onset_date"].min().items()}


def time_range(report: PatientReport) -> tuple[pd.Timestamp, pd.Timestamp]:
    h = report.history
    dates = pd.concat([
        _dates(h.scans["scan_date"]), _dates(h.episodes["onset_date"]), _dates(h.mri["study_date"]),
        _dates(h.pregnancies["expected_delivery"]), _dates(h.treatments["started_on"]),
        _dates(h.pregnancies["expected_delivery"] - pd.Timedelta(weeks=40)), _dates(h.symptoms["reported_on"]),
        _dates([report.as_of]),
        _dates([report.schedule["due_date"]]) if report.schedule is not None else _dates([]),
    ])
    lo, hi = dates.min(), dates.max()
    pad = max(pd.Timedelta(days=90), (hi - lo) * 0.04)
    return lo - pad, hi + pad


def age_on(birth, on) -> int:
    """Whole years of age on a day (a birthday counts on the day itself)."""
    b, d = pd.Timestamp(birth), pd.Timestamp(on)
    return d.year - b.year - int((d.month, d.day) < (b.month, b.day))


def flag_lines(report: PatientReport, width: int = 150, limit: int = 3) -> list[str]:
    """Urgent, then warning flags as plain-language titles after a shape and a word (greyscale-safe)."""
    import textwrap

    from monitor.reports.words import SEVERITY_MARK

    lines = []
    for severity in ("urgent", "warn"):
        titles = report.flags.loc[report.flags["severity"] == severity, "title"].drop_duplicates().tolist()
        if titles:
            lines += textwrap.wrap(f"{SEVERITY_MARK[severity]}: " + "; ".join(titles), width=width,
                                   subsequent_indent="      ")
    if len(lines) > limit:
        lines = lines[:limit - 1] + [lines[limit - 1][: width - 30] + " ... (all flags on page 2)"]
    return lines


def year_ticks(ax, lo: pd.Timestamp, hi: pd.Timestamp, as_of) -> None:
    """Major ticks on 1 January labelled with the year, always including the current year, minor ticks
    by quarter; the as-of day itself is marked by the dotted line."""
    import matplotlib.dates as mdates
    from matplotlib.ticker import FixedLocator

    span = max(1, hi.year - lo.year)
    step = 1 if span <= 10 else 2 if span <= 20 else 5
    years = [y for y in range(as_of.year - 40 * step, hi.year + 1, step) if lo <= pd.Timestamp(y, 1, 1) <= hi]
    where = [pd.Timestamp(y, 1, 1) for y in years]
    if pd.Timestamp(as_of.year, 1, 1) < lo:  # a range starting inside the current year: label it at the left
        years, where = [as_of.year] + years, [lo] + where  # and each later year (the next DXA's) as usual
    ax.xaxis.set_major_locator(FixedLocator([mdates.date2num(w) for w in where]))
    ax.xaxis.set_major_formatter(lambda x, pos: str(years[pos]) if pos is not None and pos < len(years) else "")
    ax.xaxis.set_minor_locator(mdates.MonthLocator(bymonth=(1, 4, 7, 10)))
    ax.tick_params(axis="x", which="major", labelsize=8, length=5)


def patient_figure(report: PatientReport, *, footer: str | None = None):
    """The chart page: header, BMD panel, T- or Z-score panel and the timeline in lanes, sharing one
    date axis. `footer`: the page's footer line (patient, date, confidential, page k of N)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from monitor.reports.timeline import draw_timeline, row_count, timeline_items

    fig = Figure(figsize=A4_LANDSCAPE, dpi=100)
    FigureCanvasAgg(fig)
    lo, hi = time_range(report)
    min_days = (hi - lo).days * 0.012
    rows = row_count(timeline_items(report), min_days=min_days)
    flags = flag_lines(report)
    top = 0.885 - 0.02 * len(flags)
    timeline_in = max(1.3, 0.19 * rows + 0.15)
    grid_in = (top - 0.07) * A4_LANDSCAPE[1] - 0.9  # minus the gaps and titles between panels
    rest = max(grid_in - timeline_in, 2.6)
    grid = fig.add_gridspec(3, 1, height_ratios=[rest * 0.6, rest * 0.4, timeline_in], hspace=0.16, left=0.08,
                            right=0.80, top=top, bottom=0.07)
    ax_bmd = fig.add_subplot(grid[0])
    ax_t = fig.add_subplot(grid[1], sharex=ax_bmd)
    ax_tl = fig.add_subplot(grid[2], sharex=ax_bmd)
    _header(fig, report, flags)
    _bmd_panel(ax_bmd, report)
    _t_panel(ax_t, report, affected_sides(report))
    ax_bmd.set_xlim(lo, hi)
    year_ticks(ax_tl, lo, hi, report.as_of)
    for ax in (ax_bmd, ax_t):
        ax.tick_params(labelbottom=False)
    for ax in (ax_bmd, ax_t, ax_tl):
        ax.axvline(pd.Timestamp(report.as_of), color="black", linewidth=0.8, linestyle=":", zorder=1)
    ax_bmd.annotate(f"today {report.as_of.isoformat()}", xy=(pd.Timestamp(report.as_of), 1.0),
                    xycoords=("data", "axes fraction"), xytext=(-2, -10), textcoords="offset points", fontsize=7,
                    ha="right")
    draw_timeline(ax_tl, report, fig.canvas.get_renderer(), min_days=min_days)
    if footer:
        fig.text(0.08, 0.015, footer, fontsize=7, color="dimgrey")
    return fig


def _header(fig, report: PatientReport, flags: list[str]) -> None:
    p = report.patient
    born = pd.Timestamp(p["birth_date"]).date().isoformat()
    name = f"  {p['name']}" if p.get("name") else ""
    fig.text(0.08, 0.955, f"{p['mrn']}{name}", fontsize=14, weight="bold")
    line = (f"age {age_on(p['birth_date'], report.as_of)}, sex {p['sex']}, born {born}, "
            f"status {str(p['status']).replace('_', ' ')}")
    if report.schedule is not None:
        s = report.schedule
        due = pd.Timestamp(s["due_date"]).date().isoformat()
        overdue = f", {s['days_overdue']} days past due" if s["days_overdue"] else ""
        line += f"   |   next DXA {due}: {s['status'].replace('_', ' ')}{overdue} (interval {s['interval_months']} months)"
    fig.text(0.08, 0.925, line, fontsize=9)
    for n, text in enumerate(flags):
        fig.text(0.08, 0.9 - 0.02 * n, text, fontsize=8, weight="bold" if text.startswith("▲") else "normal")


def _series_segments(frame: pd.DataFrame):
    """Rows of one site and side split where the scanner make changes (a break, not a line across)."""
    for _, seg in frame.sort_values("scan_date").groupby("series", sort=True):
        yield seg


def _bmd_panel(ax, report: PatientReport) -> None:
    """Hip BMD per site and side; a side is drawn thick and called affected only from its episode's onset."""
    trend = report.trend
    hips = trend.loc[trend["site"].isin(SITE_MARKER)]
    ax.set_ylabel("BMD (g/cm²)")
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    if not len(hips):
        empty = "baseline DXA never done" if not len(trend) else "no hip measurement in the DXA scans recorded"
        ax.text(0.5, 0.5, empty, transform=ax.transAxes, ha="center", va="center", fontsize=10)
        ax.set_title("Hip BMD", fontsize=9, loc="left")
        return
    onsets = affected_from(report)
    labelled = set()
    for (site, side), rows in hips.groupby(["site", "side"], sort=True):
        style = SIDE_STYLE.get(side, SIDE_STYLE["left"])
        onset = onsets.get(side)
        after = rows["scan_date"] >= onset if onset is not None else pd.Series(False, index=rows.index)
        all_after = bool(after.all())
        name = f"{side} {SITE_LABEL[site]}"
        label = name + (" (affected)" if all_after else "")
        for seg in _series_segments(rows):
            ax.errorbar(seg["scan_date"], seg["bmd_g_cm2"], yerr=seg["lsc_g_cm2"], color=style["color"],
                        linestyle=style["linestyle"], marker=SITE_MARKER[site], mfc=style["mfc"],
                        mec=style["color"], markersize=6 if site == "total_hip" else 5,
                        linewidth=2.4 if all_after else 1.2, elinewidth=0.8, capsize=3,
                        label=None if label in labelled else label, zorder=3)
            labelled.add(label)
            # Scans before the side's episode are of a then-unaffected hip: only the later part is thick.
            late = seg.loc[seg["scan_date"] >= onset] if onset is not None and not all_after else seg.iloc[0:0]
            if len(late) > 1:
                thick = f"{name} (affected)"
                ax.plot(late["scan_date"], late["bmd_g_cm2"], color=style["color"], linestyle=style["linestyle"],
                        linewidth=2.4, label=None if thick in labelled else thick, zorder=3)
                labelled.add(thick)
        sig = rows.loc[rows["significant_prev"]]
        if len(sig):
            ax.scatter(sig["scan_date"], sig["bmd_g_cm2"], s=190, facecolors="none", edgecolors="black",
                       linewidths=1.2, zorder=4,
                       label=None if "sig" in labelled else "change ≥ LSC vs previous scan")
            labelled.add("sig")
    _scanner_breaks(ax, report)
    lsc_note = ", ".join(f"{SITE_LABEL[s]} {report.config.trend.lsc(s)[0]:.3f}" for s in SITE_MARKER)
    measured = any(report.config.trend.lsc(s)[1] for s in SITE_MARKER)
    ax.set_title(f"Hip BMD, error bars = LSC ({lsc_note} g/cm²; {'measured here' if measured else 'default, not measured here'})",
                 fontsize=9, loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5, frameon=False, borderaxespad=0)


def _scanner_breaks(ax, report: PatientReport) -> None:
    scans = report.trend.drop_duplicates("scan_date").sort_values("scan_date")
    prev = scans["scanner"].shift()
    changes = scans.loc[prev.notna() & (scans["scanner"] != prev)]
    for _, row in changes.iterrows():
        before = prev.loc[row.name]
        ax.axvline(row["scan_date"], color="grey", linewidth=1.0, linestyle=(0, (2, 2)), zorder=2)
        ax.annotate(f"scanner {word(before)} → {word(row['scanner'])}\n(series not compared)", xy=(row["scan_date"], 0.02),
                    xycoords=("data", "axes fraction"), xytext=(3, 0), textcoords="offset points", fontsize=7,
                    color="dimgrey")


def uses_z_scores(report: PatientReport) -> bool:
    """A young adult (ISCD): Z-scores, not T-score categories. Decided at the latest scan, or today
    when there is none."""
    from monitor.rules.thresholds import is_young_adult, latest_scores

    pid = int(report.patient["patient_id"])
    scores = latest_scores(report.history, report.config)
    mine = scores.loc[scores["patient_id"] == pid, "is_young"]
    if len(mine):
        return bool(mine.any())
    p = report.patient
    return bool(is_young_adult(pd.Series([p["sex"]]), pd.Series([p["postmenopausal"]]),
                               pd.Series([age_on(p["birth_date"], report.as_of)]), settings=report.config.thresholds).iloc[0])


def _t_panel(ax, report: PatientReport, affected: set[str]) -> None:
    """T-scores with WHO bands and the thresholds; for a young adult Z-scores (ISCD: T-score
    categories do not apply), and never a drug named while pregnant or breastfeeding (labelling)."""
    from monitor.rules.pregnancy import deferred_ids, pregnancy_state
    from monitor.rules.treatment import bone_treatments_on

    history, config = report.history, report.config
    pid = int(report.patient["patient_id"])
    young = uses_z_scores(report)
    deferred = pid in set(deferred_ids(pregnancy_state(history, as_of=report.as_of, settings=config.thresholds)))
    treated = pid in set(bone_treatments_on(history, as_of=report.as_of, settings=config.treatment)["patient_id"])
    score = "z_score" if young else "t_score"
    trend = report.trend
    hips = trend.loc[trend["site"].isin(SITE_MARKER) & trend[score].notna()]
    ax.set_ylabel("Z-score" if young else "T-score")
    low = min(-3.0, float(hips[score].min()) - 0.3) if len(hips) else -3.0
    high = max(1.0, float(hips[score].max()) + 0.3) if len(hips) else 1.0
    th = config.thresholds
    if young:
        ax.axhline(th.low_for_age_z, color="black", linestyle="--", linewidth=0.9, zorder=2)
        ax.text(1.005, th.low_for_age_z, f"{th.low_for_age_z:+.1f} below expected for age (ISCD)",
                transform=ax.get_yaxis_transform(), fontsize=7, va="center")
        title = "Hip Z-score: a young adult, so T-score categories and thresholds do not apply (ISCD)"
    else:
        for lo_, hi_, name, colour, hatch in WHO_BANDS:
            bottom, top = max(lo_, low), min(hi_, high)
            ax.axhspan(bottom, top, facecolor=colour, hatch=hatch, edgecolor="#9e9e9e", linewidth=0, zorder=0)
            # The band's name sits inside, at its lower edge; the thresholds are named in the margin.
            ax.text(0.995, bottom + 0.05, name, transform=ax.get_yaxis_transform(), fontsize=7, ha="right",
                    va="bottom", color="dimgrey", zorder=1)
        title = "Hip T-score with WHO bands and the clinic's treatment thresholds"
        if deferred:  # no drug threshold is drawn while pregnant or breastfeeding (drug labelling)
            title = "Hip T-score with WHO bands (pregnant or breastfeeding now: no treatment thresholds shown)"
        for value, style, text in (() if deferred else (
                (th.persistent_osteopenia_t, "--", "consider alendronate [5]"),
                (th.therapy_t, "-.", "therapy if risk factors [2]"))):
            ax.axhline(value, color="black", linestyle=style, linewidth=0.9, zorder=2)
            label = f"{value:+.1f} threshold [{text[-2]}]: on treatment" if treated else f"{value:+.1f} {text}"
            ax.text(1.005, value, label, transform=ax.get_yaxis_transform(), fontsize=7, va="center")
    if not len(hips):
        ax.text(0.5, 0.5, "baseline DXA never done" if not len(trend) else f"no hip {score[0].upper()}-score recorded",
                transform=ax.transAxes, ha="center", va="center", fontsize=10)
    for (site, side), rows in hips.groupby(["site", "side"], sort=True):
        style = SIDE_STYLE.get(side, SIDE_STYLE["left"])
        for seg in _series_segments(rows):
            ax.plot(seg["scan_date"], seg[score], color=style["color"], linestyle=style["linestyle"],
                    marker=SITE_MARKER[site], mfc=style["mfc"], mec=style["color"], markersize=5,
                    linewidth=2.0 if side in affected else 1.0, zorder=3)
    ax.set_ylim(low, high)
    ax.set_title(title, fontsize=9, loc="left")
