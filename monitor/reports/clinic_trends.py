"""The clinic report's quarterly trends: baseline DXA within 12 weeks of diagnosis (the IOF
capture-the-fracture style measure), DXA scans done, and - replaying the schedule at each quarter
end from what was recorded by then - the share of active patients overdue, median days past due,
patients lost, and the days from a due date to the scan that followed. Pure: data in, frames and
figures out; never queries, never reads a clock.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from monitor.reports.clinic_summary import LOST_DAYS, median_of_counts

CAPTURE_WEEKS = 12
QUARTERS = 8
METHOD = ("Each quarter's overdue figures replay the schedule on the quarter's last day (the current "
          "quarter: today) from the records dated by then, for today's active patients enrolled by then "
          "(a patient discharged since is not counted in earlier quarters either); due-to-scan "
          "is the days from the due date each patient had at the end of the quarter before to their first "
          "hip DXA in the quarter (0 if scanned before it was due; scans earlier than the due-soon window "
          "are not counted).")


def baseline_capture(cohort, *, as_of: date, weeks: int = CAPTURE_WEEKS) -> pd.DataFrame:
    """Per patient whose first episode's window has closed on `as_of`: the quarter of diagnosis and
    whether a DXA was done from onset to `weeks` after diagnosis (diagnosis = diagnosed_on, else onset)."""
    ep = cohort.episodes
    cols = ["patient_id", "quarter", "captured"]
    if not len(ep):
        return pd.DataFrame(columns=cols)
    ep = ep.assign(dx=ep["diagnosed_on"].fillna(ep["onset_date"])).sort_values(["patient_id", "dx"])
    first = ep.drop_duplicates("patient_id")[["patient_id", "onset_date", "dx"]]
    first = first.loc[first["dx"] + pd.Timedelta(weeks=weeks) <= pd.Timestamp(as_of)]
    scans = cohort.scans[["patient_id", "scan_date"]].drop_duplicates()
    both = first.merge(scans, on="patient_id", how="left")
    inside = (both["scan_date"] >= both["onset_date"]) & (both["scan_date"] <= both["dx"] + pd.Timedelta(weeks=weeks))
    captured = inside.groupby(both["patient_id"]).any()
    out = first.assign(quarter=first["dx"].dt.to_period("Q").astype(str),
                       captured=first["patient_id"].map(captured).fillna(False).astype(bool))
    return out[cols].reset_index(drop=True)


def quarters_until(as_of: date, n: int = QUARTERS) -> list[str]:
    last = pd.Period(pd.Timestamp(as_of), freq="Q")
    return [str(last - k) for k in range(n - 1, -1, -1)]


def quarter_days(as_of: date, n: int = QUARTERS) -> list[date]:
    """The last day of each of the `n` quarters ending with `as_of`'s (that one: `as_of` itself),
    preceded by the last day of the quarter before them (the due dates the first quarter starts with)."""
    last = pd.Period(pd.Timestamp(as_of), freq="Q")
    days = [(last - k).end_time.date() for k in range(n, 0, -1)]
    return days + [as_of]


def replay_schedules(cohort, *, as_of: date, config, current=None, n: int = QUARTERS) -> dict[date, pd.DataFrame]:
    """The schedule on each day of `quarter_days`, from the history known on that day, limited to
    the patients in the clinic by then (`in_clinic_since`; with no date at all, counted). Patients
    are today's active ones: the cohort records no status history. `current`: the schedule on
    `as_of` when the caller has it already (used as is, so the last column is today's numbers)."""
    from monitor.rules.schedule import risk_factor_table, schedule

    since = in_clinic_since(cohort)
    out = {}
    for day in quarter_days(as_of, n):
        if day == as_of and current is not None:  # today's column is today's numbers, as on the page
            out[day] = current
            continue
        known = cohort.known_on(day)
        risks = risk_factor_table(known, alcohol_drinks_day=config.prevention.alcohol_drinks_day)
        sched = schedule(known, as_of=day, settings=config.schedule, risks=risks, pregnancy=config.thresholds)
        joined = since.reindex(sched["patient_id"]).to_numpy()
        out[day] = sched.loc[~(joined > pd.Timestamp(day).to_datetime64())].reset_index(drop=True)  # NaT: counted
    return out


def in_clinic_since(cohort) -> pd.Series:
    """Per patient id, the day they joined the clinic: enrolment, else their first episode or scan."""
    first = pd.concat([cohort.episodes.groupby("patient_id")["onset_date"].min(),
                       cohort.scans.groupby("patient_id")["scan_date"].min()], axis=1).min(axis=1)
    enrolled = cohort.patients.set_index("patient_id")["enrolled_on"]
    return enrolled.fillna(first.reindex(enrolled.index)).astype("datetime64[us]")


def overdue_counts(schedules: dict[date, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per quarter, on its last day (the current one: `as_of`): active patients, overdue, lost
    (overdue more than a year); and the overdue patients' days past due (quarter, measure
    `overdue`, days, n: how many)."""
    rows, days = [], []
    for day in list(schedules)[1:]:
        s = schedules[day]
        late = s.loc[s["status"] == "overdue", "days_overdue"].astype(float)
        quarter = str(pd.Period(pd.Timestamp(day), freq="Q"))
        rows.append({"quarter": quarter, "on": day, "active": len(s), "overdue": len(late),
                     "lost": int((late > LOST_DAYS).sum())})
        days.append(_counted(quarter, "overdue", late))
    return pd.DataFrame(rows, columns=["quarter", "on", "active", "overdue", "lost"]), _days(days)


def wait_counts(cohort, schedules: dict[date, pd.DataFrame], *, due_soon_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per quarter: the hip DXA scans that answered a due date (`answered`), and the days from that
    due date (as it stood at the end of the quarter before) to the scan (quarter, measure `wait`,
    days, n); 0 for a scan in the due-soon window, before the date."""
    from monitor.rules.schedule import HIP_SITES

    scans = cohort.scans.loc[cohort.scans["site"].isin(HIP_SITES), ["patient_id", "scan_date"]].drop_duplicates()
    days = list(schedules)
    rows, waits = [], []
    for start, end in zip(days, days[1:]):
        before = schedules[start][["patient_id", "due_date"]]
        inside = scans.loc[(scans["scan_date"] > pd.Timestamp(start)) & (scans["scan_date"] <= pd.Timestamp(end))]
        first = inside.groupby("patient_id", sort=False)["scan_date"].min().reset_index()
        both = before.merge(first, on="patient_id")
        both = both.loc[both["scan_date"] >= both["due_date"] - pd.Timedelta(days=due_soon_days)]
        waited = (both["scan_date"] - both["due_date"]).dt.days.clip(lower=0)
        quarter = str(pd.Period(pd.Timestamp(end), freq="Q"))
        rows.append({"quarter": quarter, "answered": len(waited)})
        waits.append(_counted(quarter, "wait", waited))
    return pd.DataFrame(rows, columns=["quarter", "answered"]), _days(waits)


DAY_COLUMNS = ["quarter", "measure", "days", "n"]


def _counted(quarter: str, measure: str, values: pd.Series) -> pd.DataFrame:
    counts = values.astype(float).value_counts().sort_index()
    return pd.DataFrame({"quarter": quarter, "measure": measure, "days": counts.index.to_numpy(dtype=float),
                         "n": counts.to_numpy(dtype="int64")}, columns=DAY_COLUMNS)


def _days(parts: list[pd.DataFrame]) -> pd.DataFrame:
    full = [p for p in parts if len(p)]
    if not full:
        return pd.DataFrame({"quarter": pd.Series(dtype=object), "measure": pd.Series(dtype=object),
                             "days": pd.Series(dtype=float), "n": pd.Series(dtype="int64")})
    return pd.concat(full, ignore_index=True)


def medians(days: pd.DataFrame, measure: str) -> pd.Series:
    """Per quarter, the median of the days counted for `measure` (summary.median_of_counts)."""
    picked = days.loc[days["measure"] == measure]
    return pd.Series({q: median_of_counts(g.set_index("days")["n"]) for q, g in picked.groupby("quarter")},
                     dtype=float)


def overdue_by_quarter(schedules: dict[date, pd.DataFrame], *, as_of: date) -> pd.DataFrame:
    """Per quarter, on its last day (the current one: `as_of`): active patients, overdue (number
    and % of active), median days past due of the overdue, lost (overdue more than a year)."""
    rows, days = overdue_counts(schedules)
    return _overdue_measures(rows, days)


def _overdue_measures(rows: pd.DataFrame, days: pd.DataFrame) -> pd.DataFrame:
    pct = [round(100.0 * o / a, 1) if a else np.nan for o, a in zip(rows["overdue"], rows["active"])]  # as the KPI
    median = rows["quarter"].map(medians(days, "overdue")).astype(float)
    return rows.assign(pct=pct, median_days=median)[["quarter", "on", "active", "overdue", "pct", "median_days",
                                                      "lost"]]


def due_to_scan_by_quarter(cohort, schedules: dict[date, pd.DataFrame], *, due_soon_days: int) -> pd.DataFrame:
    """Per quarter: the hip DXA scans that answered a due date, and the median days from that due
    date (as it stood at the end of the quarter before) to the scan; 0 for a scan in the due-soon
    window, before the date."""
    rows, days = wait_counts(cohort, schedules, due_soon_days=due_soon_days)
    return pd.DataFrame({"quarter": rows["quarter"], "scans": rows["answered"],
                         "median_days": rows["quarter"].map(medians(days, "wait")).astype(float)})


def scans_by_quarter(cohort, *, as_of: date) -> pd.DataFrame:
    """DXA scan visits (patient and date) per quarter, the current one so far."""
    scans = cohort.known_on(as_of).scans.drop_duplicates(["patient_id", "scan_date"])
    quarters = quarters_until(as_of)
    counts = scans["scan_date"].dt.to_period("Q").astype(str).value_counts().reindex(quarters, fill_value=0)
    return pd.DataFrame({"quarter": quarters, "scans": counts.astype(int).to_numpy()})


def quarter_counts(evaluation, config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The quarterly measures' counts (one row per quarter, the last eight: active, overdue, lost,
    answered, diagnosed, captured, scans) and the days behind their medians, which add up over
    chunks of patients (reports.clinic_summary)."""
    history = evaluation.cohort.known_on(evaluation.as_of)
    schedules = replay_schedules(history, as_of=evaluation.as_of, config=config, current=evaluation.schedule)
    over, late = overdue_counts(schedules)
    answered, waits = wait_counts(history, schedules, due_soon_days=config.schedule.due_soon_days)
    cap = capture_by_quarter(history, as_of=evaluation.as_of)[["quarter", "patients", "captured"]]
    out = over.merge(answered, on="quarter").merge(cap.rename(columns={"patients": "diagnosed"}), on="quarter")
    out = out.merge(scans_by_quarter(history, as_of=evaluation.as_of), on="quarter")
    days = _days([late, waits]).sort_values(["quarter", "measure", "days"], kind="stable").reset_index(drop=True)
    return out, days


def trends_table(quarters: pd.DataFrame, days: pd.DataFrame) -> pd.DataFrame:
    """Every quarterly measure of the clinic report, one row per quarter, from `quarter_counts`."""
    q = quarters.sort_values("quarter", kind="stable").reset_index(drop=True)
    out = _overdue_measures(q[["quarter", "on", "active", "overdue", "lost"]], days)
    out = out.assign(answered=q["answered"].to_numpy(),
                     due_to_scan_days=q["quarter"].map(medians(days, "wait")).astype(float).to_numpy(),
                     diagnosed=q["diagnosed"].to_numpy(), captured=q["captured"].to_numpy())
    pct = (100.0 * out["captured"] / out["diagnosed"].where(out["diagnosed"] > 0)).round(0)
    return out.assign(captured_pct=pct, scans=q["scans"].to_numpy())


def quarterly_trends(evaluation, config) -> pd.DataFrame:
    """Every quarterly measure of the clinic report, one row per quarter (the last eight)."""
    return trends_table(*quarter_counts(evaluation, config))


def capture_by_quarter(cohort, *, as_of: date) -> pd.DataFrame:
    """Per quarter of diagnosis (the last eight): patients, captured, percent."""
    per = baseline_capture(cohort, as_of=as_of)
    quarters = quarters_until(as_of)
    grouped = per.groupby("quarter")["captured"].agg(["size", "sum"]).reindex(quarters, fill_value=0)
    pct = (100.0 * grouped["sum"] / grouped["size"].where(grouped["size"] > 0)).round(0)
    return pd.DataFrame({"quarter": quarters, "patients": grouped["size"].astype(int).to_numpy(),
                         "captured": grouped["sum"].astype(int).to_numpy(), "pct": pct.to_numpy()})


def _n(value, fmt: str = "{:.0f}") -> str:
    return "-" if value is None or pd.isna(value) else fmt.format(value)


def trend_rows(trends: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """The page-1 table: each measure's label and its value per quarter, as printed (the counts
    behind the percentages and medians are on page 2)."""
    t = trends
    return [
        ("Active patients", [_n(v, "{:,.0f}") for v in t["active"]]),
        ("Overdue patients", [_n(v, "{:,.0f}") for v in t["overdue"]]),
        ("Overdue: % of active", [_n(v, "{:.1f}%") for v in t["pct"]]),
        ("Median days past due (overdue patients)", [_n(v) for v in t["median_days"]]),
        ("Lost to follow-up (overdue > 1 year)", [_n(v, "{:,.0f}") for v in t["lost"]]),
        ("Median days from due date to scan", [_n(d) if a else "-" for d, a in zip(t["due_to_scan_days"], t["answered"])]),
        (f"Baseline DXA within {CAPTURE_WEEKS} weeks of diagnosis", [_n(p, "{:.0f}%") if d else "-" for p, d in
                                                             zip(t["captured_pct"], t["diagnosed"])]),
        ("DXA scan visits", [_n(v, "{:,.0f}") for v in t["scans"]]),
    ]


def trends_figure(summary, trends: pd.DataFrame):
    """Page 2 of the clinic report: the quarterly trends as bars, each labelled with its numbers."""
    from matplotlib.figure import Figure

    from monitor.reports.pages import A4_LANDSCAPE

    t = trends
    quarters = [q if on != summary.as_of else f"{q} so far" for q, on in zip(t["quarter"], t["on"])]
    fig = Figure(figsize=A4_LANDSCAPE, dpi=100)
    fig.text(0.06, 0.95, "Trends per quarter", fontsize=14, weight="bold")
    grid = fig.add_gridspec(2, 2, hspace=0.55, wspace=0.22, left=0.07, right=0.97, top=0.86, bottom=0.2)

    def bars(cell, values, labels, title, ylabel, *, color="#d9d9d9", hatch=None, top=None):
        ax = fig.add_subplot(cell)
        drawn = ax.bar(quarters, np.nan_to_num(np.asarray(values, dtype=float)), color=color, edgecolor="black",
                       hatch=hatch)
        ax.bar_label(drawn, labels=labels, padding=2, fontsize=7.5)
        ax.set_ylim(0, top or max(1.0, float(np.nanmax(np.asarray(values, dtype=float), initial=0))) * 1.25)
        ax.set_title(title, fontsize=9.5, loc="left")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7.5)
        ax.tick_params(axis="x", rotation=30)
        return ax

    bars(grid[0, 0], t["pct"], [f"{_n(p, '{:.1f}')}%\n{o:,}" for p, o in zip(t["pct"], t["overdue"])],
         "Active patients overdue at the quarter's end (% and patients)", "% of active", color="#636363")
    bars(grid[0, 1], t["due_to_scan_days"], [f"{_n(d)} d\n{a:,} scans" if a else "none" for d, a in
                                              zip(t["due_to_scan_days"], t["answered"])],
         "Median days from due date to the scan that followed", "days", hatch="..")
    bars(grid[1, 0], t["captured_pct"], [f"{c:,} of {d:,}" if d else "none yet" for c, d in zip(t["captured"], t["diagnosed"])],
         f"Baseline DXA within {CAPTURE_WEEKS} weeks of diagnosis (% and patients, by quarter of diagnosis)", "% of patients",
         color="#9dc3e6", top=115)
    bars(grid[1, 1], t["scans"], [f"{v:,}" for v in t["scans"]], "DXA scan visits per quarter", "scans", hatch="//")
    fig.text(0.07, 0.045, "\n".join(_method_lines()), fontsize=7.5, va="bottom")
    return fig


def _method_lines() -> list[str]:
    from monitor.reports.pages import wrap_pt

    return wrap_pt("How: " + METHOD + " Baseline capture is judged by quarter of diagnosis once the 12 weeks "
                   "have passed.", 0.9 * 11.69 * 72, size=7.5)
