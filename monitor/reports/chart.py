"""The per-patient BMD chart: both hips over the years, T-scores with WHO bands, the story around.

Built as a `matplotlib.figure.Figure` object on Agg (no pyplot state: the daemon runs jobs in
threads). Greyscale-safe: left and right differ by line style and marker fill, not colour alone.
"""

from __future__ import annotations

import pandas as pd

from monitor.reports.data import PatientReport

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


def time_range(report: PatientReport) -> tuple[pd.Timestamp, pd.Timestamp]:
    h = report.history
    dates = pd.concat([
        _dates(h.scans["scan_date"]), _dates(h.episodes["onset_date"]), _dates(h.mri["study_date"]),
        _dates(h.pregnancies["expected_delivery"]), _dates(h.treatments["started_on"]),
        _dates([report.as_of]),
        _dates([report.schedule["due_date"]]) if report.schedule is not None else _dates([]),
    ])
    lo, hi = dates.min(), dates.max()
    pad = max(pd.Timedelta(days=90), (hi - lo) * 0.04)
    return lo - pad, hi + pad


def patient_figure(report: PatientReport):
    """The chart page: header, BMD panel, T-score panel and timeline, sharing one date axis."""
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    fig = Figure(figsize=A4_LANDSCAPE, dpi=100)
    grid = fig.add_gridspec(3, 1, height_ratios=[3.2, 2.0, 1.6], hspace=0.12, left=0.08, right=0.80, top=0.855,
                            bottom=0.07)
    ax_bmd = fig.add_subplot(grid[0])
    ax_t = fig.add_subplot(grid[1], sharex=ax_bmd)
    ax_tl = fig.add_subplot(grid[2], sharex=ax_bmd)
    _header(fig, report)
    affected = affected_sides(report)
    _bmd_panel(ax_bmd, report, affected)
    _t_panel(ax_t, report, affected)
    _timeline(ax_tl, report)
    lo, hi = time_range(report)
    ax_bmd.set_xlim(lo, hi)
    ax_tl.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=10))
    ax_tl.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax_tl.xaxis.get_major_locator()))
    for ax in (ax_bmd, ax_t):
        ax.tick_params(labelbottom=False)
    for ax in (ax_bmd, ax_t, ax_tl):
        ax.axvline(pd.Timestamp(report.as_of), color="black", linewidth=0.8, linestyle=":", zorder=1)
    ax_bmd.annotate(f"as of {report.as_of.isoformat()}", xy=(pd.Timestamp(report.as_of), 1.0),
                    xycoords=("data", "axes fraction"), xytext=(2, -10), textcoords="offset points", fontsize=7)
    return fig


def _header(fig, report: PatientReport) -> None:
    p = report.patient
    born = pd.Timestamp(p["birth_date"]).date().isoformat()
    name = f"  {p['name']}" if p.get("name") else ""
    fig.text(0.08, 0.955, f"{p['mrn']}{name}", fontsize=14, weight="bold")
    line = f"sex {p['sex']}, born {born}, status {p['status']}"
    if report.schedule is not None:
        s = report.schedule
        due = pd.Timestamp(s["due_date"]).date().isoformat()
        overdue = f", {s['days_overdue']} days past due" if s["days_overdue"] else ""
        line += f"   |   next DXA {due}: {s['status'].replace('_', ' ')}{overdue} (interval {s['interval_months']} months)"
    fig.text(0.08, 0.925, line, fontsize=9)
    urgent = report.flags.loc[report.flags["severity"].isin(("urgent", "warn")), "code"].unique()
    if len(urgent):
        fig.text(0.08, 0.9, "flags: " + ", ".join(sorted(urgent)), fontsize=8, color="#8b0000")


def _series_segments(frame: pd.DataFrame):
    """Rows of one site and side split where the scanner make changes (a break, not a line across)."""
    for _, seg in frame.sort_values("scan_date").groupby("series", sort=True):
        yield seg


