"""Files of patient data: the overdue export and patient reports, staged, recorded, then published."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from monitor.config import Config
from monitor.formats.files import write_private_frame
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
    """Write the overdue-surveillance CSV (due and overdue), owner-only, and record who did it.

    The file is staged beside the target, the export recorded, then the file renamed into
    place: a file on disk always has its audit record."""
    rows = due_list(engine, evaluation, ("due", "overdue"), config=config or Config())
    rows = rows.assign(name=rows["name"].fillna(""))
    target = Path(target)
    return write_private_frame(target, rows[EXPORT_COLUMNS], record=lambda: record_access(
        engine, action="export_overdue", subject=str(target.resolve()), rows=len(rows), by=by,
        detail={"as_of": evaluation.as_of.isoformat()}))


def reminder_histories(engine: Engine, patient_ids, *, config: Config) -> dict:
    """Per patient id, the reminders with their histories, for the patient reports."""
    from monitor.services.reminders import patient_histories

    return {int(pid): patient_histories(engine, int(pid), config=config) for pid in patient_ids}


def write_patient_reports(engine: Engine, evaluation: Evaluation, patient_ids: list[int], folder: Path, *,
                          fmt: str, config: Config, by: str | None = None, progress=None) -> list[Path]:
    """One file per patient, named from safe parts; two MRNs that clean to the same name stay apart.

    Every file is staged first; the batch is recorded (which patients, where), then published."""
    from monitor.reports.data import patient_reports
    from monitor.reports.patient import patient_file_bytes
    from monitor.formats.files import StagedFile, private_folder, safe_name

    folder = private_folder(folder)
    staged, used, mrns = [], set(), []
    try:
        histories = reminder_histories(engine, patient_ids, config=config) if fmt == "pdf" else None
        for report in patient_reports(evaluation, config, patient_ids, histories):
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


def write_combined_patient_pdf(engine: Engine, evaluation: Evaluation, patient_ids: list[int], target: Path, *,
                               config: Config, by: str | None = None, progress=None) -> int:
    """One PDF holding every selected patient's report, a bookmark per patient; recorded (which
    patients, where) before the file is renamed into place. Returns the number of patients."""
    from monitor.formats.files import write_private_bytes
    from monitor.reports.data import patient_reports
    from monitor.reports.patient import combined_pdf_bytes

    histories = reminder_histories(engine, patient_ids, config=config)
    data, mrns = combined_pdf_bytes(patient_reports(evaluation, config, patient_ids, histories),
                                    f"TOH surveillance reports {evaluation.as_of.isoformat()}", progress)
    target = Path(target)
    write_private_bytes(target, data, record=lambda: record_access(
        engine, action="report_patients", subject=str(target.resolve()), rows=len(mrns), by=by,
        detail={"as_of": evaluation.as_of.isoformat(), "format": "pdf", "combined": True, "mrns": mrns}))
    return len(mrns)


def patient_report(engine: Engine, mrn: str, *, as_of: date, config: Config):
    """The data of one patient's report (a few queries for that patient only)."""
    from monitor.reports.data import patient_reports

    evaluation = evaluate(patient_history(engine, mrn), as_of=as_of, config=config)
    pid = int(evaluation.cohort.patients["patient_id"].iloc[0])
    return next(patient_reports(evaluation, config, [pid], reminder_histories(engine, [pid], config=config)))
