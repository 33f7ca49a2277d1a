"""The nightly run's cohort, evaluated a chunk of patients at a time (services.chunks).

The evaluation is read first, outside the write transaction (a write lock is never held while
the cohort is evaluated), and only what the run needs afterwards is kept of each chunk: the
schedule columns reminder planning and the worklist read, each patient's MRN/name/status, the
unacknowledged urgent flags (patient and code: the worklist's urgent rule, the digest), the
digest's counts and titles, and the warn/urgent flags' `flag_seen` keys. The write transaction
then plans and lists the reminders a range of patients at a time (WRITE_CHUNKS neighbouring
chunks), reading the reminders of a range's patient ids only; the worklist rows of every range
are sorted into the one list's order at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import Engine

from monitor.config import Config
from monitor.rules.worklist import DUE_ORDER

# What reminder planning (rules.reminders.plan_nightly) and the worklist (rules.worklist) read.
SCHEDULE_COLUMNS = ["patient_id", "due_date", "status", "last_scan_date", "days_overdue", "interval_months",
                    "risk_factors", "flags"]
PATIENT_COLUMNS = ["patient_id", "mrn", "name", "status"]
_LOWEST, _HIGHEST = -(2 ** 62), 2 ** 62
# The write transaction plans and lists reminders a range of patients at a time: this many
# neighbouring evaluation chunks joined (each range costs its own queries and reminder states;
# its reminders stay a few thousand rows per chunk, whatever the cohort's size).
WRITE_CHUNKS = 5


@dataclass(frozen=True)
class Patients:
    """What the worklist and the digest read of a cohort: its patients."""

    patients: pd.DataFrame


@dataclass(frozen=True)
class Facts:
    """What the nightly keeps of one chunk's evaluation (or of several together): it reads like
    an Evaluation (as_of, cohort.patients, schedule, flags) for the rules that take one."""

    as_of: date
    cohort: Patients
    schedule: pd.DataFrame
    flags: pd.DataFrame


@dataclass
class NightlyCohort:
    """The cohort's evaluation in compact form: per chunk, its id range and its facts, and the
    warn/urgent flags' `flag_seen` keys; `patients` and `flags` count the whole cohort's."""

    as_of: date
    ranges: list[tuple[int, int]]
    facts: list[Facts]
    digests: list  # per chunk, jobs.delivery.DigestFlags
    keys: pd.DataFrame
    patients: int = 0
    flags: int = 0

    def write_ranges(self) -> list[tuple[int, int]]:
        """The chunks' ranges widened to cover every id: a reminder whose patient is not in the
        evaluation (gone since) is still read, and closed, as when the run read every reminder."""
        if not self.ranges:
            return [(_LOWEST, _HIGHEST)]
        his = [hi for _lo, hi in self.ranges]
        los = [_LOWEST] + [hi + 1 for hi in his[:-1]]
        return list(zip(los, his[:-1] + [_HIGHEST]))

    def digest(self):
        """What the digest reads of the whole cohort's flags (jobs.delivery.DigestFlags)."""
        from monitor.jobs.delivery import DigestFlags

        parts = self.digests or [_digest_part(_facts_per_range(self)[0], _no_keys(), None)]
        return DigestFlags(_concat([d.urgent for d in parts]), _concat([d.titles for d in parts]),
                           sum(d.waiting for d in parts), sum(d.waiting_urgent for d in parts),
                           pd.concat([d.mrns for d in parts]))


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The frames one under the other; empty ones add nothing (nor change a column's type)."""
    full = [f for f in frames if len(f)]
    if not full:
        return frames[0] if frames else pd.DataFrame()
    return pd.concat(full, ignore_index=True) if len(full) > 1 else full[0].reset_index(drop=True)


def evaluate_nightly(engine: Engine, *, as_of: date, config: Config, progress=None) -> NightlyCohort:
    """Evaluate the cohort chunk by chunk, keeping each chunk's facts and the fingerprinted
    warn/urgent flags (with `[scale] evaluation_workers`, workers read and evaluate the chunks)."""
    from monitor.services.chunks import chunk_results, consistent

    def run(read_in_workers: bool) -> NightlyCohort:
        ranges, facts, joined, digests, keys, patients, flag_count = [], [], [], [], [], 0, 0
        for id_range, (part, digest, chunk_keys, n_patients, n_flags) in chunk_results(
                engine, config=config, work=nightly_part, args=(as_of, config), read_in_workers=read_in_workers,
                progress=progress):
            if facts and joined[-1] < WRITE_CHUNKS:
                ranges[-1] = (ranges[-1][0], id_range[1])
                facts[-1] = _joined(facts[-1], part)
                joined[-1] += 1
            else:
                ranges.append(id_range)
                facts.append(part)
                joined.append(1)
            digests.append(digest)
            keys.append(chunk_keys)
            patients += n_patients
            flag_count += n_flags
        return NightlyCohort(as_of, ranges, facts, digests, _concat(keys) if keys else _no_keys(), patients,
                             flag_count)
    return consistent(run, progress)


def _joined(first: Facts, then: Facts) -> Facts:
    """Two neighbouring chunks' facts as one (the second's patients follow the first's)."""
    return Facts(first.as_of, Patients(_concat([first.cohort.patients, then.cohort.patients])),
                 _concat([first.schedule, then.schedule]), _concat([first.flags, then.flags]))


def nightly_part(cohort, acks: pd.DataFrame, as_of: date, config: Config) -> tuple:
    """What the run keeps of one chunk (no database: services.chunk_workers may run it in a worker):
    its Facts, DigestFlags, `flag_seen` keys, and how many patients and flags it has.

    Evaluated once, with the evidence the `flag_seen` fingerprints need (as `flags ack` takes
    them): evaluating without it and again with it for the flagged patients cost twice as much."""
    from monitor.jobs.delivery import DigestFlags
    from monitor.rules.acknowledgements import by_code, seen_keys
    from monitor.rules.evaluation import evaluate

    evaluation = evaluate(cohort, as_of=as_of, config=config, evidence=True, acknowledgements=acks)
    codes = by_code(evaluation.flags)  # what both the `flag_seen` keys and the digest group by
    chunk_keys = seen_keys(evaluation.flags, codes=codes)
    digest = _digest_part(evaluation, chunk_keys, DigestFlags.of(evaluation, codes=codes))
    facts = Facts(as_of, Patients(evaluation.cohort.patients[PATIENT_COLUMNS].reset_index(drop=True)),
                  evaluation.schedule[SCHEDULE_COLUMNS].reset_index(drop=True),
                  digest.urgent.assign(severity="urgent"))  # what rules.worklist.urgent_patients reads
    return facts, digest, chunk_keys, len(evaluation.schedule), len(evaluation.flags)


def _digest_part(evaluation, keys: pd.DataFrame, digest):
    """A chunk's DigestFlags, compact: only the titles of urgent codes (those tonight may see
    first), only the MRNs of the patients named."""
    from monitor.jobs.delivery import DigestFlags

    if digest is None:  # no patients at all
        empty = pd.DataFrame({"patient_id": pd.Series(dtype="int64"), "code": pd.Series(dtype="str")})
        return DigestFlags(empty, empty.assign(title=pd.Series(dtype="str")), 0, 0,
                           pd.Series(dtype="str", index=pd.Index([], dtype="int64", name="patient_id")))
    urgent = digest.urgent.astype({"code": str}).reset_index(drop=True)
    maybe_new = keys.loc[keys["severity"] == "urgent", ["patient_id", "code"]].astype({"code": str})
    titles = digest.titles.astype({"code": str, "title": str}).merge(maybe_new, on=["patient_id", "code"])
    named = pd.Index(urgent["patient_id"]).union(pd.Index(titles["patient_id"]))
    return DigestFlags(urgent, titles, digest.waiting, digest.waiting_urgent,
                       digest.mrns.loc[digest.mrns.index.isin(named)])


def _no_keys() -> pd.DataFrame:
    from monitor.rules.acknowledgements import seen_keys

    return seen_keys(pd.DataFrame(columns=["patient_id", "code", "severity", "title", "evidence"]))


@dataclass(frozen=True)
class Plan:
    """Tonight's reminder changes over the cohort (rules.reminders.NightlyPlan's frames)."""

    new: pd.DataFrame
    close: pd.DataFrame
    reopen: pd.DataFrame


def plan_nightly(conn, cohort: NightlyCohort, *, as_of: date, config: Config) -> tuple[Plan, dict]:
    """Tonight's reminder changes chunk by chunk, from the reminders as they stand, and their counts."""
    from monitor.rules.flag_frames import lookup
    from monitor.rules.reminders import plan_nightly as plan_chunk, reminder_states
    from monitor.store.reminders import load_reminders

    parts = []
    for facts, id_range in zip(_facts_per_range(cohort), cohort.write_ranges()):
        states = reminder_states(*load_reminders(conn, id_range))
        part = plan_chunk(facts.schedule, states, facts.cohort.patients, as_of=as_of,
                          remind_statuses=config.jobs.remind_statuses)
        mrns = facts.cohort.patients.set_index("patient_id")["mrn"]
        parts.append(Plan(part.new.assign(mrn=lookup(part.new["patient_id"], mrns)), part.close, part.reopen))
        del states
    # New reminders in the schedule's order (due date, MRN), as they would be opened all at once: their ids.
    new = _concat([p.new for p in parts])
    new = new.sort_values(["due_date", "mrn"], kind="stable").drop(columns="mrn") if len(new) else new
    plan = Plan(new.reset_index(drop=True),
                _by_id(_concat([p.close for p in parts])), _by_id(_concat([p.reopen for p in parts])))
    counts = {"patients": cohort.patients, "new": len(plan.new), "closed": len(plan.close),
              "reopened": len(plan.reopen), "flags": cohort.flags}
    return plan, counts


def _by_id(frame: pd.DataFrame) -> pd.DataFrame:
    """Reminders in id order (their events are recorded in that order, whatever the chunks)."""
    return frame.sort_values("reminder_id", kind="stable").reset_index(drop=True) if len(frame) else frame


def _facts_per_range(cohort: NightlyCohort) -> list[Facts]:
    if cohort.facts:
        return cohort.facts
    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in SCHEDULE_COLUMNS})
    return [Facts(cohort.as_of, Patients(pd.DataFrame(columns=PATIENT_COLUMNS)), empty,
                  pd.DataFrame(columns=["patient_id", "code", "severity"]))]


def working_list(conn, cohort: NightlyCohort, *, config: Config) -> pd.DataFrame:
    """Tonight's worklist (rules.worklist.working_list), its chunks' rows in the one list's order."""
    from monitor.rules.reminders import reminder_states
    from monitor.rules.worklist import working_list as chunk_list
    from monitor.store.reminders import load_reminders

    parts = []
    for facts, id_range in zip(_facts_per_range(cohort), cohort.write_ranges()):
        states = reminder_states(*load_reminders(conn, id_range), zone=config.zone)
        parts.append(chunk_list(states, facts))
        del states
    work = _concat(parts)
    by, ascending = DUE_ORDER  # rules.worklist.reminder_table's order, over the chunks' rows together
    return work.sort_values(by, ascending=ascending, kind="stable").reset_index(drop=True)
