"""Files of patient data: the overdue export and patient reports, staged, recorded, then published."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from monitor.config import Config
from monitor.formats.files import write_private_bytes, write_private_frame
from monitor.rules.evaluation import EXPORT_COLUMNS, Evaluation, due_rows, evaluate
from monitor.services.audit import record_access
from monitor.services.evaluation import patient_history


def due_list(engine: Engine, evaluation: Evaluation, statuses: tuple[str, ...] = (), *, config: Config):
    """The surveillance list (rules.evaluation.due_rows) with each patient's phone, preferred
    contact and reminder state: what `monitor due` shows and the overdue export writes."""
    from monitor import store
    from monitor.services.reminders import reminder_summary
    from monitor.store.reminders import load_contacts

    with store.reading(engine) as conn:
        contacts = load_contacts(conn)
    return due_rows(evaluation, statuses, contacts=contacts,
                    reminders=reminder_summary(engine, evaluation, config=config))


def export_overdue(engine: Engine, target: Path, *, evaluation: Evaluation, by: str | None = None,
                   config: Config | None = None) -> int:
    """Write the overdue-surveillance list (due and overdue), owner-only, and record who did it:
    an Excel workbook when the target's name ends in `.xlsx`, else CSV (UTF-8 with a BOM).

    The file is staged beside the target, the export recorded, then the file renamed into
    place: a file on disk always has its audit record."""
    rows = due_list(engine, evaluation, ("due", "overdue"), config=config or Config())
    rows = rows.assign(name=rows["name"].fillna(""))
    target = Path(target)
    record = lambda: record_access(  # noqa: E731
        engine, action="export_overdue", subject=str(target.resolve()), rows=len(rows), by=by,
        detail={"as_of": evaluation.as_of.isoformat(), "format": "xlsx" if is_xlsx(target) else "csv"})
    if is_xlsx(target):
        from monitor.formats.xlsx_write import frame_xlsx_bytes

        write_private_bytes(target, frame_xlsx_bytes(rows[EXPORT_COLUMNS], sheet="overdue"), record=record)
        return len(rows)
    return write_private_frame(target, rows[EXPORT_COLUMNS], record=record)


def export_overdue_chunked(engine: Engine, target: Path, *, as_of: date, config: Config, by: str | None = None,
                           progress=None) -> int:
    """`export_overdue` evaluated a chunk of patients at a time (services.list_streams): the same
    file, the same audit record; a CSV is written row by row as the chunks' rows merge, a
    workbook from the list's rows only (never the whole cohort's evaluation)."""
    from monitor.services.list_streams import file_bytes, list_frame, spool_due

    target = Path(target)
    xlsx = is_xlsx(target)
    out = spool_due(engine, as_of=as_of, config=config, statuses=("due", "overdue"),
                    fmt="records" if xlsx else "csv_file", columns=EXPORT_COLUMNS, progress=progress,
                    prepare="blank_names")
    try:
        record = lambda: record_access(  # noqa: E731
            engine, action="export_overdue", subject=str(target.resolve()), rows=out.count, by=by,
            detail={"as_of": as_of.isoformat(), "format": "xlsx" if xlsx else "csv"})
        if xlsx:
            from monitor.formats.xlsx_write import frame_xlsx_bytes

            write_private_bytes(target, frame_xlsx_bytes(list_frame(out), sheet="overdue"), record=record)
        else:
            write_private_bytes(target, file_bytes(out), record=record)
    finally:
        out.close()
    return out.count


def is_xlsx(path: Path) -> bool:
    """An Excel workbook by its name's extension."""
    return Path(path).suffix.lower() == ".xlsx"


def reminder_histories(engine: Engine, patient_ids, *, config: Config) -> dict:
    """Per patient id, the reminders with their histories, for the patient reports (one read for all)."""
    from monitor.services.reminders import patients_histories

    return patients_histories(engine, patient_ids, config=config)


# Fewer reports than this are drawn here: starting worker processes (each loads matplotlib) would
# cost more than it saves.
REPORTS_FOR_WORKERS = 4