def _bmd_panel(ax, report: PatientReport, affected: set[str]) -> None:
    trend = report.trend
    hips = trend.loc[trend["site"].isin(SITE_MARKER)]
    ax.set_ylabel("BMD (g/cm²)")
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    if not len(hips):
        ax.text(0.5, 0.5, "no hip DXA recorded", transform=ax.transAxes, ha="center", va="center", color="grey")
        return
    labelled = set()
    for (site, side), rows in hips.groupby(["site", "side"], sort=True):
        style = SIDE_STYLE.get(side, SIDE_STYLE["left"])
        is_affected = side in affected
        label = f"{side} {SITE_LABEL[site]}" + (" (affected)" if is_affected else "")
        for seg in _series_segments(rows):
            ax.errorbar(seg["scan_date"], seg["bmd_g_cm2"], yerr=seg["lsc_g_cm2"], color=style["color"],
                        linestyle=style["linestyle"], marker=SITE_MARKER[site], mfc=style["mfc"],
                        mec=style["color"], markersize=6 if site == "total_hip" else 5,
                        linewidth=2.4 if is_affected else 1.2, elinewidth=0.8, capsize=3,
                        label=None if label in labelled else label, zorder=3)
            labelled.add(label)
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
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def _scanner_breaks(ax, report: PatientReport) -> None:
    scans = report.trend.drop_duplicates("scan_date").sort_values("scan_date")
    prev = scans["scanner"].shift()
    changes = scans.loc[prev.notna() & (scans["scanner"] != prev)]
    for _, row in changes.iterrows():
        before = prev.loc[row.name]
        ax.axvline(row["scan_date"], color="grey", linewidth=1.0, linestyle=(0, (2, 2)), zorder=2)
        ax.annotate(f"scanner {before} → {row['scanner']}\n(series not compared)", xy=(row["scan_date"], 0.02),
                    xycoords=("data", "axes fraction"), xytext=(3, 0), textcoords="offset points", fontsize=7,
                    color="dimgrey")


def _t_panel(ax, report: PatientReport, affected: set[str]) -> None:
    """T-scores with WHO bands and the thresholds; for a young adult Z-scores (ISCD: T-score
    categories do not apply), and never a drug named while pregnant or breastfeeding (labelling)."""
    from monitor.rules.pregnancy import deferred_ids, pregnancy_state
    from monitor.rules.thresholds import latest_scores
    from monitor.rules.treatment import bone_treatments_on

    history, config = report.history, report.config
    pid = int(report.patient["patient_id"])
    scores = latest_scores(history, config)
    young = bool(scores.loc[scores["patient_id"] == pid, "is_young"].any())
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
        why = ("not in pregnancy/lactation" if deferred else "on treatment" if treated else None)
        for value, style, text in ((th.persistent_osteopenia_t, "--", "consider alendronate [5]"),
                                   (th.therapy_t, "-.", "therapy if risk factors [2]")):
            ax.axhline(value, color="black", linestyle=style, linewidth=0.9, zorder=2)
            label = f"{value:+.1f} threshold [{text[-2]}]: {why}" if why else f"{value:+.1f} {text}"
            ax.text(1.005, value, label, transform=ax.get_yaxis_transform(), fontsize=7, va="center")
        title = "Hip T-score with WHO bands and the clinic's treatment thresholds"
    for (site, side), rows in hips.groupby(["site", "side"], sort=True):
        style = SIDE_STYLE.get(side, SIDE_STYLE["left"])
        for seg in _series_segments(rows):
            ax.plot(seg["scan_date"], seg[score], color=style["color"], linestyle=style["linestyle"],
                    marker=SITE_MARKER[site], mfc=style["mfc"], mec=style["color"], markersize=5,
                    linewidth=2.0 if side in affected else 1.0, zorder=3)
    ax.set_ylim(low, high)
    ax.set_title(title, fontsize=9, loc="left")


