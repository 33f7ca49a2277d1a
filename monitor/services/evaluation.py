"""The use cases shared by the CLI and the jobs: the imperative shell around the pure rules.

Each function gathers its inputs (database, clock value passed in), calls the pure core, and
acts (writes a file, records an audit event). No click here: errors are MonitorError.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, text

from monitor import store
from monitor.rules.cohort import Cohort
from monitor.config import Config
from monitor.errors import MonitorError, UnknownPatient
from monitor.rules.evaluation import Evaluation, evaluate
from monitor.rules.acknowledgements import mark_acknowledged
from monitor.rules.flags import evaluate_flags
from monitor.services.acknowledgements import load_acknowledgements

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
    return Cohort(**frames)  # read_table's frames are coerced already


def evaluate_patients(engine: Engine, mrns, *, as_of: date, config: Config) -> Evaluation:
    """The patients named, evaluated on their own: the rules are per patient, so each one's
    schedule and flags are what the cohort's evaluation gives them (as `show` and the chunks rely
    on), without reading or evaluating anyone else. A few queries per patient named. Unknown MRNs
    are refused as `select_patients` refuses them."""
    import pandas as pd

    store.require_initialised(engine)
    wanted = list(dict.fromkeys(mrns))
    with store.reading(engine) as conn:
        found = _patient_ids(conn, wanted)
        frames = {kind: [store.read_table(conn, kind, patient_id=found[m]) for m in wanted] for kind in store.TABLES}
    cohort = Cohort.from_frames(**{kind: pd.concat(parts, ignore_index=True) for kind, parts in frames.items()})
    return evaluate(cohort, as_of=as_of, config=config,
                    acknowledgements=load_acknowledgements(engine, patient_ids=found.values()))


def _patient_ids(conn, mrns: list[str]) -> dict[str, int]:
    """Patient id by MRN, one query; an MRN no patient has is refused (all of them named)."""
    from sqlalchemy import bindparam

    if not mrns:
        return {}
    query = text("SELECT id, mrn FROM patient WHERE mrn IN :mrns").bindparams(bindparam("mrns", expanding=True))
    found = {mrn: int(pid) for pid, mrn in conn.execute(query, {"mrns": mrns})}
    unknown = [m for m in mrns if m not in found]
    if unknown:
        raise UnknownPatient(f"no patient with MRN {', '.join(repr(m) for m in unknown)}")
    return found


def known_patients(engine: Engine, mrns) -> list[str]:
    """The MRNs named (once each), refused as `select_patients` refuses them when a patient is unknown."""
    store.require_initialised(engine)
    wanted = list(dict.fromkeys(mrns))
    with store.reading(engine) as conn:
        _patient_ids(conn, wanted)
    return wanted


def check_mrn(mrn: str) -> str:
    if not mrn or len(mrn) > 64:
        raise MonitorError("an MRN is 1 to 64 characters")
    return mrn


def select_patients(evaluation: Evaluation, *, mrns=(), statuses=(), min_severity=None, everyone=False) -> list[int]:
    """Patient ids by MRN, DXA status, flag severity, or all active ones (in MRN order)."""
    from monitor.rules.flag_frames import SEVERITY_RANK, severity_rank

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
