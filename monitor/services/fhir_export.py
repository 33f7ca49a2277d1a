"""`monitor export fhir`: care gaps (and with `history` the recorded history) as a FHIR R4 Bundle,
staged owner-only, recorded, then published like every export."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from monitor.config import Config
from monitor.formats.fhir_write import (bundle_bytes, bundle_pieces, care_gap_bundle, care_gap_resources,
                                        entries_text, history_bundle, history_resources)
from monitor.formats.files import write_private_bytes
from monitor.rules.acknowledgements import unacknowledged
from monitor.rules.evaluation import Evaluation
from monitor.services.audit import record_access

CARE_GAP_STATUSES = ("due_soon", "due", "overdue")


def export_fhir(engine: Engine, target: Path, *, evaluation: Evaluation, history: bool = False,
                by: str | None = None, config: Config | None = None) -> int:
    """Write the Bundle; returns how many patients it holds (due soon, due or overdue; with
    `history`, every patient)."""
    patients = evaluation.cohort.patients
    if history:
        bundle, count = history_bundle(evaluation.cohort), len(patients)
    else:
        due, flags = _care_gaps(evaluation)
        bundle, count = care_gap_bundle(due, patients, flags), len(due)
    target = Path(target)
    write_private_bytes(target, bundle_bytes(bundle), record=lambda: record_access(
        engine, action="export_fhir_history" if history else "export_fhir", subject=str(target.resolve()),
        rows=count, by=by, detail={"as_of": evaluation.as_of.isoformat(), "resources": len(bundle["entry"])}))
    return count


def _care_gaps(evaluation: Evaluation):
    """The patients due soon, due or overdue (by MRN) and their open urgent and warn flags."""
    sched = evaluation.schedule
    due = sched.loc[sched["status"].isin(CARE_GAP_STATUSES)]
    due = due.assign(due_date=due["due_date"].dt.strftime("%Y-%m-%d")).sort_values("mrn", kind="stable")
    flags = unacknowledged(evaluation.flags)
    flags = flags.loc[flags["severity"].astype("str").isin(("urgent", "warn"))]
    return due[["mrn", "status", "due_date", "due_reason"]], flags


def care_gap_part(cohort, acks, as_of, config: Config):
    """A chunk's care gaps (no database, no file: it may run in a worker): per patient due, in MRN
    order, the key (MRN) and the text of its resources among the Bundle's entries; the number of
    resources in `extra`."""
    from monitor.rules.evaluation import evaluate
    from monitor.services.list_streams import Piece

    evaluation = evaluate(cohort, as_of=as_of, config=config, evidence=True, acknowledgements=acks)
    due, flags = _care_gaps(evaluation)
    per_patient = care_gap_resources(due, evaluation.cohort.patients, flags)
    return Piece([mrn for mrn, _ in per_patient], [entries_text(resources) for _, resources in per_patient],
                 extra={"resources": sum(len(resources) for _, resources in per_patient)})


def export_care_gaps_chunked(engine: Engine, target: Path, *, as_of, config: Config, by: str | None = None,
                             progress=None) -> int:
    """`export_fhir`'s care gaps evaluated a chunk of patients at a time (services.chunks, in the
    evaluation workers): each chunk's patients made into entry text where they were evaluated,
    spooled by MRN, and the Bundle written as they merge: the same bytes and audit record, and
    memory holds a chunk, not the cohort. Returns how many patients the Bundle holds."""
    from monitor.services.chunks import chunk_results, consistent
    from monitor.services.list_streams import SpooledList

    def run(read_in_workers: bool) -> SpooledList:
        out = SpooledList("fhir", [])
        try:
            for _range, piece in chunk_results(engine, config=config, work=care_gap_part, args=(as_of, config),
                                               read_in_workers=read_in_workers, progress=progress):
                out.add_piece(piece)
                del piece
        except BaseException:
            out.close()
            raise
        return out

    out = consistent(run, progress)
    target = Path(target)
    try:
        write_private_bytes(target, bundle_pieces(out.rows()), record=lambda: record_access(
            engine, action="export_fhir", subject=str(target.resolve()), rows=out.count, by=by,
            detail={"as_of": as_of.isoformat(), "resources": out.extra.get("resources", 0)}))
    finally:
        out.close()
    return out.count


HISTORY_CHUNK = 1000  # patients per chunk of the history: their Bundle text is ~30 kB a patient


def history_part(cohort, _acks, as_of):
    """A chunk's history (no evaluation: the records known on `as_of`), each patient's resources
    made into entry text, by patient id; the number of resources in `extra`."""
    from monitor.services.list_streams import Piece

    keys, texts, resources = [], [], 0
    for pid, found in history_resources(cohort.known_on(as_of)):
        keys.append(pid)
        texts.append(entries_text(found))
        resources += len(found)
    return Piece(keys, texts, extra={"resources": resources})


def export_history_chunked(engine: Engine, target: Path, *, as_of, config: Config, by: str | None = None,
                           progress=None) -> int:
    """`export_fhir`'s history read a chunk of patients at a time (at most HISTORY_CHUNK, in the
    evaluation workers), each chunk's text written to the staged file as it comes (chunks come in
    patient id order, the Bundle's): the bytes and the audit record of the cohort's history made
    into one Bundle, and memory holds a few chunks' text, not the cohort's. Returns how many
    patients the Bundle holds."""
    from dataclasses import replace

    from monitor.services.chunks import chunk_results, consistent

    size = config.scale.chunk_patients
    config = replace(config, scale=replace(config.scale, chunk_patients=min(size, HISTORY_CHUNK) if size else 0))
    target = Path(target)

    def run(read_in_workers: bool) -> int:
        totals = {"patients": 0, "resources": 0}

        def texts():
            for _range, piece in chunk_results(engine, config=config, work=history_part, args=(as_of,),
                                               read_in_workers=read_in_workers, progress=progress):
                totals["patients"] += len(piece.keys)
                totals["resources"] += piece.extra["resources"]
                yield from piece.payloads
                del piece

        # A pass that ends in DataChanged leaves no file: the staged one is removed, and `consistent` runs it again.
        write_private_bytes(target, bundle_pieces(texts()), record=lambda: record_access(
            engine, action="export_fhir_history", subject=str(target.resolve()), rows=totals["patients"], by=by,
            detail={"as_of": as_of.isoformat(), "resources": totals["resources"]}))
        return totals["patients"]

    return consistent(run, progress)
