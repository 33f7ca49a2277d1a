"""The clinic report's trend page: per quarter, baseline DXA within 12 weeks of diagnosis (the
IOF capture-the-fracture style measure) and DXA scans done. Data in, figure out; never queries."""

from __future__ import annotations

from datetime import date

import pandas as pd

CAPTURE_WEEKS = 12
QUARTERS = 8


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


def capture_by_quarter(cohort, *, as_of: date) -> pd.DataFrame:
    """Per quarter of diagnosis (the last eight): patients, captured, percent."""
    per = baseline_capture(cohort, as_of=as_of)
    quarters = quarters_until(as_of)
    grouped = per.groupby("quarter")["captured"].agg(["size", "sum"]).reindex(quarters, fill_value=0)
    pct = (100.0 * grouped["sum"] / grouped["size"].where(grouped["size"] > 0)).round(0)
    return pd.DataFrame({"quarter": quarters, "patients": grouped["size"].astype(int).to_numpy(),
                         "captured": grouped["sum"].astype(int).to_numpy(), "pct": pct.to_numpy()})


def trends_figure(evaluation):
    """Page 2 of the clinic report: the two quarterly trends, each bar labelled with its numbers."""
    from matplotlib.figure import Figure

    from monitor.reports.pages import A4_LANDSCAPE

    history = evaluation.cohort.known_on(evaluation.as_of)
    fig = Figure(figsize=A4_LANDSCAPE, dpi=100)
    fig.text(0.06, 0.95, "Trends per quarter", fontsize=14, weight="bold")
    grid = fig.add_gridspec(2, 1, hspace=0.5, left=0.08, right=0.95, top=0.86, bottom=0.1)
    cap = capture_by_quarter(history, as_of=evaluation.as_of)
    ax = fig.add_subplot(grid[0])
    bars = ax.bar(cap["quarter"], cap["pct"].fillna(0), color="#9dc3e6", edgecolor="black")
    ax.bar_label(bars, labels=[f"{c}/{n}" if n else "none" for c, n in zip(cap["captured"], cap["patients"])],
                 padding=2, fontsize=8)
    ax.set_ylim(0, 110)
    ax.set_ylabel("% of patients")
    ax.set_title(f"Baseline DXA within {CAPTURE_WEEKS} weeks of diagnosis, by quarter of diagnosis "
                 "(captured / diagnosed; quarters still inside the window are left out)", fontsize=10, loc="left")
    scans = history.scans.drop_duplicates(["patient_id", "scan_date"])
    per_q = scans["scan_date"].dt.to_period("Q").astype(str).value_counts()
    quarters = quarters_until(evaluation.as_of)
    counts = per_q.reindex(quarters, fill_value=0)
    ax = fig.add_subplot(grid[1])
    bars = ax.bar(quarters, counts.to_numpy(), color="#d9d9d9", edgecolor="black", hatch="//")
    ax.bar_label(bars, padding=2, fontsize=8)
    ax.set_ylabel("scans")
    ax.set_ylim(0, max(1, int(counts.max())) * 1.15)
    ax.set_title("DXA scans done per quarter (the current quarter so far)", fontsize=10, loc="left")
    for a in fig.axes:
        a.tick_params(labelsize=8)
    return fig
