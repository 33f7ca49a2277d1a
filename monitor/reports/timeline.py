"""The chart's timeline in lanes: one lane per episode site, then treatments, pregnancies, symptoms,
MRI, DXA scans and the next DXA.

Items that overlap in time inside one lane get sub-rows, so nothing hides another. A label goes
inside its bar when it fits, else beside it within the axes and clear of its neighbours, else it
is left out (the legend says what each fill, hatch and marker means). Greyscale-safe: kinds
differ by hatch and marker shape, not colour alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from monitor.reports.data import PatientReport
from monitor.reports.words import word

LABEL_PT = 7
# kind -> how it is drawn (bar fill and hatch, or a marker) and what the legend calls it
BARS = {
    "episode_hip": dict(facecolor="#f4b183", hatch="", legend="TOH episode (hip)"),
    "episode_other": dict(facecolor="#c9c9c9", hatch="", legend="episode, other joint"),
    "episode_pregnancy": dict(facecolor="#f4b183", hatch="\\\\\\", legend="pregnancy-associated episode"),
    "trimester_1": dict(facecolor="#f2f2f2", hatch="", legend="pregnancy, 1st trimester"),
    "trimester_2": dict(facecolor="#bdbdbd", hatch="", legend="pregnancy, 2nd trimester"),
    "trimester_3": dict(facecolor="#737373", hatch="", legend="pregnancy, 3rd trimester"),
    "breastfeeding": dict(facecolor="white", hatch="....", legend="breastfeeding"),
    "treatment": dict(facecolor="#9dc3e6", hatch="///", legend="treatment"),
}
POINTS = {
    "fracture": dict(marker="*", color="black", mfc="black", size=11, legend="fracture (star)"),
    "symptom": dict(marker="^", color="black", mfc="white", size=6, legend="symptom reported"),
    "mri_toh": dict(marker="D", color="black", mfc="white", size=6, legend="MRI reported as TOH"),
    "mri_osteonecrosis": dict(marker="D", color="black", mfc="black", size=6, legend="MRI: osteonecrosis"),
    "mri_other": dict(marker="s", color="black", mfc="#bdbdbd", size=6, legend="MRI: normal or other"),
    "scan": dict(marker="|", color="black", mfc="black", size=10, legend="DXA scan"),
    "due": dict(marker="v", color="black", mfc="black", size=8, legend="next DXA due"),
}
FIXED_LANES = ("Treatment", "Pregnancy", "Symptoms", "MRI", "DXA scans", "Next DXA")


@dataclass(frozen=True)
class Item:
    """One thing on the timeline: a bar (start to end) or a point (end is None)."""

    lane: str
    start: pd.Timestamp
    end: pd.Timestamp | None
    kind: str
    label: str = ""


def _side(side) -> str:
    return f"{str(side)[0].upper()} " if isinstance(side, str) and side else ""


def timeline_items(report: PatientReport) -> list[Item]:
    """Everything the timeline draws, from the patient's history as of the report's date."""
    from monitor.rules.pregnancy import pregnancy_spans

    h, as_of = report.history, pd.Timestamp(report.as_of)
    items: list[Item] = []
    for _, e in h.episodes.sort_values("onset_date").iterrows():
        lane = f"{_side(e['side'])}{e['joint']}"
        end = e["resolved_on"] if pd.notna(e["resolved_on"]) else as_of
        pregnant = pd.notna(e["pregnancy_associated"]) and bool(e["pregnancy_associated"])
        kind = "episode_pregnancy" if pregnant else "episode_hip" if e["joint"] == "hip" else "episode_other"
        label = "episode" + (" (active)" if pd.isna(e["resolved_on"]) else "")
        items.append(Item(lane, e["onset_date"], end, kind, label))
        if pd.notna(e["fracture"]) and bool(e["fracture"]):
            at = e["fracture_on"] if pd.notna(e.get("fracture_on")) else e["onset_date"]
            items.append(Item(lane, at, None, "fracture", "fracture"))
    for _, t in h.treatments.sort_values("started_on").iterrows():
        end = t["stopped_on"] if pd.notna(t["stopped_on"]) else as_of
        items.append(Item("Treatment", t["started_on"], end, "treatment", str(t["drug"])))
    week = pd.Timedelta(weeks=1)
    for _, s in pregnancy_spans(h.pregnancies, settings=report.config.thresholds).sort_values("start").iterrows():
        cuts = [s["start"], s["start"] + 13 * week, s["start"] + 27 * week, s["end"]]
        for n, name in enumerate(("1st", "2nd", "3rd")):
            lo, hi = cuts[n], min(cuts[n + 1], s["end"])
            if hi > lo:
                items.append(Item("Pregnancy", lo, hi, f"trimester_{n + 1}", name))
        if pd.notna(s["bf_end"]) and s["bf_end"] > s["delivered_on"]:
            items.append(Item("Pregnancy", s["delivered_on"], s["bf_end"], "breastfeeding", "breastfeeding"))
    for _, s in h.symptoms.sort_values("reported_on").iterrows():
        items.append(Item("Symptoms", s["reported_on"], None, "symptom", f"{_side(s['side'])}{word(s['complaint'])}"))
    for _, m in h.mri.sort_values("study_date").iterrows():
        kind = {"toh": "mri_toh", "osteonecrosis": "mri_osteonecrosis"}.get(m["reported_as"], "mri_other")
        items.append(Item("MRI", m["study_date"], None, kind, f"{_side(m['side'])}{m['joint']}: {word(m['reported_as'])}"))
    for day in sorted(h.scans["scan_date"].drop_duplicates()):
        items.append(Item("DXA scans", day, None, "scan"))
    if report.schedule is not None:
        s = report.schedule
        items.append(Item("Next DXA", pd.Timestamp(s["due_date"]), None, "due",
                          f"due {pd.Timestamp(s['due_date']).date()} ({word(s['status'])})"))
    return items


def lane_order(items: list[Item]) -> list[str]:
    """Episode lanes (by site) first, then the fixed lanes that have something in them."""
    present = {i.lane for i in items}
    episodes = sorted(present - set(FIXED_LANES))
    return episodes + [lane for lane in FIXED_LANES if lane in present]


def assign_rows(items: list[Item], *, min_days: float) -> dict[Item, int]:
    """Sub-row per item within its lane: the first row whose last item ended before this one starts.
    Points count as `min_days` wide so markers do not sit on each other; fractures sit on their
    episode's row (a marker on the bar)."""
    rows: dict[Item, int] = {}
    ends: dict[str, list[pd.Timestamp]] = {}
    pad = pd.Timedelta(days=min_days)
    for item in sorted((i for i in items if i.kind != "fracture"), key=lambda i: (i.start, i.kind)):
        end = max(item.end or item.start, item.start) + (pad if item.end is None else pd.Timedelta(0))
        lane_ends = ends.setdefault(item.lane, [])
        for n, last in enumerate(lane_ends):
            if item.start >= last:
                lane_ends[n] = end
                rows[item] = n
                break
        else:
            lane_ends.append(end)
            rows[item] = len(lane_ends) - 1
    for item in items:
        if item.kind == "fracture":
            host = [i for i in rows if i.lane == item.lane and i.end is not None and i.start <= item.start <= i.end]
            rows[item] = rows[host[0]] if host else 0
    return rows


