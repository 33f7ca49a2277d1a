"""The clinic report's flag annex: urgent flags and unacknowledged warnings, grouped by patient.

Proportional text measured in the drawn font and wrapped to its column, so nothing runs off the
page. What to do is the same for every patient with a flag, so it is printed once per flag in a
table at the start; each patient's entry gives the marker, the title and that patient's evidence.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from monitor.reports.pages import TEXT_WIDTH_PT, Block, heading, paragraph, text_width_pt, wrap_pt
from monitor.reports.words import SEVERITY_MARK

# Columns as fractions of the text width: patient (MRN, name), then marker, title and evidence.
PATIENT_AT, TEXT_AT = 0.0, 0.165
# The "what to do" table: marker, title, action, sources.
TITLE_AT, ACTION_AT, SOURCES_AT = 0.085, 0.40, 0.93
SIZE_PT, LEADING = 7.0, 1.3  # the smallest print a clinician reads on A4, lines close for a long list


def annex_flags(evaluation) -> tuple[pd.DataFrame, dict]:
    """The flags the annex shows (urgent, and warnings nobody acknowledged), most severe patient
    first, with the MRN and name; and the counts of what it leaves out."""
    from monitor.rules.acknowledgements import unacknowledged
    from monitor.rules.evaluation import flag_rows

    flags = evaluation.flags
    warn = flags.loc[flags["severity"] == "warn"]
    open_warn = unacknowledged(warn)
    shown = pd.concat([flags.loc[flags["severity"] == "urgent"], open_warn])
    rows = flag_rows(shown, evaluation.cohort.patients, min_severity="warn")
    names = evaluation.cohort.patients.drop_duplicates("mrn").set_index("mrn")["name"]
    rows = rows.assign(name=rows["mrn"].map(names).fillna("").astype(str))
    left_out = {"acknowledged": len(warn) - len(open_warn), "info": int((flags["severity"] == "info").sum())}
    return rows, left_out


def annex_order(rows: pd.DataFrame) -> pd.DataFrame:
    """Annex rows (of several chunks of patients) in the annex's order, on a fresh index."""
    from monitor.rules.evaluation import flag_order

    return rows.iloc[flag_order(rows)].reset_index(drop=True)


def _cell(text: str, at: float, until: float, *, bold: bool = False) -> list[str]:
    return wrap_pt(text, (until - at) * TEXT_WIDTH_PT - 2, bold=bold, size=SIZE_PT)


def action_blocks(rows: pd.DataFrame) -> list[Block]:
    """Once per flag shown: marker, title, what to do, sources."""
    columns = (0.0, TITLE_AT, ACTION_AT, SOURCES_AT)
    blocks = [heading("What to do, per flag (the same for every patient who has it)"),
              Block("row", ("", "flag", "action", "sources"), columns, bold=True)]
    per_code = rows.drop_duplicates("code")  # rows are most severe first
    for r in per_code.itertuples(index=False):
        cells = [[SEVERITY_MARK[r.severity]], _cell(r.title, TITLE_AT, ACTION_AT, bold=True),
                 _cell(r.action, ACTION_AT, SOURCES_AT), _cell(r.sources, SOURCES_AT, 1.0)]
        blocks += _lines(cells, columns, (True, True, False, False))
    return blocks


def _lines(cells: list[list[str]], columns, bolds) -> list[Block]:
    """Cells of wrapped lines side by side, one block per line, kept together on a page."""
    height = max(len(c) for c in cells)
    out = []
    for k in range(height):
        texts = tuple(c[k] if k < len(c) else "" for c in cells)
        out.append(Block("row", texts, tuple(columns), bolds=tuple(bolds), keep_with_next=k < height - 1))
    return out


def flag_entry(r, patient: list[str] | None) -> list[Block]:
    """One flag: the patient's MRN and name (on the patient's first flag), then the marker and the
    title in bold with the evidence after it, wrapped."""
    from monitor.reports.patient import readable

    width = (1.0 - TEXT_AT) * TEXT_WIDTH_PT - 2
    head = wrap_pt(f"{SEVERITY_MARK[r.severity]}  {r.title}:", width, bold=True, size=SIZE_PT)
    after = width - text_width_pt(head[-1] + "  ", bold=True, size=SIZE_PT, spare=1.0)
    evidence = wrap_pt(readable(r.evidence), width, first_pt=after, size=SIZE_PT)
    patient = patient or []
    lines = [[(TEXT_AT, line, True)] for line in head]
    if evidence[0]:
        lines[-1].append((TEXT_AT + (width - after) / TEXT_WIDTH_PT, evidence[0], False))
    lines += [[(TEXT_AT, line, False)] for line in evidence[1:]]
    lines += [[] for _ in range(len(patient) - len(lines))]
    for k, line in enumerate(patient):
        lines[k].insert(0, (PATIENT_AT, line, True))
    return [Block("row", tuple(t for _, t, _ in line), tuple(a for a, _, _ in line),
                  bolds=tuple(b for _, _, b in line), keep_with_next=k < len(lines) - 1)
            for k, line in enumerate(lines)]


def annex_blocks(summary) -> list[Block]:
    """The annex (reports.clinic_summary): what is shown and what is left out, what to do per flag,
    then each patient's flags, the first `summary.limit` patients."""
    rows, counts = summary.annex, summary.annex_counts
    urgent = counts["urgent"]
    blocks = [heading(f"Flags to act on: {urgent} urgent and {counts['rows'] - urgent} unacknowledged warnings "
                      f"on {counts['patients']} patients, patients with an urgent flag first")]
    blocks += paragraph(f"Left out: {counts['acknowledged']} warnings a clinician has acknowledged and "
                        f"{counts['info']} notes (information only); `monitor flags` lists every flag. "
                        f"{SEVERITY_MARK['urgent']} = act now, {SEVERITY_MARK['warn']} = review.")
    if not len(rows):
        return blocks
    blocks += action_blocks(summary.annex_codes)
    blocks.append(heading("By patient (MRN, name; flag; what was found)"))
    groups = rows.groupby("mrn", sort=False).indices
    for mrn in rows["mrn"].drop_duplicates():
        group = rows.iloc[groups[mrn]]
        who = _cell(f"{mrn} {group['name'].iloc[0]}".strip(), PATIENT_AT, TEXT_AT, bold=True)
        for k, r in enumerate(group.itertuples(index=False)):
            entry = flag_entry(r, who if k == 0 else None)
            if k < len(group) - 1:  # a patient's flags stay on one page
                entry[-1] = replace(entry[-1], keep_with_next=True)
            blocks += entry
        blocks.append(Block("space"))
    if counts["patients"] > summary.limit:
        blocks += paragraph(f"... and {counts['patients'] - summary.limit} more patients: "
                            "`monitor flags --severity warn` lists them all")
    return blocks
