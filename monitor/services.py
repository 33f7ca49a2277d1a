"""The use cases shared by the CLI and the jobs: the imperative shell around the pure rules.

Each function gathers its inputs (database, clock value passed in), calls the pure core, and
acts (writes a file, records an audit event). No click here: errors are MonitorError.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

from monitor import store
from monitor.cohort import Cohort
from monitor.config import Config
from monitor.errors import MonitorError, UnknownPatient
from monitor.flagging import SEVERITY_RANK, join_by, severity_rank
from monitor.acknowledgements import load_acknowledgements, mark_acknowledged, unacknowledged
from monitor.flagging import as_categories, sort_flags
from monitor.flags import evaluate_flags
from monitor.safe_files import write_private_frame
from monitor.schedule import risk_factor_table, schedule

EXPORT_COLUMNS = ["mrn", "name", "status", "due_date", "days_overdue", "last_scan_date",
                  "interval_months", "risk_factors", "flags", "as_of"]


def os_user() -> str:
    """The login that runs this process: the audit log's `actor`, always."""
    try:
        return getpass.getuser()[:64]
    except Exception:  # no login name in some containers
        return "unknown"


def check_by(by: str | None) -> str | None:
    """A `--by` name as the audit log can keep it: 1 to 64 printable characters."""
    if by is not None and len(by) > 64:
        raise MonitorError(f"--by: at most 64 characters, got {len(by)}")
    if by is not None and (not by.strip() or not by.isprintable()):
        raise MonitorError("--by: give a name of 1 to 64 printable characters")
    return by


def current_actor(by: str | None = None) -> str:
    """Who a reminder action or run is by: `--by`, else the OS user."""
    return check_by(by) or os_user()


def record_access(engine: Engine, *, action: str, subject: str, rows: int = 0, by: str | None = None,
                  detail: dict | None = None) -> None:
    """Who saw or wrote patient data, when, and what: recorded before the data is shown.

    The OS user is always the actor; `by` (staff working for someone) is kept as on-behalf-of."""
    check_by(by)
    with store.transaction(engine) as conn:
        store.record_event(conn, actor=os_user(), action=action, subject=subject, rows=rows,
                           detail={**(detail or {}), **({"on_behalf_of": by} if by else {})})


def today_in(config: Config) -> date:
    """The clinic's local date: the one place the clock is read, at the shell."""
    return datetime.now(config.zone).date()


@dataclass(frozen=True)
class Evaluation:
    """The cohort on one date: the schedule of every active patient and every flag."""

    as_of: date
    cohort: Cohort
    schedule: pd.DataFrame
    flags: pd.DataFrame


def evaluate(cohort: Cohort, *, as_of: date, config: Config, evidence: bool = True,
             acknowledgements: pd.DataFrame | None = None) -> Evaluation:
    """The schedule and the flags; `evidence=False` for callers that show flag codes only.

    With `acknowledgements`, the flags are marked (`acknowledged_by`, `acknowledged_at`) and the
    schedule's `flags` column (the worklists) leaves the acknowledged ones out."""
    cohort = cohort.known_on(as_of)
    # once, for the intervals and the therapy threshold
    risks = risk_factor_table(cohort, alcohol_drinks_day=config.prevention.alcohol_drinks_day)
    sched = schedule(cohort, as_of=as_of, settings=config.schedule, risks=risks, pregnancy=config.thresholds)
    flags = evaluate_flags(cohort, as_of=as_of, config=config, evidence=evidence, risks=risks)
    flags = apply_acknowledgements(flags, cohort, acknowledgements, as_of=as_of, config=config, evidence=evidence,
                                   risks=risks)
    distinct = unacknowledged(flags).drop_duplicates(["patient_id", "code"]).sort_values(["patient_id", "code"])
    codes = join_by(distinct["patient_id"], distinct["code"], ";")
    sched = sched.assign(flags=codes.reindex(sched["patient_id"].to_numpy()).fillna("").to_numpy())
    return Evaluation(as_of, cohort, sched, flags)