def rendered_reports(reports, fmt: str, *, count: int, workers: int):
    """Each report (reports.data.PatientReport) with its file's bytes (`patient_file_bytes`), in
    order; drawn by `workers` worker processes when there are at least REPORTS_FOR_WORKERS
    (`count`), a few reports in memory at a time."""
    from collections import deque

    from monitor.reports.patient import patient_file_bytes
    from monitor.services.chunk_workers import in_order

    given: deque = deque()

    def tasks():
        for report in reports:
            given.append(report)
            yield count, patient_file_bytes, (report, fmt)

    for data in in_order(tasks(), workers=workers if count >= REPORTS_FOR_WORKERS else 0):
        yield given.popleft(), data


def write_patient_reports(engine: Engine, evaluation: Evaluation, patient_ids: list[int], folder: Path, *,
                          fmt: str, config: Config, by: str | None = None, progress=None) -> list[Path]:
    """One file per patient, named from safe parts; two MRNs that clean to the same name stay apart.
    Drawn by the evaluation workers (`[scale] evaluation_workers`) when there are several.

    Every file is staged first; the batch is recorded (which patients, where), then published."""
    return stage_patient_reports(engine, _reports_of(engine, evaluation, patient_ids, fmt, config), folder,
                                 count=len(patient_ids), as_of=evaluation.as_of, fmt=fmt, config=config, by=by,
                                 progress=progress)


def _reports_of(engine: Engine, evaluation: Evaluation, patient_ids: list[int], fmt: str, config: Config):
    from monitor.reports.data import patient_reports

    histories = reminder_histories(engine, patient_ids, config=config) if fmt == "pdf" else None
    return patient_reports(evaluation, config, patient_ids, histories)


def stage_patient_reports(engine: Engine, reports, folder: Path, *, count: int, as_of: date, fmt: str,
                          config: Config, by: str | None = None, progress=None) -> list[Path]:
    """`write_patient_reports` of the `count` reports (reports.data.PatientReport) `reports` gives,
    in order (a generator: memory holds a few at a time)."""
    from monitor.formats.files import StagedFile, private_folder, safe_name

    folder = private_folder(folder)
    staged, used, mrns = [], set(), []
    try:
        for report, data in rendered_reports(reports, fmt, count=count, workers=config.scale.evaluation_workers):
            stem = f"patient-{safe_name(report.mrn)}-{as_of.isoformat()}"
            if stem in used:
                stem += f"-id{int(report.patient['patient_id'])}"
            used.add(stem)
            mrns.append(report.mrn)
            staged.append(StagedFile(folder / f"{stem}.{fmt}", data))
            if progress:
                progress()
        record_access(engine, action="report_patients", subject=str(folder.resolve()), rows=len(staged), by=by,
                      detail={"as_of": as_of.isoformat(), "format": fmt, "mrns": mrns})
    except BaseException:
        for f in staged:
            f.discard()
        raise
    return [f.publish() for f in staged]


def write_combined_patient_pdf(engine: Engine, evaluation: Evaluation, patient_ids: list[int], target: Path, *,
                               config: Config, by: str | None = None, progress=None) -> int:
    """One PDF holding every selected patient's report, a bookmark per patient; recorded (which
    patients, where) before the file is renamed into place. Returns the number of patients.
    Each patient's pages are drawn as `write_patient_reports` draws them."""
    return combine_patient_reports(engine, _reports_of(engine, evaluation, patient_ids, "pdf", config), target,
                                   count=len(patient_ids), as_of=evaluation.as_of, config=config, by=by,
                                   progress=progress)


