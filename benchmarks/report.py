"""The benchmark's verdicts, its markdown (results, floor noise, scaling) and the README update.

Targets are issue 16's: import ≤ 4× floor; due, flags, nightly and export ≤ 2.5× floor; both
with peak memory ≤ 1 GB (1024 MiB: the larger of the child's own peak RSS and the peak summed PSS
of it and its worker processes); the PostgreSQL import no slower than SQLite's
(medians); `show` ≤ 0.5 s. A verdict is "met" when the whole spread of the repeats is within the
target, "missed" when all of it is beyond, "within noise" when the target lies inside the spread
(the machine's noise, not the code, decides that one). Peak RSS over the limit is "missed".
"""

from __future__ import annotations

import statistics
from pathlib import Path

RSS_LIMIT_MB = 1024
RATIO_TARGETS = {"import (SQLite)": 4.0, "due": 2.5, "flags": 2.5, "nightly": 2.5, "export overdue": 2.5}
SECONDS_TARGETS = {"show": 0.5}
PG_STEP, SQLITE_STEP = "import (PostgreSQL)", "import (SQLite)"
README_START, README_END = "<!-- benchmark:start -->", "<!-- benchmark:end -->"
ONE_MILLION = 1_000_000
SCALING_FROM = 100_000  # memory must be flat from here up


def _spread_verdict(low: float, high: float, limit: float) -> str:
    if high <= limit:
        return "met"
    if low > limit:
        return "missed"
    return "within noise"


def memory_mb(row: dict) -> float:
    """A step's peak memory: its own peak RSS, or all its processes' together when larger."""
    return max(row["peak_rss_mb"], row.get("peak_tree_pss_mb", 0.0))


def verdict(row: dict, rows: list[dict]) -> tuple[str, str]:
    """(target text, verdict) for one result row; ("", "") for a step without a target."""
    step = row["step"]
    rss_ok = memory_mb(row) <= RSS_LIMIT_MB
    if step in RATIO_TARGETS:
        limit = RATIO_TARGETS[step]
        found = _spread_verdict(row["x_floor_min"], row["x_floor_max"], limit)
        if not rss_ok:
            found = "missed (RSS)" if found == "met" else f"{found}; RSS missed"
        return f"≤ {limit:g}× floor, RSS ≤ 1 GB", found
    if step in SECONDS_TARGETS:
        limit = SECONDS_TARGETS[step]
        return f"≤ {limit:g} s", _spread_verdict(min(row["seconds"]), max(row["seconds"]), limit)
    if step == PG_STEP:
        sqlite = next((r for r in rows if r["patients"] == row["patients"] and r["step"] == SQLITE_STEP), None)
        if sqlite is None:
            return "≤ SQLite import", "no SQLite import to compare"
        return "≤ SQLite import", _spread_verdict(min(row["seconds"]), max(row["seconds"]), sqlite["median_s"])
    return "", ""


def add_verdicts(rows: list[dict]) -> None:
    for row in rows:
        row["target"], row["verdict"] = verdict(row, rows)


def results_table(rows: list[dict]) -> list[str]:
    lines = ["| patients | step | median s | × floor (median) | ratio spread | peak RSS MB | all processes MB | "
             "target | verdict |",
             "|---:|---|---:|---:|---|---:|---:|---|---|"]
    for r in rows:
        lines.append(f"| {r['patients']:,} | {r['step']} | {r['median_s']:.2f} | {r['x_floor_median']:.2f} | "
                     f"{r['x_floor_min']:.2f}–{r['x_floor_max']:.2f} | {r['peak_rss_mb']:,.0f} | "
                     f"{r.get('peak_tree_pss_mb', 0.0):,.0f} | {r['target']} | "
                     f"{r['verdict']} |")
    return lines


def noise_lines(floors: dict[int, list[float]]) -> list[str]:
    """The floor's own spread at each size: how much the machine moved while we measured."""
    lines = ["| patients | floor samples | min s | median s | max s | max/min |", "|---:|---:|---:|---:|---:|---:|"]
    for n, samples in sorted(floors.items()):
        low, mid, high = min(samples), statistics.median(samples), max(samples)
        lines.append(f"| {n:,} | {len(samples)} | {low:.2f} | {mid:.2f} | {high:.2f} | {high / low:.2f} |")
    return lines


