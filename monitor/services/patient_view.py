"""`monitor show MRN`: one patient's history, due status and flags as plain text."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import Engine

from monitor.config import Config
from monitor.rules.clock_text import local_text


def _d(value) -> str:
    return "" if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


def _b(value) -> str:
    return "" if value is None or value is pd.NA or pd.isna(value) else ("yes" if value else "no")


def _table(frame: pd.DataFrame, columns: dict[str, callable]) -> list[str]:
    """Aligned rows of selected columns, each formatted by its function."""
    cells = [[fmt(row[col]) for col, fmt in columns.items()] for _, row in frame.iterrows()]
    heads = list(columns)
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(heads)]
    out = ["  " + "  ".join(h.ljust(w) for h, w in zip(heads, widths)).rstrip()]
    out += ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return out


def describe_patient(engine: Engine, mrn: str, *, as_of: date, config: Config) -> str:
    from monitor.rules.evaluation import evaluate, evaluation_risks
    from monitor.services.evaluation import patient_history

    cohort = patient_history(engine, mrn)
    p = cohort.patients.iloc[0]
    from monitor.services.acknowledgements import load_acknowledgements

    pid = int(p["patient_id"])
    known = cohort.known_on(as_of)
    # The risk factors shown are the ones the schedule used: one table for both.
    risks = evaluation_risks(known, config=config)
    evaluation = evaluate(known, as_of=as_of, config=config, risks=risks,
                          acknowledgements=load_acknowledgements(engine, patient_id=pid))
    lines = [
        f"Patient {p['mrn']}  {p['name'] or ''}".rstrip(),
        f"  sex {p['sex']}, born {_d(p['birth_date'])}, enrolled {_d(p['enrolled_on']) or 'unknown'}, "
        f"status {p['status']}",
    ]
    lines += _contact_and_status(engine, pid, config)
    lines.append("Risk factors:" + ("" if len(risks) else " none"))
    for _, r in risks.iterrows():
        lines.append(f"  {r['code']}: {r['reason']}")

    lines.append(f"DXA surveillance on {as_of.isoformat()}:")
    if len(evaluation.schedule):
        s = evaluation.schedule.iloc[0]
        overdue = f", {s['days_overdue']} days past due" if s["days_overdue"] else ""
        lines.append(f"  {s['status']}: next scan due {_d(s['due_date'])}{overdue}; "
                     f"interval {s['interval_months']} months")
        lines.append(f"  why: {s['due_reason']}")
    else:
        lines.append(f"  not evaluated: the patient is {p['status']} (only active patients are due)")

    lines.append(f"Episodes ({len(known.episodes)}):")
    if len(known.episodes):
        lines += _table(known.episodes.sort_values("onset_date"), {
            "onset_date": _d, "joint": str, "side": str, "diagnosed_on": _d, "resolved_on": _d,
            "pregnancy_associated": _b, "fracture": _b})

    scans = known.scans
    dates = sorted(scans["scan_date"].unique()) if len(scans) else []
    lines.append(f"DXA scans ({len(dates)}), BMD g/cm² (T-score):")
    if len(dates):
        def cell(group, site, side):
            hit = group.loc[(group["site"] == site) & (group["side"] == side)]
            if not len(hit):
                return "-"
            r = hit.iloc[0]
            t = "" if pd.isna(r["t_score"]) else f" ({r['t_score']:+.1f})"
            return f"{r['bmd_g_cm2']:.3f}{t}"

        rows = []
        for day in dates:
            g = scans.loc[scans["scan_date"] == day]
            rows.append({"date": _d(day), "scanner": g["scanner"].iloc[0] or "",
                         "L total hip": cell(g, "total_hip", "left"), "L fem. neck": cell(g, "femoral_neck", "left"),
                         "R total hip": cell(g, "total_hip", "right"), "R fem. neck": cell(g, "femoral_neck", "right"),
                         "spine": cell(g, "lumbar_spine", "")})
        lines += _table(pd.DataFrame(rows), {k: str for k in rows[0]})

    for kind, title, columns in (
        ("mri", "MRI studies", {"study_date": _d, "joint": str, "side": str, "reported_as": str}),
        ("pregnancies", "Pregnancies", {"expected_delivery": _d, "delivered_on": _d}),
        ("symptoms", "Symptom reports", {"reported_on": _d, "complaint": str, "side": str,
                                         "progressive": _b, "weight_bearing": _b}),
        ("treatments", "Treatments", {"drug": str, "dose": str, "started_on": _d, "stopped_on": _d}),
    ):
        frame = getattr(known, kind)
        if len(frame):
            lines.append(f"{title} ({len(frame)}):")
            lines += _table(frame.sort_values(list(columns)[0] if kind != "treatments" else "started_on"), columns)
    lines += _retracted(engine, pid, p["mrn"], config.zone)

    from monitor.rules.trends import trend_table

    trend = trend_table(known.scans, settings=config.trend)
    latest = trend.loc[trend["is_latest"]].sort_values(["site", "side"], key=lambda s: s.map(
        {"total_hip": 0, "femoral_neck": 1, "lumbar_spine": 2, "left": 0, "right": 1, "": 2}))
    if len(latest):
        lines.append(f"BMD change at the latest scan ({_d(latest['scan_date'].iloc[0])}); * = at least the LSC:")

        def change(r, tag):
            if pd.isna(r[f"delta_{tag}"]):
                return "-"
            rate = "" if pd.isna(r[f"pct_year_{tag}"]) else f" {r[f'pct_year_{tag}']:+.1f}%/yr"
            star = "*" if r[f"significant_{tag}"] else " "
            from monitor.rules.trends import format_delta

            return (f"{format_delta(r[f'delta_{tag}'], r['lsc_g_cm2'])} ({r[f'pct_{tag}']:+.1f}%{rate}){star} since "
                    f"{_d(r[f'{tag}_date'])}")

        rows = [{"site": f"{r['side']} {r['site'].replace('_', ' ')}".strip(), "BMD": f"{r['bmd_g_cm2']:.3f}",
                 "vs previous": change(r, "prev"), "vs baseline": change(r, "base"),
                 "LSC": f"{r['lsc_g_cm2']:.3f}" + ("" if r["lsc_measured"] else " (default, not measured here)")}
                for _, r in latest.iterrows()]
        lines += _table(pd.DataFrame(rows), {k: str for k in rows[0]})
        if trend["series"].gt(0).any():
            lines.append("  (scanner make changed: changes are computed within one make only)")

    flags = evaluation.flags
    lines.append(f"Flags ({len(flags)}):" if len(flags) else "Flags: none")
    for _, f in flags.iterrows():
        acked = f.get("acknowledged_by", "")
        mark = f"  [acknowledged by {acked} at {local_text(f['acknowledged_at'], config.zone)}: {f['acknowledged_note']}]" \
            if acked else ""
        lines.append(f"  [{f['severity']}] {f['code']}: {f['title']}{mark}")
        lines.append(f"      evidence: {f['evidence']}")
        lines.append(f"      action:   {f['action']}  [sources: {f['sources']}]")
    lines += _reminders(engine, pid, config)
    return "\n".join(lines)


def _contact_and_status(engine: Engine, patient_id: int, config: Config) -> list[str]:
    """The contact details (each, or "not recorded") and the status changes staff made."""
    from monitor.rules.clock_text import local_text
    from monitor.services.patient_status import contact_of, status_history

    c = contact_of(engine, patient_id)
    missing = "not recorded"
    address = c.address_lines
    lines = ["Contact:",
             f"  phone: {c.phone or missing}",
             f"  email: {c.email or missing}",
             f"  preferred contact: {c.preferred_contact or missing}",
             f"  address: {address[0] if address else missing}"]
    lines += [f"           {line}" for line in address[1:]]
    lines.append(f"  language: {c.language or missing}")
    changes = status_history(engine, patient_id)
    lines.append(f"Status changes ({len(changes)}):" if changes else "Status changes: none")
    for ch in changes:
        lines.append(f"  {local_text(ch.changed_at, config.zone)}  {ch.from_status} -> {ch.to_status} by {ch.who}: "
                     f"{ch.reason}")
    return lines


def _reminders(engine: Engine, patient_id: int, config: Config) -> list[str]:
    """The patient's reminders, newest first, each with its whole history (times in the clinic's zone)."""
    from monitor.services.reminders import HISTORY_COLUMNS, patient_histories

    found = patient_histories(engine, patient_id, config=config)
    if not found:
        return ["Reminders: none"]
    lines = [f"Reminders ({len(found)}), newest first:"]
    for h in found:
        lines.append("  reminder " + h.header.split(", reminder ", 1)[1])
        lines += _table(pd.DataFrame(h.rows, columns=HISTORY_COLUMNS), {c: str for c in HISTORY_COLUMNS})
    return lines


def _has_retractions(engine: Engine, patient_id: int) -> bool:
    """Whether any of the patient's records is retracted now: one cheap query, so the usual patient
    (none) never loads the record tables' models (SQLModel, ~0.4 s of start-up)."""
    from sqlalchemy import text

    from monitor import store
    from monitor.services.records import KINDS, TABLE_OF

    tables = sorted({TABLE_OF[kind] for kind in KINDS})
    query = " UNION ALL ".join(
        f"SELECT 1 FROM {store.RETRACTION_TABLE} r JOIN {table} t ON r.record_id = t.id "
        f"WHERE r.table_name = '{table}' AND r.restored_at IS NULL AND t.patient_id = :pid" for table in tables)
    with store.reading(engine) as conn:
        return conn.execute(text(query + " LIMIT 1"), {"pid": patient_id}).first() is not None


def _retracted(engine: Engine, patient_id: int, mrn: str, zone) -> list[str]:
    """The records retracted (and not restored): kept in the history, apart from what counts."""
    if not _has_retractions(engine, patient_id):
        return []
    from monitor.services.records import patient_retractions, stamp, who

    rows = patient_retractions(engine, mrn, active_only=True)
    if not rows:
        return []
    lines = [f"Retracted records ({len(rows)}), kept but ignored by every rule:"]
    for r in rows:
        values = f" ({r.values_text})" if r.values_text else ""
        lines.append(f"  {r.kind} {r.key_text}{values}")
        lines.append(f"      retracted {stamp(r.retracted_at, zone)} by {who(r.retracted_by, r.on_behalf_of)}: {r.reason}")
    return lines
