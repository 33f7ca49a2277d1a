"""The web workspace's memory of the cohort evaluation (seconds on a large clinic), compact.

The cohort is evaluated a chunk of patients at a time (services.chunks, in the evaluation
workers), and of each chunk only what the pages read is kept (`WebCohort`): a worklist row per
active patient, the flags waiting for review with their fingerprints, each patient's open flags'
severities and each patient's MRN, name and status. Never the records, the schedule or every
flag's evidence: a fraction of the evaluation's memory. A patient page evaluates that patient
alone.

Kept keyed on the evaluation date and a cheap read of the data's version (the newest id of every
table an evaluation reads, and the newest audit event that is not a read): any write, by this
process or another, changes the key, so a page never shows data older than the database. A write
that touches a few patients only (an acknowledgement, a status change) patches those patients'
rows; any other write evaluates the cohort again. Reminder states have their own key, so
recording an outreach does not re-evaluate the cohort.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from dataclasses import dataclass, fields
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

from monitor import store
from monitor.config import Config
from monitor.rules.evaluation import Evaluation, due_rows
from monitor.rules.worklist import DUE_ORDER

# Audit actions that change nothing an evaluation reads (views, exports, sign-ins, reminder work,
# the nightly worklist): they must not throw away the cached cohort evaluation.
READ_ACTIONS = ("view%", "export%", "report%", "web%", "account%", "reminder%", "nightly%")
EVALUATION_TABLES = ("patient", "episode", "dxa_measurement", "mri_study", "pregnancy", "symptom", "assessment",
                     "treatment", "flag_acknowledgement", "patient_status_change", "retraction")
REMINDER_TABLES = ("reminder", "reminder_event")


class _Cache:
    """One value per kind, replaced when its key changes. Computing a kind holds that kind's lock
    (one request computes it, the others wait for it), never another kind's: a patient page is
    not held up while the cohort is evaluated."""

    def __init__(self):
        self._lock = threading.Lock()  # the dictionaries only, held briefly
        self._computing: dict[str, threading.RLock] = {}
        self._values: dict[str, tuple[tuple, object]] = {}
        self._patches: dict[tuple, tuple[tuple, frozenset]] = {}
        self._recent: dict[str, OrderedDict] = {}

    def get(self, kind: str, key: tuple, compute):
        with self._lock:
            computing = self._computing.setdefault(kind, threading.RLock())
        with computing:
            held = self.peek(kind, key)
            if held is not None:
                return held
            value = compute()
            with self._lock:
                self._values[kind] = (key, value)
            return value

    def held(self, kind: str) -> tuple | None:
        """(key, value) held for `kind`, whatever its key; None when nothing is held."""
        with self._lock:
            return self._values.get(kind)

    def peek(self, kind: str, key: tuple):
        """The value held for `key`, or None: never computes."""
        with self._lock:
            held = self._values.get(kind)
            return held[1] if held is not None and held[0] == key else None

    def recent(self, kind: str, key: tuple, compute, *, keep: int):
        """The value of `key` among the latest `keep` of `kind` (least recently used dropped);
        computed outside the lock, so two pages are made side by side."""
        with self._lock:
            kept = self._recent.setdefault(kind, OrderedDict())
            if key in kept:
                kept.move_to_end(key)
                return kept[key]
        value = compute()
        with self._lock:
            kept[key] = value
            while len(kept) > keep:
                kept.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._patches.clear()
            self._recent.clear()

    # The cohort's patches: new key -> (the key it was patched from, the patients made again), the
    # latest few, so a value made from an older cohort (the review list) can be patched the same way.
    MAX_PATCHES = 64

    def note_patch(self, old_key: tuple, new_key: tuple, patients: frozenset) -> None:
        with self._lock:
            self._patches[new_key] = (old_key, patients)
            while len(self._patches) > self.MAX_PATCHES:
                del self._patches[next(iter(self._patches))]

    def patched_since(self, old_key: tuple, new_key: tuple) -> frozenset | None:
        """The patients whose rows differ between the cohorts of `old_key` and `new_key`, when one
        was patched into the other (through the patches kept); None when it was not."""
        with self._lock:
            patients, key = frozenset(), new_key
            for _ in range(self.MAX_PATCHES + 1):
                if key == old_key:
                    return patients
                step = self._patches.get(key)
                if step is None:
                    return None
                key, patients = step[0], patients | step[1]
            return None


CACHE = _Cache()


def _max_ids(conn, tables) -> tuple:
    present = set(_present_tables(conn))
    parts = [f"(SELECT max(id) FROM {t})" if t in present else "NULL" for t in tables]
    return tuple(conn.execute(text("SELECT " + ", ".join(parts))).one())


def _present_tables(conn) -> list[str]:
    from sqlalchemy import inspect

    return inspect(conn).get_table_names()


def data_version(engine: Engine) -> tuple:
    """The newest id of every table an evaluation reads, and of the newest audit event that is not a
    read (an import that only updated rows, a retraction restored): a few index look-ups."""
    not_read = " AND ".join(f"action NOT LIKE '{p}'" for p in READ_ACTIONS)
    with store.reading(engine) as conn:
        ids = _max_ids(conn, EVALUATION_TABLES)
        last_write = conn.execute(text(f"SELECT id FROM audit_event WHERE {not_read} ORDER BY id DESC LIMIT 1")).scalar()
    return ids + (last_write,)


def seen_version(engine: Engine) -> tuple:
    """The newest `flag_seen` row (only the nightly run writes them, and never changes one)."""
    with store.reading(engine) as conn:
        return _max_ids(conn, ("flag_seen",))


def reminder_version(engine: Engine) -> tuple:
    with store.reading(engine) as conn:
        return _max_ids(conn, REMINDER_TABLES)


def _evaluation_key(engine: Engine, as_of: date, config: Config) -> tuple:
    return (as_of, id(config), data_version(engine))


# The worklist's columns (one row per active patient) and its order: most overdue first.
WORKLIST_COLUMNS = ["patient_id", "mrn", "name", "birth_date", "status", "due_date", "days_overdue", "flags",
                    "is_urgent", "hay"]
WAITING_COLUMNS = ["patient_id", "code", "severity", "title", "evidence", "fingerprint", "action", "sources"]


@dataclass(frozen=True)
class WebCohort:
    """What the workspace's pages read of the cohort evaluated on `as_of`; every frame holds
    rows of single patients (so a patient's rows can be replaced), in patient id order but
    `rows`, which is in the worklist's order."""

    as_of: date
    rows: pd.DataFrame  # the worklist: WORKLIST_COLUMNS, one row per active patient
    waiting: pd.DataFrame  # rules.acknowledgements.review_candidates, with each flag's action and sources
    open_flags: pd.DataFrame  # patient_id, severity: one per patient and code not acknowledged (the first row)
    patients: pd.DataFrame  # patient_id, mrn, name, status: every patient


_TYPES = {"rows": {"patient_id": "int64", "mrn": "str", "name": "str", "birth_date": "str", "status": "str",
                   "due_date": "str?", "days_overdue": "int64", "flags": "str", "is_urgent": "bool", "hay": "str"},
          "waiting": {c: "int64" if c == "patient_id" else "str" for c in WAITING_COLUMNS},
          "open_flags": {"patient_id": "int64", "severity": "str"},
          "patients": {"patient_id": "int64", "mrn": "str", "name": "str", "status": "str"}}


def web_facts(evaluation: Evaluation) -> WebCohort:
    """The pages' part of an evaluation made with evidence and acknowledgements (pure: a chunk's
    in a worker, or one patient's after an acknowledgement)."""
    from monitor.rules.acknowledgements import review_candidates, unacknowledged

    people = evaluation.cohort.patients
    flags = evaluation.flags
    open_flags = unacknowledged(flags)
    rows = due_rows(evaluation)
    if len(rows):
        by_mrn = people.set_index("mrn")
        names = rows["name"].astype("object").fillna("").astype("str")
        rows = rows.assign(
            birth_date=pd.to_datetime(rows["mrn"].map(by_mrn["birth_date"])).dt.strftime("%Y-%m-%d"),
            patient_id=rows["mrn"].map(by_mrn["patient_id"]).astype("int64"), name=names)
        urgent = open_flags.loc[open_flags["severity"] == "urgent", "patient_id"]
        rows = rows.assign(is_urgent=rows["patient_id"].isin(urgent),
                           hay=rows["mrn"].str.casefold() + "\n" + rows["name"].str.casefold())
    else:
        rows = pd.DataFrame({c: [] for c in WORKLIST_COLUMNS})
    details = flags.drop_duplicates(["patient_id", "code"])[["patient_id", "code", "action", "sources"]]
    details = details.astype({"patient_id": "int64", "code": "str", "action": "str", "sources": "str"})
    waiting = review_candidates(flags).merge(details, on=["patient_id", "code"], how="left")
    counted = open_flags.drop_duplicates(["patient_id", "code"])
    return WebCohort(evaluation.as_of,
                     _typed(rows[WORKLIST_COLUMNS], "rows"),
                     _by_patient(_typed(waiting[WAITING_COLUMNS], "waiting")),
                     _by_patient(_typed(counted[["patient_id", "severity"]], "open_flags")),
                     _by_patient(_typed(people[["patient_id", "mrn", "name", "status"]], "patients")))


def _typed(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """`frame` with plain column types (categories and objects would not stack across chunks);
    "str?" is text that may be missing (a blank due date sorts last), "str" is blank instead."""
    out = {}
    for column, dtype in _TYPES[kind].items():
        values = frame[column].reset_index(drop=True)
        if dtype == "str":
            values = values.astype("object").fillna("")
        out[column] = values.astype("str" if dtype == "str?" else dtype)
    return pd.DataFrame(out)


def _by_patient(frame: pd.DataFrame) -> pd.DataFrame:
    """In patient id order, each patient's rows in their order."""
    return frame.sort_values("patient_id", kind="stable").reset_index(drop=True)


def _in_worklist_order(rows: pd.DataFrame) -> pd.DataFrame:
    by, ascending = DUE_ORDER  # rules.evaluation.due_rows' order
    return rows.sort_values(by, ascending=ascending, kind="stable").reset_index(drop=True)


def joined(parts: list[WebCohort], as_of: date, config: Config) -> WebCohort:
    """The chunks' parts (in patient id order) as the cohort's: the frames one under the other,
    the worklist sorted again (its order is total: an MRN is one row)."""
    if not parts:
        from monitor.rules.cohort import Cohort
        from monitor.rules.evaluation import evaluate

        return web_facts(evaluate(Cohort.from_frames(), as_of=as_of, config=config, evidence=True))
    frames = {f.name: pd.concat([getattr(p, f.name) for p in parts], ignore_index=True)
              for f in fields(WebCohort) if f.name != "as_of"}
    frames["rows"] = _in_worklist_order(frames["rows"])
    return WebCohort(as_of, **frames)


def evaluate_for_web(engine: Engine, *, as_of: date, config: Config, progress=None) -> WebCohort:
    """The cohort evaluated a chunk at a time (in the evaluation workers), only the pages' part of
    each chunk kept. `progress(message)` is called before each chunk (and may raise to stop)."""
    from monitor.services.chunk_work import web_part
    from monitor.services.chunks import chunk_results, consistent

    def run(read_in_workers: bool) -> WebCohort:
        parts = [part for _range, part in chunk_results(engine, config=config, work=web_part, args=(as_of, config),
                                                        read_in_workers=read_in_workers, progress=progress)]
        return joined(parts, as_of, config)

    return consistent(run, progress)


def cohort_facts(engine: Engine, *, as_of: date, config: Config, key: tuple | None = None,
                 progress=None) -> WebCohort:
    """The pages' part of the cohort evaluated on `as_of`, from memory while the data is unchanged.

    After a write that touches a few patients only (an acknowledgement, a status change), those
    patients are evaluated again and their rows replaced, instead of evaluating the whole cohort
    again (seconds at 100k patients); anything else evaluates the cohort (`progress`: as for
    evaluate_for_web)."""
    key = key or _evaluation_key(engine, as_of, config)

    def compute():
        held = CACHE.held("cohort")
        if held is not None:
            patched = _patched(engine, *held, key=key, config=config)
            if patched is not None:
                cohort, patients = patched
                CACHE.note_patch(held[0], key, frozenset(patients))
                return cohort
        return evaluate_for_web(engine, as_of=as_of, config=config, progress=progress)

    return CACHE.get("cohort", key, compute)


# Writes that change only the patients they name: (table whose max id moves, audit action).
PATCHABLE = {"flag_acknowledgement": "acknowledge_flag", "patient_status_change": "status_change"}
PATCH_MAX_PATIENTS = 50


def _patched(engine: Engine, old_key: tuple, old: WebCohort, *, key: tuple,
             config: Config) -> tuple[WebCohort, set[int]] | None:
    """`old` with the rows of the patients changed since `old_key` made again, and those patients;
    None when the change is not one of PATCHABLE's (or touches too many patients): the caller
    then evaluates the cohort."""
    (as_of, config_id, old_version), (new_as_of, new_config_id, new_version) = old_key, key
    if (as_of, config_id) != (new_as_of, new_config_id) or len(old_version) != len(new_version):
        return None
    tables = EVALUATION_TABLES
    moved = {tables[i] for i in range(len(tables)) if old_version[i] != new_version[i]}
    if not moved <= set(PATCHABLE) or None in (old_version[-1], new_version[-1]):
        return None
    not_read = " AND ".join(f"action NOT LIKE '{p}'" for p in READ_ACTIONS)
    with store.reading(engine) as conn:
        actions = {r[0] for r in conn.execute(text(
            f"SELECT DISTINCT action FROM audit_event WHERE id > :a AND id <= :b AND {not_read}"),
            {"a": old_version[-1], "b": new_version[-1]})}
        if not actions <= set(PATCHABLE.values()):
            return None
        pids = set()
        for i, table in enumerate(tables):
            if table in moved:
                pids |= {int(r[0]) for r in conn.execute(
                    text(f"SELECT patient_id FROM {table} WHERE id > :old"), {"old": old_version[i] or 0})}
    if len(pids) > PATCH_MAX_PATIENTS:
        return None
    if not pids:
        return old, pids
    fresh = [web_facts(_evaluate_one(engine, pid, as_of=as_of, config=config)) for pid in sorted(pids)]
    return spliced(old, fresh, pids), pids


def _evaluate_one(engine: Engine, pid: int, *, as_of: date, config: Config) -> Evaluation:
    from monitor.rules.evaluation import evaluate
    from monitor.services.acknowledgements import load_acknowledgements
    from monitor.services.evaluation import patient_history

    with store.reading(engine) as conn:
        mrn = conn.execute(text("SELECT mrn FROM patient WHERE id = :id"), {"id": pid}).scalar()
    return evaluate(patient_history(engine, mrn), as_of=as_of, config=config, evidence=True,
                    acknowledgements=load_acknowledgements(engine, patient_id=pid))


def spliced(old: WebCohort, fresh: list[WebCohort], pids: set[int]) -> WebCohort:
    """`old` with the rows of `pids` replaced by theirs in `fresh` (each patient's own part), in
    each frame's order: what the cohort evaluated again gives. The kept rows stay in order; the
    fresh ones go where their order puts them (a search, not a sort of the cohort's rows)."""
    frames = {}
    for f in fields(WebCohort):
        if f.name == "as_of":
            continue
        held = getattr(old, f.name)
        kept = held.loc[~held["patient_id"].isin(list(pids))].reset_index(drop=True)
        parts = [getattr(e, f.name) for e in fresh]
        if f.name == "rows":
            parts = [p.iloc[[i]] for p in parts for i in range(len(p))]
            keys = _WorklistKeys(kept)
            inserts = [((bisect.bisect_left(keys, key), key), p) for p in parts for key in [_worklist_key(p.iloc[0])]]
        else:
            ids = kept["patient_id"].to_numpy()
            inserts = [((int(np.searchsorted(ids, pid)), pid), p) for p in parts if len(p)
                       for pid in [int(p["patient_id"].iloc[0])]]
        frames[f.name] = _inserted(kept, inserts)
    return WebCohort(old.as_of, **frames)


def _worklist_key(row) -> tuple:
    """A worklist row's place in DUE_ORDER: most overdue first, then due date (a blank one
    last), then MRN."""
    due = row["due_date"]
    return (-int(row["days_overdue"]), (1, "") if pd.isna(due) else (0, str(due)), str(row["mrn"]))


class _WorklistKeys:
    """The worklist rows' keys (`_worklist_key`) as a sequence for `bisect`, each read when asked."""

    def __init__(self, rows: pd.DataFrame):
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: int) -> tuple:
        return _worklist_key(self._rows.iloc[i])


def _inserted(kept: pd.DataFrame, inserts: list[tuple[tuple, pd.DataFrame]]) -> pd.DataFrame:
    """`kept` with each ((position, order key), rows) put before the kept row at that position,
    rows with the same position in their keys' order."""
    pieces, last = [], 0
    for (position, _key), rows in sorted(inserts, key=lambda item: item[0]):
        pieces += [kept.iloc[last:position], rows]
        last = position
    pieces.append(kept.iloc[last:])
    full = [p for p in pieces if len(p)]
    return pd.concat(full, ignore_index=True) if full else kept.iloc[:0].reset_index(drop=True)
