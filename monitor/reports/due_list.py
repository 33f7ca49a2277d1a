"""The clinic report's due and overdue list as a table a manager follows across the page.

One row per patient, most overdue first: MRN, name, status, due date, days past due, last scan,
the scan interval ("2 y"), the reminder in words (state, why and until when, who works it) and
the urgent and warning flags by the titles the annex uses. Text is measured in the drawn font
(annex.py's helpers) and wrapped within its column; columns are as wide as their content, the
flags take the rest. Rows are banded in grey and the header is drawn again on each page.
"""

from __future__ import annotations

import pandas as pd

from monitor.reports.annex import SIZE_PT
from monitor.reports.pages import TEXT_WIDTH_PT, Block, heading, text_width_pt, wrap_pt
from monitor.reports.words import word

GAP_PT = 9.0  # between columns
# Columns that wrap give up width, down to these, when the row's content is wider than the page.
# (never narrower than their longest word, so a name or an MRN is not cut; an MRN past MRN_CUT_PT may be)
FLOORS_PT = {"Name": 80.0, "Reminder": 110.0}
FLAGS_FLOOR_PT, MRN_CUT_PT = 200.0, 120.0
URGENT, WARNING = "▲ URGENT:", "●"
FLAGS_HEAD = f"Urgent and warning flags ({URGENT[:-1].lower()}, {WARNING} warning)"


def interval_words(months: int) -> str:
    """A scan interval as a reader says it: 24 -> "2 y", 12 -> "1 y", 18 -> "18 mo"."""
    return f"{months // 12} y" if months and months % 12 == 0 else f"{months} mo"


def reminder_words(work: str, note: str, assigned_to: str) -> str:
    """Where staff stand: the state in words, then until when and why / the last outreach, then who works it."""
    parts = ["no reminder" if work == "none" else word(work).replace("scan done elsewhere", "scanned elsewhere")]
    parts += [note] if note else []
    parts += [f"assigned to {assigned_to}"] if assigned_to else []
    return "; ".join(parts)


def flag_titles(evaluation, mrns: pd.Series) -> pd.Series:
    """Per listed MRN, its urgent and warning flags as (is_urgent, title) pairs, urgent first, in
    the order the rules sort them. Severity is the flag's own: a recurrence that is history
    (a note) is not listed as a warning."""
    flags = evaluation.flags
    serious = flags.loc[flags["severity"].isin(("urgent", "warn"))]
    mrn_of = evaluation.schedule.set_index("patient_id")["mrn"]
    serious = pd.DataFrame({"mrn": serious["patient_id"].map(mrn_of).to_numpy(),
                            "urgent": (serious["severity"] == "urgent").to_numpy(),
                            "title": serious["title"].astype(str).to_numpy()})
    serious = serious.loc[serious["mrn"].isin(set(mrns))]
    serious = serious.sort_values("urgent", ascending=False, kind="stable").drop_duplicates(["mrn", "title"])
    pairs = pd.Series(list(zip(serious["urgent"], serious["title"])), index=serious["mrn"].to_numpy(), dtype=object)
    grouped = pairs.groupby(level=0, sort=False).agg(list)
    return mrns.map(grouped).apply(lambda v: v if isinstance(v, list) else [])


def _flag_lines(pairs: list[tuple[bool, str]], width: float) -> list[tuple[str, bool]]:
    """Each flag on a line of its own (wrapped, continuation indented), urgent ones bold."""
    out: list[tuple[str, bool]] = []
    indent = text_width_pt("    ", size=SIZE_PT)
    for is_urgent, title in pairs:
        text = f"{URGENT if is_urgent else WARNING} {title}"
        lines = wrap_pt(text, width - indent, first_pt=width, size=SIZE_PT, bold=is_urgent)
        out += [(("    " if k else "") + line, is_urgent) for k, line in enumerate(lines)]
    return out


def _widest(texts, *, bold: bool = False) -> float:
    return max((text_width_pt(t, size=SIZE_PT, bold=bold) for t in set(texts)), default=0.0)


def _head_width(head: str) -> float:
    """The narrowest width that keeps a header on two lines at most ("Days past / due" is three)."""
    words = head.split()
    splits = [(" ".join(words[:k]), " ".join(words[k:])) for k in range(1, len(words))] or [(head, "")]
    return min(_widest(pair, bold=True) for pair in splits)