def scaling(rows: list[dict]) -> dict:
    """Per step: peak RSS and seconds per 1,000 patients at each size; the RSS ratio largest/smallest
    size ≥ 100k ("flat" below 1.3); the 1M figures, measured or extrapolated linearly from the two
    largest sizes (and marked so)."""
    out: dict = {}
    for step in dict.fromkeys(r["step"] for r in rows):
        points = sorted((r["patients"], r["median_s"], memory_mb(r)) for r in rows if r["step"] == step)
        entry = {"sizes": [p[0] for p in points], "peak_rss_mb": [p[2] for p in points],
                 "s_per_1000": [round(p[1] / (p[0] / 1000), 4) for p in points]}
        big = [p for p in points if p[0] >= SCALING_FROM]
        if len(big) >= 2:
            entry["rss_ratio"] = round(big[-1][2] / big[0][2], 2)
            entry["rss_flat"] = entry["rss_ratio"] < 1.3
        million = next((p for p in points if p[0] == ONE_MILLION), None)
        if million is not None:
            entry["at_1m"] = {"seconds": million[1], "peak_rss_mb": million[2], "extrapolated": False}
        elif len(points) >= 2:
            (n1, s1, m1), (n2, s2, m2) = points[-2], points[-1]
            # A fixed-cost step (show, --help) must not extrapolate below what it measured.
            slope_s, slope_m = max((s2 - s1) / (n2 - n1), 0.0), max((m2 - m1) / (n2 - n1), 0.0)
            entry["at_1m"] = {"seconds": round(s2 + slope_s * (ONE_MILLION - n2), 1),
                              "peak_rss_mb": round(m2 + slope_m * (ONE_MILLION - n2)), "extrapolated": True,
                              "from": [n1, n2]}
        out[step] = entry
    return out


def scaling_lines(table: dict) -> list[str]:
    sizes = sorted({n for e in table.values() for n in e["sizes"]})
    heads = [f"RSS MB {n // 1000}k" for n in sizes] + [f"s/1k pts {n // 1000}k" for n in sizes]
    lines = ["| step | " + " | ".join(heads) + " | RSS largest/smallest ≥100k | 1M: s, RSS MB |",
             "|---|" + "---:|" * len(heads) + "---|---|"]
    for step, e in table.items():
        rss = dict(zip(e["sizes"], e["peak_rss_mb"]))
        per = dict(zip(e["sizes"], e["s_per_1000"]))
        cells = [f"{rss[n]:,.0f}" if n in rss else "" for n in sizes] + [f"{per[n]:.3f}" if n in per else ""
                                                                         for n in sizes]
        if "rss_ratio" in e:
            flat = f"{e['rss_ratio']:.2f} ({'flat' if e['rss_flat'] else 'NOT flat'})"
        else:
            flat = "n/a (needs two sizes ≥ 100k)"
        m = e.get("at_1m")
        million = "" if m is None else (f"{m['seconds']:,.1f} s, {m['peak_rss_mb']:,.0f} MB" + (
            f" (extrapolated from {m['from'][0] // 1000}k and {m['from'][1] // 1000}k)" if m["extrapolated"] else
            " (measured)"))
        lines.append(f"| {step} | " + " | ".join(cells) + f" | {flat} | {million} |")
    return lines


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [f"Measured {result['date']} on {m['cpu']} ({m['cores']} cores), Python {m['python']}, "
             f"pandas {m['pandas']}, SQLite {m['sqlite']}; {result['repeats']} repeats per step, each its own "
             "process, each bracketed by a floor sample right before and right after it "
             "(× floor = step time / mean of the two; the table shows the median and the spread).", ""]
    lines += results_table(result["rows"])
    lines += ["", "Machine noise — the floor's own samples (the same work every time):", ""]
    lines += noise_lines({int(k): v for k, v in result["floor_samples"].items()})
    lines += ["", "Scaling — peak RSS per step by cohort size, seconds per 1,000 patients, and 1M:", ""]
    lines += scaling_lines(result["scaling"])
    if result.get("notes"):
        lines += [""] + [f"- {note}" for note in result["notes"]]
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, text: str) -> None:
    """Replace what lies between the benchmark markers; refuse a README without exactly one pair."""
    content = readme.read_text(encoding="utf-8")
    if content.count(README_START) != 1 or content.count(README_END) != 1 or \
            content.index(README_START) > content.index(README_END):
        raise SystemExit(f"{readme}: expected one {README_START} … {README_END} pair around the benchmark table")
    head, rest = content.split(README_START)
    _, tail = rest.split(README_END)
    tmp = readme.with_name(readme.name + ".part")
    tmp.write_text(f"{head}{README_START}\n{text}{README_END}{tail}", encoding="utf-8")
    tmp.replace(readme)