def combine_patient_reports(engine: Engine, reports, target: Path, *, count: int, as_of: date, config: Config,
                            by: str | None = None, progress=None) -> int:
    """`write_combined_patient_pdf` of the `count` reports `reports` gives, in order."""
    from monitor.formats.files import write_private_bytes
    from monitor.reports.patient import combined_pdf_bytes

    rendered = rendered_reports(reports, "pdf", count=count, workers=config.scale.evaluation_workers)
    data, mrns = combined_pdf_bytes(((report.mrn, pdf) for report, pdf in rendered),
                                    f"TOH surveillance reports {as_of.isoformat()}", progress)
    target = Path(target)
    write_private_bytes(target, data, record=lambda: record_access(
        engine, action="report_patients", subject=str(target.resolve()), rows=len(mrns), by=by,
        detail={"as_of": as_of.isoformat(), "format": "pdf", "combined": True, "mrns": mrns}))
    return len(mrns)


REPORT_BATCH = 500  # patients evaluated together for their reports


def reports_in_batches(engine: Engine, mrns: list[str], *, as_of: date, fmt: str, config: Config):
    """The reports (reports.data.PatientReport) of the patients with these MRNs, in this order,
    each batch of REPORT_BATCH evaluated on its own (services.evaluation.evaluate_patients: the
    same report as from the cohort's evaluation) when the one before is drawn: memory holds a
    batch, whatever the cohort's or the selection's size."""
    from monitor.services.evaluation import evaluate_patients

    for start in range(0, len(mrns), REPORT_BATCH):
        batch = mrns[start:start + REPORT_BATCH]
        evaluation = evaluate_patients(engine, batch, as_of=as_of, config=config)
        pid_of = dict(zip(evaluation.cohort.patients["mrn"], evaluation.cohort.patients["patient_id"]))
        ids = [int(pid_of[m]) for m in batch]
        yield from _reports_of(engine, evaluation, ids, fmt, config)
        del evaluation


def select_part(cohort, acks, as_of: date, config: Config, statuses: tuple[str, ...], min_severity: str | None,
                everyone: bool) -> list[str]:
    """A chunk's patients chosen by DXA status, flag severity or all active (select_patients),
    as MRNs in MRN order (no database, no file: it may run in a worker)."""
    from monitor.services.evaluation import select_patients

    evaluation = evaluate(cohort, as_of=as_of, config=config, evidence=False, acknowledgements=acks)
    ids = select_patients(evaluation, statuses=statuses, min_severity=min_severity, everyone=everyone)
    mrn_of = dict(zip(evaluation.cohort.patients["patient_id"], evaluation.cohort.patients["mrn"]))
    return [str(mrn_of[pid]) for pid in ids]


def selected_mrns(engine: Engine, *, as_of: date, config: Config, mrns=(), statuses: tuple[str, ...] = (),
                  min_severity: str | None = None, everyone: bool = False, progress=None) -> list[str]:
    """The MRNs named and those of the patients chosen by DXA status, flag severity or all active
    (select_patients' choice, found a chunk of patients at a time), in MRN order. An MRN named
    that no patient has is refused before anything is evaluated."""
    from monitor.services.chunks import chunk_results, consistent
    from monitor.services.evaluation import known_patients

    chosen = set(known_patients(engine, mrns))
    if statuses or min_severity or everyone:
        def run(read_in_workers: bool) -> set[str]:
            found = set()
            for _range, part in chunk_results(engine, config=config, work=select_part,
                                              args=(as_of, config, tuple(statuses), min_severity, everyone),
                                              read_in_workers=read_in_workers, progress=progress):
                found.update(part)
            return found

        chosen |= consistent(run, progress)
    return sorted(chosen)


def patient_report(engine: Engine, mrn: str, *, as_of: date, config: Config):
    """The data of one patient's report (a few queries for that patient only)."""
    from monitor.reports.data import patient_reports

    evaluation = evaluate(patient_history(engine, mrn), as_of=as_of, config=config)
    pid = int(evaluation.cohort.patients["patient_id"].iloc[0])
    return next(patient_reports(evaluation, config, [pid], reminder_histories(engine, [pid], config=config)))


CALENDAR_STATUSES = ("due_soon", "due", "overdue")