def _fit(widths: dict[str, float], room: float, words: dict[str, float]) -> dict[str, float]:
    """Columns at their content's width; spare room goes to the flags (the last column); when the
    content is wider than the page, the wrapping columns shrink in proportion to what they can give
    (`words`: each column's longest word, which it keeps whole)."""
    floors = {h: max(f, words.get(h, 0.0)) for h, f in {**FLOORS_PT, FLAGS_HEAD: FLAGS_FLOOR_PT}.items()}
    floors["MRN"] = min(widths["MRN"], MRN_CUT_PT)
    excess = sum(widths.values()) - room
    if excess <= 0:
        return {**widths, FLAGS_HEAD: widths[FLAGS_HEAD] - excess}
    slack = {h: widths[h] - floors[h] for h in widths if h in floors and widths[h] > floors[h]}
    total = sum(slack.values())
    return {h: w - (min(excess, total) * slack[h] / total if h in slack else 0.0) for h, w in widths.items()}


def list_table(rows: pd.DataFrame, titles: pd.Series, *, has_reminders: bool) -> list[Block]:
    """The header (repeated on each page) and one banded row of wrapped cells per patient."""
    cells = {
        "MRN": rows["mrn"].astype(str).tolist(),
        "Name": rows["name"].fillna("").astype(str).tolist(),
        "Status": [word(s) for s in rows["status"]],
        "Due on": rows["due_date"].tolist(),
        "Days past due": [str(d) for d in rows["days_overdue"]],
        "Last scan": [d or "none" for d in rows["last_scan_date"]],
        "Scan every": [interval_words(int(m)) for m in rows["interval_months"]],
    }
    if has_reminders:
        cells["Reminder"] = [reminder_words(w, n, a) for w, n, a in
                             zip(rows["reminder_work"], rows["reminder_note"], rows["assigned_to"])]
    flag_texts = [[f"{URGENT if u else WARNING} {t}" for u, t in pairs] for pairs in titles]
    widths = {head: max(_widest(texts), _head_width(head)) for head, texts in cells.items()}
    widths[FLAGS_HEAD] = max(_widest([t for texts in flag_texts for t in texts], bold=True),
                             _widest(FLAGS_HEAD.split(), bold=True))
    words = {h: _widest([w for t in cells[h] for w in t.split()]) for h in FLOORS_PT if h in cells}
    widths = _fit(widths, TEXT_WIDTH_PT - GAP_PT * (len(widths) - 1), words)
    starts, at = {}, 0.0
    for head, w in widths.items():
        starts[head] = at
        at += w + GAP_PT
    right = {"Days past due"}  # numbers align on their right edge

    def column(head):
        edge = starts[head] + (widths[head] if head in right else 0.0)
        return edge / TEXT_WIDTH_PT

    heads = list(widths)
    columns = tuple(column(h) for h in heads)
    aligns = tuple("right" if h in right else "left" for h in heads)
    head_cells = [wrap_pt(h, widths[h], size=SIZE_PT, bold=True) for h in heads]
    blocks = _lines(head_cells, columns, aligns, bold=[True] * len(heads), shade=False, header=True)
    for n in range(len(rows)):
        row_cells = [wrap_pt(cells[h][n], widths[h], size=SIZE_PT) for h in heads[:-1]]
        flags = _flag_lines(titles.iloc[n], widths[FLAGS_HEAD])
        row_cells.append([t for t, _ in flags] or [""])
        bold_lines = [b for _, b in flags]
        blocks += _lines(row_cells, columns, aligns, bold=[False] * (len(heads) - 1), shade=n % 2 == 1,
                         flag_bold=bold_lines)
    return blocks


def _lines(cells, columns, aligns, *, bold, shade, header=False, flag_bold=()) -> list[Block]:
    """Cells of wrapped lines side by side, one block per line, kept together on a page."""
    height = max(len(c) for c in cells)
    out = []
    for k in range(height):
        texts = tuple(c[k] if k < len(c) else "" for c in cells)
        bolds = tuple(bold) if header else tuple(bold) + (k < len(flag_bold) and flag_bold[k],)
        out.append(Block("row", texts, columns, bolds=bolds, aligns=aligns, shade=shade, is_header=header,
                         ruled=header and k == height - 1, keep_with_next=header or k < height - 1))
    return out


def due_list_blocks(summary) -> list[Block]:
    """The heading, the table of the first `summary.limit` due and overdue patients
    (reports.clinic_summary), and a pointer to the rest."""
    rows = summary.due
    blocks = [heading(f"Due and overdue patients ({summary.due_total}), most overdue first")]
    if not summary.due_total:
        return blocks + [Block("text", ("No patient is due or overdue.",))]
    blocks += list_table(rows, rows["titles"], has_reminders=summary.reminders is not None)
    if summary.due_total > len(rows):
        blocks += [Block("space"), Block("text", (f"... and {summary.due_total - len(rows)} more: the full list is "
                                                  "`monitor export overdue -o FILE`",))]
    return blocks