def apply_acknowledgements(flags: pd.DataFrame, cohort: Cohort, acks: pd.DataFrame | None, *, as_of: date,
                           config: Config, evidence: bool, risks: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mark the acknowledged flags. An acknowledgement is matched against the full evidence, so
    the few acknowledged patients are evaluated with it when the caller skipped it."""
    if acks is None or not len(acks):
        return mark_acknowledged(flags, acks if acks is not None else pd.DataFrame())
    if not evidence:
        ids = acks["patient_id"].unique()
        mine = evaluate_flags(cohort.only(ids), as_of=as_of, config=config, evidence=True,
                              risks=None if risks is None else risks.loc[risks["patient_id"].isin(ids)])
        flags = sort_flags(as_categories(pd.concat([flags.loc[~flags["patient_id"].isin(ids)], mine],
                                                   ignore_index=True)))
    return mark_acknowledged(flags, acks)


def _load(engine: Engine, *, as_of: date, mrn: str | None, progress) -> Cohort:
    """One patient's history, or the cohort's, telling `progress` (if any) what it is doing."""
    step = progress or (lambda _message: None)
    step("loading the cohort")
    cohort = patient_history(engine, mrn) if mrn else store.load_cohort(engine)
    step(f"evaluating {len(cohort.patients)} patients as of {as_of.isoformat()}")
    return cohort


def flags_db(engine: Engine, *, as_of: date, config: Config, mrn: str | None = None, progress=None):
    """The flags alone (no schedule), of one patient or of the cohort, with the patients they name."""
    cohort = _load(engine, as_of=as_of, mrn=mrn, progress=progress)
    pid = int(cohort.patients["patient_id"].iloc[0]) if mrn and len(cohort.patients) else None
    acks = load_acknowledgements(engine, patient_id=pid)
    return mark_acknowledged(evaluate_flags(cohort, as_of=as_of, config=config), acks), cohort.patients


def evaluate_db(engine: Engine, *, as_of: date, config: Config, evidence: bool = True, progress=None) -> Evaluation:
    cohort = _load(engine, as_of=as_of, mrn=None, progress=progress)
    return evaluate(cohort, as_of=as_of, config=config, evidence=evidence,
                    acknowledgements=load_acknowledgements(engine))


def due_rows(evaluation: Evaluation, statuses: tuple[str, ...] = ()) -> pd.DataFrame:
    """The surveillance list with the export's fields, most overdue first."""
    frame = evaluation.schedule
    if statuses:
        frame = frame.loc[frame["status"].isin(statuses)]
    out = pd.DataFrame({
        "mrn": frame["mrn"],
        "name": frame["name"],
        "status": frame["status"],
        "due_date": frame["due_date"].dt.strftime("%Y-%m-%d"),
        "days_overdue": frame["days_overdue"].astype("int64"),
        "last_scan_date": frame["last_scan_date"].dt.strftime("%Y-%m-%d").fillna(""),
        "interval_months": frame["interval_months"].astype("int64"),
        "risk_factors": frame["risk_factors"],
        "flags": frame["flags"],
        "as_of": evaluation.as_of.isoformat(),
    })
    out = out.sort_values(["days_overdue", "due_date", "mrn"], ascending=[False, True, True], kind="stable")
    return out.reset_index(drop=True)


FLAG_FIELDS = ["mrn", "code", "severity", "title", "evidence", "action", "sources"]
ACK_FIELDS = ["acknowledged_by", "acknowledged_at", "acknowledged_note"]


def flag_rows(flags: pd.DataFrame, patients: pd.DataFrame, *, min_severity: str = "info",
              codes: tuple[str, ...] = ()) -> pd.DataFrame:
    """The flags with the patient's MRN, most severe first, then by MRN and code."""
    flags = flags.loc[severity_rank(flags["severity"]) >= SEVERITY_RANK[min_severity]]
    if codes:
        flags = flags.loc[flags["code"].isin(codes)]
    mrns = patients.set_index("patient_id")["mrn"]
    out = flags.assign(mrn=flags["patient_id"].map(mrns))
    # Integer keys; flags of one patient and code keep the rules' (deterministic) order.
    mrn_index = pd.factorize(out["mrn"], sort=True)[0]
    code_index = pd.factorize(out["code"], sort=True)[0]
    order = np.lexsort((code_index, mrn_index, -severity_rank(out["severity"]).to_numpy()))
    fields = FLAG_FIELDS + [c for c in ACK_FIELDS if c in out.columns]
    return out.iloc[order][fields].reset_index(drop=True)


def sources_list(sources: str) -> list:
    """'2, 4' -> [2, 4]; a named source stays text."""
    return [int(s) if s.strip().isdigit() else s.strip() for s in sources.split(",") if s.strip()]


def export_overdue(engine: Engine, target: Path, *, evaluation: Evaluation, by: str | None = None) -> int:
    """Write the overdue-surveillance CSV (due and overdue), owner-only, and record who did it.

    The file is staged beside the target, the export recorded, then the file renamed into
    place: a file on disk always has its audit record."""
    rows = due_rows(evaluation, ("due", "overdue"))
    rows = rows.assign(name=rows["name"].fillna(""))
    target = Path(target)
    return write_private_frame(target, rows[EXPORT_COLUMNS], record=lambda: record_access(
        engine, action="export_overdue", subject=str(target.resolve()), rows=len(rows), by=by,
        detail={"as_of": evaluation.as_of.isoformat()}))


def patient_history(engine: Engine, mrn: str) -> Cohort:
    """One patient's whole record as a cohort of one (a few queries, by patient id)."""
    store.require_initialised(engine)
    with store.reading(engine) as conn:
        row = conn.execute(text("SELECT id FROM patient WHERE mrn = :mrn"), {"mrn": mrn}).first()
        if row is None:
            raise UnknownPatient(f"no patient with MRN '{mrn}'")
        frames = {}
        for kind in store.TABLES:
            frames[kind] = store.read_table(conn, kind, patient_id=row[0])
    return Cohort.from_frames(**frames)


def audit_events(engine: Engine, action: str | None = None) -> pd.DataFrame:
    with store.reading(engine) as conn:
        query = "SELECT at, actor, action, subject, rows, detail FROM audit_event"
        params = {}
        if action:
            query += " WHERE action = :action"
            params["action"] = action
        return pd.read_sql_query(text(query + " ORDER BY id"), conn, params=params)


def check_mrn(mrn: str) -> str:
    if not mrn or len(mrn) > 64:
        raise MonitorError("an MRN is 1 to 64 characters")
    return mrn


def select_patients(evaluation: Evaluation, *, mrns=(), statuses=(), min_severity=None, everyone=False) -> list[int]:
    """Patient ids by MRN, DXA status, flag severity, or all active ones (in MRN order)."""
    from monitor.flagging import SEVERITY_RANK, severity_rank

    patients = evaluation.cohort.patients
    by_mrn = dict(zip(patients["mrn"], patients["patient_id"]))
    unknown = [m for m in mrns if m not in by_mrn]
    if unknown:
        raise UnknownPatient(f"no patient with MRN {', '.join(repr(m) for m in unknown)}")
    ids = {int(by_mrn[m]) for m in mrns}
    sched = evaluation.schedule
    if everyone:
        ids |= set(sched["patient_id"].astype(int))
    if statuses:
        ids |= set(sched.loc[sched["status"].isin(statuses), "patient_id"].astype(int))
    if min_severity:
        flags = evaluation.flags
        ids |= set(flags.loc[severity_rank(flags["severity"]) >= SEVERITY_RANK[min_severity], "patient_id"].astype(int))
    mrn_of = dict(zip(patients["patient_id"], patients["mrn"]))
    return sorted(ids, key=lambda pid: mrn_of[pid])


def write_patient_reports(engine: Engine, evaluation: Evaluation, patient_ids: list[int], folder: Path, *,
                          fmt: str, config: Config, by: str | None = None, progress=None) -> list[Path]:
    """One file per patient, named from safe parts; two MRNs that clean to the same name stay apart.

    Every file is staged first; the batch is recorded (which patients, where), then published."""
    from monitor.reports.data import patient_reports
    from monitor.reports.patient import patient_file_bytes
    from monitor.safe_files import StagedFile, private_folder, safe_name

    folder = private_folder(folder)
    staged, used, mrns = [], set(), []
    try:
        for report in patient_reports(evaluation, config, patient_ids):
            stem = f"patient-{safe_name(report.mrn)}-{evaluation.as_of.isoformat()}"
            if stem in used:
                stem += f"-id{int(report.patient['patient_id'])}"
            used.add(stem)
            mrns.append(report.mrn)
            staged.append(StagedFile(folder / f"{stem}.{fmt}", patient_file_bytes(report, fmt)))
            if progress:
                progress()
        record_access(engine, action="report_patients", subject=str(folder.resolve()), rows=len(staged), by=by,
                      detail={"as_of": evaluation.as_of.isoformat(), "format": fmt, "mrns": mrns})
    except BaseException:
        for f in staged:
            f.discard()
        raise
    return [f.publish() for f in staged]


def patient_report(engine: Engine, mrn: str, *, as_of: date, config: Config):
    """The data of one patient's report (a few queries for that patient only)."""
    from monitor.reports.data import patient_reports

    evaluation = evaluate(patient_history(engine, mrn), as_of=as_of, config=config)
    pid = int(evaluation.cohort.patients["patient_id"].iloc[0])
    return next(patient_reports(evaluation, config, [pid]))