def export_calendar(engine: Engine, target: Path, *, schedule: pd.DataFrame, as_of: date,
                    statuses: tuple[str, ...] = (), with_names: bool = False, by: str | None = None) -> int:
    """Write the due dates of active patients due soon, due or overdue (or `statuses`) as an
    iCalendar file (formats.calendar), owner-only, recorded before it is published. `schedule`:
    the evaluation's schedule on `as_of` (its rows of those statuses are enough)."""
    from monitor.formats.calendar import calendar_bytes

    statuses = tuple(statuses) or CALENDAR_STATUSES
    rows = schedule.loc[schedule["status"].isin(statuses) & schedule["due_date"].notna()]
    rows = rows.sort_values(["due_date", "mrn"], kind="stable")
    rows = rows.assign(due_on=rows["due_date"].dt.date, name=rows["name"].astype("object").where(rows["name"].notna(), ""))
    data = calendar_bytes(rows[["mrn", "name", "status", "due_on", "due_reason"]], as_of=as_of,
                          with_names=with_names)
    target = Path(target)
    write_private_bytes(target, data, record=lambda: record_access(
        engine, action="export_calendar", subject=str(target.resolve()), rows=len(rows), by=by,
        detail={"as_of": as_of.isoformat(), "statuses": list(statuses), "with_names": with_names,
                "mrns": rows["mrn"].tolist()}))
    return len(rows)


def letter_reason(row) -> str:
    """Why the scan is due, in words a patient reads (no codes)."""
    from monitor.reports.letters import long_date

    if row.is_baseline:
        return "It will be the first scan since your hip condition was diagnosed."
    months = int(row.interval_months)
    last = f" Your last scan was on {long_date(row.last_scan_date.date())}." if row.last_scan_date == row.last_scan_date \
        and row.last_scan_date is not None else ""
    return f"We check bone density every {months} months after transient osteoporosis of the hip.{last}"


def write_letters(engine: Engine, target: Path, *, schedule: pd.DataFrame, as_of: date, config: Config,
                  by: str | None = None) -> tuple[int, list[str]]:
    """Recall letters (reports.letters) for active patients due or overdue whose preferred contact
    is a letter, one page each, most overdue first; owner-only, recorded (which patients) before
    the file is published. Returns how many, and the MRNs left out for having no address.
    `schedule`: the evaluation's schedule on `as_of` (its due and overdue rows are enough)."""
    from sqlalchemy import text

    from monitor import store
    from monitor.reports.letters import Letter, address_lines, letters_pdf_bytes

    with store.reading(engine) as conn:
        wanted = pd.read_sql_query(text("SELECT id AS patient_id, address FROM patient "
                                        "WHERE preferred_contact = 'letter'"), conn)
    wanted["patient_id"] = wanted["patient_id"].astype("int64")
    rows = schedule.loc[schedule["status"].isin(("due", "overdue"))].merge(wanted, on="patient_id")
    rows = rows.sort_values(["days_overdue", "mrn"], ascending=[False, True], kind="stable")
    has_address = rows["address"].map(lambda a: bool(address_lines(a)))
    missing = rows.loc[~has_address, "mrn"].tolist()
    letters = [Letter(mrn=r.mrn, name=r.name if isinstance(r.name, str) else "",
                      address_lines=address_lines(r.address), status=r.status, due_on=r.due_date.date(),
                      reason=letter_reason(r))
               for r in rows.loc[has_address].itertuples(index=False)]
    settings = config.letters
    clinic = {"name": settings.clinic_name, "address_lines": list(address_lines(settings.clinic_address)),
              "phone": settings.clinic_phone}
    data = letters_pdf_bytes(letters, as_of=as_of, template_path=settings.template, clinic=clinic)
    target = Path(target)
    write_private_bytes(target, data, record=lambda: record_access(
        engine, action="letters", subject=str(target.resolve()), rows=len(letters), by=by,
        detail={"as_of": as_of.isoformat(), "mrns": [x.mrn for x in letters],
                "no_address": missing}))
    return len(letters), missing