def row_count(items: list[Item], *, min_days: float) -> int:
    rows = assign_rows(items, min_days=min_days)
    return sum(max((r for i, r in rows.items() if i.lane == lane), default=0) + 1 for lane in lane_order(items))


def draw_timeline(ax, report: PatientReport, renderer, *, min_days: float) -> None:
    """Draw the lanes on `ax`, whose x limits and position are already final (labels are measured)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    items = timeline_items(report)
    rows = assign_rows(items, min_days=min_days)
    lanes = lane_order(items)
    heights = {lane: max((r for i, r in rows.items() if i.lane == lane), default=0) + 1 for lane in lanes}
    total = sum(heights.values())
    y_of, top, ticks = {}, total, []
    for lane in lanes:
        for r in range(heights[lane]):
            y_of[(lane, r)] = top - 0.5 - r
        ticks.append((top - heights[lane] / 2, lane))
        top -= heights[lane]
        if top > 0:
            ax.axhline(top, color="#bdbdbd", linewidth=0.6, zorder=0)
    ax.set_ylim(0, max(total, 1))
    ax.set_yticks([t for t, _ in ticks], [name for _, name in ticks], fontsize=LABEL_PT)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
    ax.set_title("Timeline: episodes by site, treatments, pregnancies, symptoms, MRI, DXA scans, next DXA",
                 fontsize=9, loc="left")
    if not items:
        ax.text(0.5, 0.5, "no history recorded", transform=ax.transAxes, ha="center", va="center", fontsize=8)
        return
    to_px = ax.transData.transform
    occupied: dict[tuple, list[tuple[float, float]]] = {}
    extents: dict[Item, tuple[float, float]] = {}
    used: list[str] = []
    for item in sorted(items, key=lambda i: (i.kind == "fracture", i.start)):
        y = y_of[(item.lane, rows[item])]
        if item.end is not None:
            style = BARS[item.kind]
            width = max((item.end - item.start).days, 1)
            ax.barh(y, width, left=item.start, height=0.7, facecolor=style["facecolor"], hatch=style["hatch"],
                    edgecolor="black", linewidth=0.6, zorder=2)
            x0, x1 = to_px([(mdates_num(item.start), y)])[0][0], to_px([(mdates_num(item.start) + width, y)])[0][0]
        else:
            style = POINTS[item.kind]
            ax.plot([item.start], [y], linestyle="none", marker=style["marker"], color=style["color"],
                    mfc=style["mfc"], mec=style["color"], markersize=style["size"], zorder=4)
            cx = to_px([(mdates_num(item.start), y)])[0][0]
            half = style["size"] * renderer.points_to_pixels(1.0) / 2
            x0, x1 = cx - half, cx + half
        extents[item] = (x0, x1)
        occupied.setdefault((item.lane, rows[item]), []).append((x0, x1))  # a fracture star too: no label on it
        if item.kind not in used:
            used.append(item.kind)
    box = ax.get_window_extent(renderer)
    for item in sorted(items, key=lambda i: i.start):
        if item.label and item.kind != "fracture":
            _place_label(ax, renderer, item, y_of[(item.lane, rows[item])], extents[item],
                         occupied[(item.lane, rows[item])], box)
    handles = []
    for kind in [k for k in list(BARS) + list(POINTS) if k in used]:
        if kind in BARS:
            s = BARS[kind]
            handles.append(Patch(facecolor=s["facecolor"], hatch=s["hatch"], edgecolor="black", linewidth=0.6,
                                 label=s["legend"]))
        else:
            s = POINTS[kind]
            handles.append(Line2D([], [], linestyle="none", marker=s["marker"], color=s["color"], mfc=s["mfc"],
                                  mec=s["color"], markersize=min(s["size"], 8), label=s["legend"]))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=LABEL_PT, frameon=False,
              borderaxespad=0, handlelength=1.6, labelspacing=0.35)


def mdates_num(value) -> float:
    import matplotlib.dates as mdates

    return float(mdates.date2num(pd.Timestamp(value)))


def _place_label(ax, renderer, item: Item, y: float, extent, occupied, box) -> None:
    """Inside the bar if it fits, else right or left of it without touching anything in its row and
    within the axes, else no label (the legend and the lane say what it is)."""
    from matplotlib.transforms import IdentityTransform

    text = ax.text(0, 0, item.label, fontsize=LABEL_PT, va="center", ha="left", transform=IdentityTransform())
    width = text.get_window_extent(renderer).width * 1.06  # hinting at another dpi may widen it a little
    text.remove()
    x0, x1 = max(extent[0], box.x0), min(extent[1], box.x1)
    pad = 4.0
    candidates = []
    if item.end is not None and x1 - x0 >= width + 2 * pad:
        candidates.append(((x0 + x1 - width) / 2, True))
    candidates += [(x1 + pad, False), (x0 - pad - width, False)]
    for left, inside in candidates:
        right = left + width
        if left < box.x0 + 1 or right > box.x1 - 1:
            continue
        if not inside and any(a < right + 1 and left - 1 < b for a, b in occupied):
            continue
        if inside and any(a < right and left < b for a, b in occupied if (a, b) != extent):
            continue
        xd = ax.transData.inverted().transform([(left, 0)])[0][0]
        dark = inside and item.kind == "trimester_3"
        hatched = inside and bool(BARS[item.kind]["hatch"])
        ax.text(xd, y, item.label, fontsize=LABEL_PT, va="center", ha="left", zorder=5,
                color="white" if dark else "black",
                bbox=dict(facecolor=BARS[item.kind]["facecolor"], edgecolor="none", pad=0.6) if hatched else None)
        occupied.append((left, right))
        return
