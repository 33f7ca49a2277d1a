"""`monitor export fhir`: care gaps (and with `history` the recorded history) as a FHIR R4 Bundle,
staged owner-only, recorded, then published like every export."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from monitor.config import Config
from monitor.formats.fhir_write import bundle_bytes, care_gap_bundle, history_bundle
from monitor.formats.files import write_private_bytes
from monitor.rules.acknowledgements import unacknowledged
from monitor.rules.evaluation import Evaluation
from monitor.services.audit import record_access

CARE_GAP_STATUSES = ("due_soon", "due", "overdue")


def export_fhir(engine: Engine, target: Path, *, evaluation: Evaluation, history: bool = False,
                by: str | None = None, config: Config | None = None) -> int:
    """Write the Bundle; returns how many patients it holds (due soon, due or overdue; with
    `history`, every patient)."""
    sched = evaluation.schedule
    due = sched.loc[sched["status"].isin(CARE_GAP_STATUSES)]
    due = due.assign(due_date=due["due_date"].dt.strftime("%Y-%m-%d")).sort_values("mrn", kind="stable")
    flags = unacknowledged(evaluation.flags)
    flags = flags.loc[flags["severity"].astype("str").isin(("urgent", "warn"))]
    patients = evaluation.cohort.patients
    if history:
        bundle, count = history_bundle(evaluation.cohort), len(patients)
    else:
        bundle, count = care_gap_bundle(due[["mrn", "status", "due_date", "due_reason"]], patients, flags), len(due)
    target = Path(target)
    write_private_bytes(target, bundle_bytes(bundle), record=lambda: record_access(
        engine, action="export_fhir_history" if history else "export_fhir", subject=str(target.resolve()),
        rows=count, by=by, detail={"as_of": evaluation.as_of.isoformat(), "resources": len(bundle["entry"])}))
    return count
