"""The web workspace's memory of the cohort evaluation (seconds on a large clinic).

Kept keyed on the evaluation date and a cheap read of the data's version (the newest id of every
table an evaluation reads, and the newest audit event that is not a read): any write, by this
process or another, changes the key, so a page never shows data older than the database. A write
that touches a few patients only (an acknowledgement, a status change) patches the evaluation for
those patients; any other write evaluates the cohort again. Reminder states have their own key,
so recording an outreach does not re-evaluate the cohort.
"""

from __future__ import annotations

import threading
from datetime import date

import pandas as pd
from sqlalchemy import Engine, text

from monitor import store
from monitor.config import Config
from monitor.rules.evaluation import Evaluation

# Audit actions that change nothing an evaluation reads (views, exports, sign-ins, reminder work,
# the nightly worklist): they must not throw away the cached cohort evaluation.
READ_ACTIONS = ("view%", "export%", "report%", "web%", "account%", "reminder%", "nightly%")
EVALUATION_TABLES = ("patient", "episode", "dxa_measurement", "mri_study", "pregnancy", "symptom", "assessment",
                     "treatment", "flag_acknowledgement", "patient_status_change", "retraction")
REMINDER_TABLES = ("reminder", "reminder_event")


class _Cache:
    """One value per kind, replaced when its key changes; a lock so one request computes it."""

    def __init__(self):
        self._lock = threading.RLock()  # a value may be computed from another cached one
        self._values: dict[str, tuple[tuple, object]] = {}
        self._patches = {}

    def get(self, kind: str, key: tuple, compute):
        with self._lock:
            held = self._values.get(kind)
            if held is not None and held[0] == key:
                return held[1]
            value = compute()
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

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._patches.clear()

    # The evaluation's patches: new key -> (the key it was patched from, the patients evaluated
    # again), the latest few, so a value made from an older evaluation can be patched the same way.
    _patches: dict
    MAX_PATCHES = 64

    def note_patch(self, old_key: tuple, new_key: tuple, patients: frozenset) -> None:
        with self._lock:
            self._patches[new_key] = (old_key, patients)
            while len(self._patches) > self.MAX_PATCHES:
                del self._patches[next(iter(self._patches))]

    def patched_since(self, old_key: tuple, new_key: tuple) -> frozenset | None:
        """The patients whose rows differ between the evaluations of `old_key` and `new_key`, when
        one was patched into the other (through the patches kept); None when it was not."""
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


def cohort_evaluation(engine: Engine, *, as_of: date, config: Config, key: tuple | None = None) -> Evaluation:
    """The cohort evaluated on `as_of` with flag evidence, from memory while the data is unchanged.

    After a write that touches a few patients only (an acknowledgement, a status change), the
    evaluation in memory is patched for those patients instead of evaluating the whole cohort
    again (seconds at 100k patients); anything else evaluates the cohort."""
    from monitor.services.evaluation import evaluate_db

    key = key or _evaluation_key(engine, as_of, config)

    def compute():
        held = CACHE.held("evaluation")
        if held is not None:
            patched = _patched(engine, *held, key=key, config=config)
            if patched is not None:
                evaluation, patients = patched
                CACHE.note_patch(held[0], key, frozenset(patients))
                return evaluation
        return evaluate_db(engine, as_of=as_of, config=config, evidence=True)

    return CACHE.get("evaluation", key, compute)


# Writes that change only the patients they name: (table whose max id moves, audit action).
PATCHABLE = {"flag_acknowledgement": "acknowledge_flag", "patient_status_change": "status_change"}
PATCH_MAX_PATIENTS = 50


def _patched(engine: Engine, old_key: tuple, old: Evaluation, *, key: tuple,
             config: Config) -> tuple[Evaluation, set[int]] | None:
    """`old` with the patients changed since `old_key` evaluated again, and those patients; None
    when the change is not one of PATCHABLE's (or touches too many patients): the caller then
    evaluates the cohort."""
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
    if not pids or len(pids) > PATCH_MAX_PATIENTS:
        return None if len(pids) > PATCH_MAX_PATIENTS else (old, set())
    spliced = _splice(old, [_evaluate_one(engine, pid, as_of=as_of, config=config) for pid in sorted(pids)], pids)
    return None if spliced is None else (spliced, pids)


def _evaluate_one(engine: Engine, pid: int, *, as_of: date, config: Config) -> Evaluation:
    from monitor.rules.evaluation import evaluate
    from monitor.services.acknowledgements import load_acknowledgements
    from monitor.services.evaluation import patient_history

    with store.reading(engine) as conn:
        mrn = conn.execute(text("SELECT mrn FROM patient WHERE id = :id"), {"id": pid}).scalar()
    return evaluate(patient_history(engine, mrn), as_of=as_of, config=config, evidence=True,
                    acknowledgements=load_acknowledgements(engine, patient_id=pid))


def _splice(old: Evaluation, fresh: list[Evaluation], pids: set[int]) -> Evaluation | None:
    """`old` with the rows of `pids` replaced by theirs in `fresh`; None if a value does not fit
    the cohort's column types (then the cohort is evaluated again)."""
    from dataclasses import fields, replace

    def merged(old_frame: pd.DataFrame, new_frames: list[pd.DataFrame]) -> pd.DataFrame | None:
        new = [f for f in new_frames if len(f)]
        mine = old_frame["patient_id"].isin(pids).to_numpy()
        if _same_rows(old_frame.loc[mine], new):
            return old_frame  # (an acknowledgement changes no record: the scans stay, uncopied)
        # The new rows made the cohort's column types first (checking a few rows, not the cohort's).
        new = [_fitted(f, old_frame.dtypes) for f in new]
        if any(f is None for f in new):
            return None
        parts = [old_frame.loc[~mine]] + new
        out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
        return out if (out.dtypes == old_frame.dtypes).all() else _fitted(out, old_frame.dtypes)

    cohort = {}
    for f in fields(old.cohort):
        frame = merged(getattr(old.cohort, f.name), [getattr(e.cohort, f.name) for e in fresh])
        if frame is None:
            return None
        cohort[f.name] = frame
    schedule = merged(old.schedule, [e.schedule for e in fresh])
    flags = merged(old.flags, [e.flags for e in fresh])
    if schedule is None or flags is None:
        return None
    return Evaluation(as_of=old.as_of, cohort=replace(old.cohort, **cohort), schedule=schedule, flags=flags)


def _same_rows(old: pd.DataFrame, new: list[pd.DataFrame]) -> bool:
    """Whether the patients' rows evaluated again are the rows held (in any order, same types)."""
    fresh = pd.concat(new, ignore_index=True) if len(new) > 1 else (new[0] if new else old.iloc[:0])
    if len(fresh) != len(old) or list(fresh.columns) != list(old.columns) or not (fresh.dtypes == old.dtypes).all():
        return False
    if not len(old):
        return True
    columns = list(old.columns)
    return old.sort_values(columns, kind="stable").reset_index(drop=True).equals(
        fresh.sort_values(columns, kind="stable").reset_index(drop=True))


def _fitted(frame: pd.DataFrame, dtypes: pd.Series) -> pd.DataFrame | None:
    """`frame` with the column types `dtypes`; None if a value does not fit one (a text outside a
    categorical column's categories, say)."""
    frame = frame.copy()
    for column, dtype in dtypes.items():
        if frame[column].dtype == dtype:
            continue
        if isinstance(dtype, pd.CategoricalDtype) and not frame[column].dropna().astype(object).isin(
                list(dtype.categories)).all():
            return None
        try:
            frame[column] = frame[column].astype(dtype)
        except (TypeError, ValueError):
            return None
    return frame