def _label(ax, placed: dict, x, row: int, text: str, fontsize: float = 6.5) -> None:
    """A timeline label, alternately above and below its row so neighbours do not overprint."""
    n = placed.get(row, 0)
    placed[row] = n + 1
    ax.text(x, row + (0.26 if n % 2 == 0 else -0.30), text, fontsize=fontsize, va="center")


def _timeline(ax, report: PatientReport) -> None:
    h = report.history
    as_of = pd.Timestamp(report.as_of)
    rows = ["Next DXA", "Treatment", "Pregnancy", "MRI", "Episodes"]
    y = {name: i for i, name in enumerate(rows)}
    placed: dict = {}
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
    for _, e in h.episodes.sort_values("onset_date").iterrows():
        end = e["resolved_on"] if pd.notna(e["resolved_on"]) else as_of
        preg = bool(e["pregnancy_associated"]) if pd.notna(e["pregnancy_associated"]) else False
        ax.barh(y["Episodes"], (end - e["onset_date"]).days, left=e["onset_date"], height=0.5,
                color="#f4b183" if e["joint"] == "hip" else "#c9c9c9", edgecolor="black", linewidth=0.6,
                hatch="xx" if preg else "")
        tag = f"{e['side'][0].upper()} {e['joint']}" + (" (pregn.)" if preg else "")
        if pd.isna(e["resolved_on"]):
            tag += " active"
        if pd.notna(e["fracture"]) and bool(e["fracture"]):
            tag += " FRACTURE"
            ax.plot([e["onset_date"]], [y["Episodes"]], marker="X", color="black", markersize=9)
        _label(ax, placed, e["onset_date"], y["Episodes"], tag, fontsize=7)
    for _, m in h.mri.sort_values("study_date").iterrows():
        ax.plot([m["study_date"]], [y["MRI"]], marker="D", color="black", mfc="white", markersize=5)
        _label(ax, placed, m["study_date"], y["MRI"], f"{m['side'][0].upper()} {m['joint']}: {m['reported_as'] or '?'}")
    months = report.config.thresholds.postpartum_months
    weeks = report.config.thresholds.third_trimester_weeks
    for _, p in h.pregnancies.iterrows():
        delivery = p["delivered_on"] if pd.notna(p["delivered_on"]) else p["expected_delivery"]
        start = (p["expected_delivery"] if pd.notna(p["expected_delivery"]) else delivery) - pd.Timedelta(weeks=weeks)
        end = delivery + pd.DateOffset(months=months)
        ax.barh(y["Pregnancy"], (delivery - start).days, left=start, height=0.45, color="#d9d9d9", edgecolor="black",
                linewidth=0.5)
        ax.barh(y["Pregnancy"], (end - delivery).days, left=delivery, height=0.45, color="white", edgecolor="black",
                linewidth=0.5, hatch="..")
        ax.text(start, y["Pregnancy"] + 0.28, f"3rd trimester | postpartum {months} mo", fontsize=6.5)
    for _, t in h.treatments.sort_values("started_on").iterrows():
        end = t["stopped_on"] if pd.notna(t["stopped_on"]) else as_of
        ax.barh(y["Treatment"], max((end - t["started_on"]).days, 7), left=t["started_on"], height=0.35,
                color="#9dc3e6", edgecolor="black", linewidth=0.5, alpha=0.8)
        _label(ax, placed, t["started_on"], y["Treatment"], str(t["drug"])[:28])
    if report.schedule is not None:
        s = report.schedule
        ax.plot([s["due_date"]], [y["Next DXA"]], marker="v", color="black", markersize=8)
        ax.text(s["due_date"], y["Next DXA"] + 0.25, f"due {pd.Timestamp(s['due_date']).date()} ({s['status'].replace('_', ' ')})",
                fontsize=7, weight="bold" if s["status"] == "overdue" else "normal")
    ax.set_title("Episodes, MRI, pregnancies, treatments and the next DXA", fontsize=9, loc="left")
