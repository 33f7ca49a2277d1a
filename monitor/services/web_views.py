"""What the web workspace's pages show, assembled from the services the CLI uses.

The pages' part of the cohort evaluation is kept in memory by services.web_cache.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import Engine, select

from monitor import store
from monitor.config import Config
from monitor.rules.evaluation import EXPORT_COLUMNS
from monitor.rules.reminders import reminder_states
from monitor.rules.worklist import DUE_ORDER
from monitor.services.review import load_seen
from monitor.services.web_cache import CACHE, WebCohort, _evaluation_key, cohort_facts, reminder_version, seen_version

WORKLIST_STATUSES = ("overdue", "due", "due_soon")
PAGE_SIZE = 50
SORTS = {"overdue": DUE_ORDER,
         "due_date": (["due_date", "mrn"], [True, True]),
         "mrn": (["mrn"], [True]),
         "name": (["name", "mrn"], [True, True])}


def _worklist_base(engine: Engine, *, as_of: date, config: Config) -> pd.DataFrame:
    """Every active patient's row of the worklist, most overdue first, with what search needs."""
    return cohort_facts(engine, as_of=as_of, config=config).rows


def _reminder_index(engine: Engine, config: Config) -> pd.DataFrame:
    """Reminder states indexed by (patient, due date), the latest per key; recomputed after any reminder write."""
    from monitor.rules.worklist import outreach_text
    from monitor.store.reminders import load_reminders

    def compute():
        with store.reading(engine) as conn:
            reminders, events = load_reminders(conn)
        states = reminder_states(reminders, events, zone=config.zone)
        states = states.assign(due_on=states["due_date"].dt.strftime("%Y-%m-%d"), outreach=outreach_text(states))
        return states.drop_duplicates(["patient_id", "due_on"], keep="last").set_index(["patient_id", "due_on"])

    return CACHE.get("reminders", (id(config), reminder_version(engine)), compute)


@dataclass(frozen=True)
class WorklistPage:
    rows: pd.DataFrame  # one row per patient: mrn, name, birth_date, status, due_date, days_overdue, ...
    total: int
    page: int
    pages: int
    as_of: date


def parse_query(query: str) -> tuple[str, object]:
    """What a search box holds: a birth date (YYYY-MM-DD or DD.MM.YYYY), else text of an MRN or name."""
    from datetime import datetime

    q = (query or "").strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y"):
        try:
            return "birth_date", datetime.strptime(q, fmt).date()
        except ValueError:
            pass
    return "text", q.casefold()


def worklist(engine: Engine, *, as_of: date, config: Config, query: str = "", status: str = "worklist",
             sort: str = "overdue", page: int = 1, assignee: str | None = None) -> WorklistPage:
    """Active patients due soon, due or overdue (or all, or one status), with their reminder's state,
    searched by MRN, name or birth date, optionally only those assigned to `assignee` ("" for the
    unassigned), sorted and cut into pages."""
    rows = _worklist_base(engine, as_of=as_of, config=config)
    if status != "all":
        rows = rows.loc[rows["status"].isin(WORKLIST_STATUSES if status == "worklist" else (status,))]
    kind, value = parse_query(query)
    if kind == "birth_date":
        rows = rows.loc[rows["birth_date"] == value.isoformat()]
    elif value:
        rows = rows.loc[rows["hay"].str.contains(value, regex=False)]
    if sort != "overdue":  # the base is most overdue first already
        columns, ascending = SORTS.get(sort, SORTS["overdue"])
        rows = rows.sort_values(columns, ascending=ascending, kind="stable")
    keyed = _reminder_index(engine, config)
    if assignee is not None:
        found = keyed.reindex(pd.MultiIndex.from_arrays([rows["patient_id"], rows["due_date"]]))
        rows = rows.loc[found["assignee"].fillna("").to_numpy() == assignee]
    total = len(rows)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    rows = rows.iloc[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    found = keyed.reindex(pd.MultiIndex.from_arrays([rows["patient_id"], rows["due_date"]]))
    rows = rows.assign(reminder_state=found["state"].fillna("").to_numpy(),
                       deferred_until=found["deferred_until"].dt.strftime("%Y-%m-%d").fillna("").to_numpy(),
                       last_outreach=found["outreach"].fillna("").to_numpy(),
                       assigned_to=found["assignee"].fillna("").to_numpy())
    return WorklistPage(rows.reset_index(drop=True), total, page, pages, as_of)


REVIEW_ORDER_COLUMNS = ["patient_id", "code", "severity", "first_seen_on", "days_open", "seen_by_run"]


def review_list(engine: Engine, *, as_of: date, config: Config) -> pd.DataFrame:
    """The clinician's review list (services.review, as `monitor flags review`), every row with
    its texts, each flag's action and sources (and patient_id): `review_page` gives one page."""
    order, cohort = review_order(engine, as_of=as_of, config=config)
    return review_texts(order, cohort)


def review_page(engine: Engine, *, as_of: date, config: Config, page: int, size: int) -> tuple[pd.DataFrame, int]:
    """One page of the review list (1 is the first; a page past the last is the last) with its
    texts, and how many flags the list holds."""
    order, cohort = review_order(engine, as_of=as_of, config=config)
    pages = max(1, -(-len(order) // size))
    page = min(max(1, page), pages)
    return review_texts(order.iloc[(page - 1) * size: page * size], cohort), len(order)


def review_order(engine: Engine, *, as_of: date, config: Config) -> tuple[pd.DataFrame, WebCohort]:
    """The review list's order (REVIEW_ORDER_COLUMNS: no texts, which stay in the kept cohort's
    waiting flags, fingerprinted as each chunk was evaluated), and that cohort.

    Kept in memory while neither the cohort nor `flag_seen` changes (a nightly run). After an
    acknowledgement or a status change, only the rows of the patients the cohort was patched for
    are made again, and the list sorted again: a patient and code is one row and the order is
    total, so it is the list made from scratch."""
    from monitor.rules.acknowledgements import sort_review

    key = _evaluation_key(engine, as_of, config)
    cohort = cohort_facts(engine, as_of=as_of, config=config, key=key)
    seen = seen_version(engine)

    def compute():
        held = CACHE.held("review")
        patients = CACHE.patched_since(held[0][0], key) if held is not None and held[0][1] == seen else None
        if patients is None:
            return review_rows_of(engine, cohort, as_of=as_of)
        old = held[1]
        kept = old.loc[~old["patient_id"].isin(list(patients))]
        fresh = review_rows_of(engine, cohort, as_of=as_of, patient_ids=patients) if patients else kept.iloc[:0]
        if not len(fresh):
            return kept.reset_index(drop=True)
        return sort_review(pd.concat([kept, fresh.astype(old.dtypes.to_dict())], ignore_index=True))

    return CACHE.get("review", (key, seen), compute), cohort


REVIEW_CHUNK = 20_000  # waiting flags aged at a time (their `flag_seen` rows read for their patients only)


def review_rows_of(engine: Engine, cohort: WebCohort, *, as_of: date, patient_ids=None) -> pd.DataFrame:
    """The review list's order (REVIEW_ORDER_COLUMNS) of the kept cohort (or of `patient_ids`'
    rows only): its waiting flags aged by the `flag_seen` rows. Aged a few thousand patients at a
    time (a flag's age reads its own patient's rows only), then sorted into the one list."""
    from monitor.rules.acknowledgements import review_ages, sort_review

    waiting = cohort.waiting[["patient_id", "code", "severity", "fingerprint"]]
    if patient_ids is not None:  # a few patients: their own `flag_seen` rows
        waiting = waiting.loc[waiting["patient_id"].isin(list(patient_ids))]
        rows = review_ages(waiting, load_seen(engine, patient_ids), as_of=as_of)
    else:
        ids = waiting["patient_id"].to_numpy()  # in patient id order (WebCohort)
        parts, start = [], 0
        while start < len(waiting):  # a patient's flags never split: `end` is past the last patient's
            end = int(ids.searchsorted(ids[min(start + REVIEW_CHUNK, len(ids)) - 1], side="right"))
            seen = load_seen(engine, id_range=(int(ids[start]), int(ids[end - 1])))
            parts.append(review_ages(waiting.iloc[start:end], seen, as_of=as_of))
            start = end
        rows = (sort_review(pd.concat(parts, ignore_index=True)) if len(parts) > 1
                else parts[0] if parts else review_ages(waiting, pd.DataFrame(), as_of=as_of))
    return rows[REVIEW_ORDER_COLUMNS].reset_index(drop=True)


def review_texts(rows: pd.DataFrame, cohort: WebCohort) -> pd.DataFrame:
    """Review rows (REVIEW_ORDER_COLUMNS) with MRN, name, title, evidence, action and sources from
    the cohort they were made of, in their order: patient_id, REVIEW_FIELDS, action, sources."""
    from monitor.services.review import REVIEW_FIELDS

    waiting = cohort.waiting
    mine = waiting.loc[waiting["patient_id"].isin(rows["patient_id"].unique())]
    texts = mine[["patient_id", "code", "title", "evidence", "action", "sources"]]
    out = rows.merge(texts, on=["patient_id", "code"], how="left", sort=False)
    people = cohort.patients.set_index("patient_id")
    out = out.assign(mrn=out["patient_id"].map(people["mrn"]), name=out["patient_id"].map(people["name"]).fillna(""))
    return out[["patient_id", *REVIEW_FIELDS, "action", "sources"]].reset_index(drop=True)


def clinic_overview(engine: Engine, *, as_of: date, config: Config) -> dict:
    """Counts for the clinic page: patients by DXA status, reminders by state, flags by severity."""
    cohort = cohort_facts(engine, as_of=as_of, config=config)
    status = cohort.rows["status"].value_counts()
    states = _reminder_index(engine, config)["state"].value_counts()
    severity = cohort.open_flags["severity"].value_counts()
    patients = cohort.patients["status"].value_counts()
    return {"as_of": as_of,
            "dxa": [(s, int(status.get(s, 0))) for s in ("overdue", "due", "due_soon", "not_due")],
            "reminders": [(s, int(states.get(s, 0))) for s in ("open", "deferred", "closed")],
            "flags": [(s, int(severity.get(s, 0))) for s in ("urgent", "warn", "info")],
            "patients": [(str(s), int(n)) for s, n in patients.items()]}


def overdue_csv(engine: Engine, *, as_of: date, config: Config, actor: str) -> tuple[bytes, int]:
    """The overdue-surveillance export (INTERFACE.md) as bytes for a download, recorded first like
    `monitor export overdue`, which makes it the same way (a chunk of patients at a time: the
    list's rows only are held, never the cohort's evaluation)."""
    from monitor.services.list_streams import file_bytes, spool_due

    out = spool_due(engine, as_of=as_of, config=config, statuses=("due", "overdue"), fmt="csv_file",
                    columns=EXPORT_COLUMNS, prepare="blank_names")
    try:
        data = b"".join(file_bytes(out))
    finally:
        out.close()
    record_web_access(engine, actor=actor, action="export_overdue", subject="web download overdue.csv",
                      rows=out.count, detail={"as_of": as_of.isoformat()})
    return data, out.count


class _Stopping(Exception):
    """The server is stopping: the warming thread leaves its work between two chunks."""


def keep_warm(engine: Engine, config: Config, as_of, *, every_s: float, stop: threading.Event) -> threading.Thread:
    """Keep what the pages read in memory for the next page (`monitor serve`): every `every_s`
    seconds, a thread reads the data's version and, when it moved (an import, a new day, a write),
    makes the cohort again (services.web_cache), and the reminder states and the review list's
    order, before anyone asks; a page asked for meanwhile waits for it as it would for its own.
    `as_of()` is the evaluation date. A failure is logged by its kind only (no patient data) and
    tried again next time; the pages then make what they need as they would anyway.

    Setting `stop` ends the thread at its next step: between two chunks of the cohort, or after
    the cohort when it is one chunk (the server joins it before the process exits: a thread still
    inside pandas or Arrow while Python shuts down can abort the process)."""
    import logging
    import time

    log = logging.getLogger("monitor.web")

    def check(_message: str = "") -> None:
        if stop.is_set():
            raise _Stopping()

    def loop():
        while not stop.is_set():
            try:
                day, before, started = as_of(), CACHE.held("cohort"), time.perf_counter()
                cohort = cohort_facts(engine, as_of=day, config=config, progress=check)
                check()
                _reminder_index(engine, config)
                check()
                review_order(engine, as_of=day, config=config)
                if CACHE.held("cohort") is not before:
                    log.info("cohort in memory for %s: %d active patients (%.1f s)", day, len(cohort.rows),
                             time.perf_counter() - started)
            except _Stopping:
                return
            except Exception as exc:  # noqa: BLE001 - the pages still work without it
                log.warning("keeping the cohort in memory failed (%s); the next page makes it", type(exc).__name__)
            stop.wait(every_s)

    thread = threading.Thread(target=loop, name="monitor-web-warm", daemon=True)
    thread.start()
    return thread


def record_web_access(engine: Engine, *, actor: str, action: str, subject: str, rows: int = 0,
                      detail: dict | None = None) -> None:
    """What a web account saw, recorded before the page is sent: the actor is the account (`web:alice`)."""
    with store.transaction(engine) as conn:
        store.record_event(conn, actor=actor, action=action, subject=subject, rows=rows, detail=detail)


def patient_reminders(engine: Engine, mrn: str, *, config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One patient's reminders with their states (newest first), and all their events, oldest first."""
    from monitor.store.tables import Patient, Reminder, ReminderEvent

    r, e, p = Reminder.__table__, ReminderEvent.__table__, Patient.__table__
    with store.reading(engine) as conn:
        reminders = pd.DataFrame(conn.execute(
            select(r.c.id.label("reminder_id"), r.c.patient_id, r.c.item, r.c.due_date)
            .join(p, p.c.id == r.c.patient_id).where(p.c.mrn == mrn)).all(),
            columns=["reminder_id", "patient_id", "item", "due_date"])
        ids = [int(i) for i in reminders["reminder_id"]]
        events = pd.DataFrame(conn.execute(
            select(e.c.id.label("event_id"), e.c.reminder_id, e.c.at, e.c.actor, e.c.kind, e.c.outcome, e.c.reason,
                   e.c.until, e.c.assignee, e.c.due_by, e.c.booked_on)
            .where(e.c.reminder_id.in_(ids)).order_by(e.c.id)).all() if ids else [],
            columns=["event_id", "reminder_id", "at", "actor", "kind", "outcome", "reason", "until", "assignee",
                     "due_by", "booked_on"])
    reminders["due_date"] = pd.to_datetime(reminders["due_date"]).astype("datetime64[us]")
    events["at"] = pd.to_datetime(events["at"], utc=True)
    for column in ("until", "due_by", "booked_on"):
        events[column] = pd.to_datetime(events[column]).astype("datetime64[us]")
    states = reminder_states(reminders, events, zone=config.zone) if len(reminders) else reminders.assign(state="")
    events = events.assign(detail=[_event_detail(e) for e in events.itertuples()])
    return states.sort_values("due_date", ascending=False).reset_index(drop=True), events


def _event_detail(e) -> str:
    """What an event carried beyond its kind, as the CLI's history shows it (services.reminders)."""
    from monitor.services.reminders import event_detail

    return event_detail(e)


SCAN_SITES = (("total_hip", "left", "L total hip"), ("femoral_neck", "left", "L femoral neck"),
              ("total_hip", "right", "R total hip"), ("femoral_neck", "right", "R femoral neck"),
              ("lumbar_spine", "", "Spine"))


@dataclass(frozen=True)
class PatientPage:
    report: object  # reports.data.PatientReport, flags marked acknowledged
    scan_rows: list[dict]  # one per scan date: date, scanner, and per site a cell (bmd, t, vs previous, vs baseline)
    sites: list[str]  # the site columns this patient has
    reminders: pd.DataFrame
    events: pd.DataFrame
    contact: object = None  # services.patient_status.Contact


def patient_report(engine: Engine, mrn: str, *, as_of: date, config: Config):
    """One patient's report data with acknowledgements applied, evaluated for this patient alone
    (a few queries for that patient; the same result as the cohort's evaluation gives them).

    The latest few are kept, keyed on the data's version like the cohort (services.web_cache):
    the page shown again after an outreach is recorded, or the chart beside it, is not evaluated
    again; any write an evaluation reads makes it again."""
    from monitor.services.evaluation import check_mrn

    mrn = check_mrn(mrn)
    return CACHE.recent("patient report", (_evaluation_key(engine, as_of, config), mrn),
                        lambda: _evaluated_report(engine, mrn, as_of=as_of, config=config), keep=REPORTS_KEPT)


REPORTS_KEPT = 64


def _evaluated_report(engine: Engine, mrn: str, *, as_of: date, config: Config):
    from monitor.reports.data import patient_reports
    from monitor.rules.evaluation import evaluate
    from monitor.services.acknowledgements import load_acknowledgements
    from monitor.services.evaluation import patient_history

    cohort = patient_history(engine, mrn)
    pid = int(cohort.patients["patient_id"].iloc[0])
    evaluation = evaluate(cohort, as_of=as_of, config=config,
                          acknowledgements=load_acknowledgements(engine, patient_id=pid))
    return next(patient_reports(evaluation, config, [pid]))


def patient_page(engine: Engine, mrn: str, *, as_of: date, config: Config) -> PatientPage:
    report = patient_report(engine, mrn, as_of=as_of, config=config)
    trend = report.trend
    scan_rows, used = [], set()
    for day, group in (trend.groupby("scan_date", sort=True) if len(trend) else []):
        row = {"date": pd.Timestamp(day).date().isoformat(), "scanner": str(group["scanner"].iloc[0] or ""),
               "cells": {}}
        for site, side, label in SCAN_SITES:
            hit = group.loc[(group["site"] == site) & (group["side"] == side)]
            if len(hit):
                used.add(label)
                row["cells"][label] = _scan_cell(hit.iloc[0])
        scan_rows.append(row)
    from monitor.services.patient_status import contact_of

    reminders, events = patient_reminders(engine, mrn, config=config)
    sites = [label for _, _, label in SCAN_SITES if label in used]
    contact = contact_of(engine, int(report.patient["patient_id"]))
    return PatientPage(report, list(reversed(scan_rows)), sites, reminders, events, contact)


def _scan_cell(r) -> dict:
    from monitor.rules.trends import format_delta

    def change(tag):
        if pd.isna(r[f"delta_{tag}"]):
            return None
        rate = "" if pd.isna(r[f"pct_year_{tag}"]) else f", {r[f'pct_year_{tag}']:+.1f}%/yr"
        return {"text": f"{format_delta(r[f'delta_{tag}'], r['lsc_g_cm2'])} ({r[f'pct_{tag}']:+.1f}%{rate})",
                "significant": bool(r[f"significant_{tag}"])}

    t_score = r.get("t_score")
    return {"bmd": f"{r['bmd_g_cm2']:.3f}", "t": "" if t_score is None or pd.isna(t_score) else f"{t_score:+.1f}",
            "prev": change("prev"), "base": change("base")}


def patient_chart_svg(engine: Engine, mrn: str, *, as_of: date, config: Config) -> bytes:
    """The patient's trend chart (reports.chart) as SVG."""
    import io

    from monitor.reports.chart import patient_figure

    fig = patient_figure(patient_report(engine, mrn, as_of=as_of, config=config))
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()
