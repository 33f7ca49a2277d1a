"""Validated, all-or-nothing, idempotent import of the clinic's CSV files (INTERFACE.md).

Reading and validating one file is pure (`csv_cells`: text in, typed frame and problems out).
`import_files` is the shell: it reads what it needs of the database in a read-only connection,
checks the rows against it (MRNs, birth dates), plans every insert and update, and only then
opens the write transaction, which re-checks that nothing changed meanwhile and writes.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select, text

from monitor import store
from monitor.csv_cells import REJECTS_RE, ParsedFile, dedupe, dedupe_across, kind_of, parse_file
from monitor.errors import ImportRejected, MonitorError, Problem
from monitor.importspec import EVENT_LABELS, IMPORT_ORDER, SPECS, KindSpec
from monitor.safe_files import frame_csv_bytes

@dataclass
class FileResult:
    file: str
    kind: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejects_file: str | None = None


@dataclass
class ImportReport:
    files: list[FileResult]
    dry_run: bool
    problems: list[Problem]


MAX_PREPARE_ATTEMPTS = 3  # then the last attempt prepares under the write lock, so it always ends


@dataclass
class DbState:
    """What an import needs to know of the database, read in one go (outside the write lock)."""

    stamp: tuple  # cheap fingerprint of the tables read: changed under us -> prepare again
    known: pd.DataFrame  # stored patients: mrn, patient_id, birth_date, enrolled_on
    existing: dict[str, pd.DataFrame]  # table -> its rows, for the tables the import writes


@dataclass
class Plan:
    """One file's writes, computed before the write transaction opens."""

    parsed: ParsedFile
    spec: KindSpec
    result: FileResult
    inserts: dict[str, list]  # table column -> the driver's values of the new rows, in order
    insert_mrns: list[str]  # whose each new row is (a patient new in this import has no id yet)
    updates: list[tuple[int, dict]]  # (row id, {column: new value})
    before: list[tuple[int, dict]]  # (row id, {column: the stored value the update replaces})
    changes: list[dict]  # for the audit log


def import_files(engine: Engine, paths: list[Path], *, today: date, actor: str, risk_codes: tuple[str, ...],
                 on_behalf_of: str | None = None,
                 kind: str | None = None, keep_valid: bool = False, dry_run: bool = False,
                 rejects_dir: Path | None = None, progress=None) -> ImportReport:
    """Validate every file, then write them all in one transaction, or nothing at all.

    Reading the files, reading what the database holds, checking and computing the inserts and
    updates all happen before the write transaction opens (a read does not block other writers);
    the write transaction only checks that nothing changed meanwhile (else everything is
    prepared again) and writes. `progress`, when given, is called with a short message at each
    step (the CLI prints them on a terminal)."""
    step = progress or (lambda _message: None)
    from monitor.models import AuditEvent

    if len(actor) > AuditEvent.__table__.c.actor.type.length:
        raise MonitorError(f"--by: at most {AuditEvent.__table__.c.actor.type.length} characters, got {len(actor)}")
    store.require_initialised(engine)
    parsed = []
    for path in paths:
        step(f"reading and checking {path.name}")
        parsed.append(parse_file(path, kind_of(path, kind), today=today, risk_codes=risk_codes))
    parsed.sort(key=lambda p: IMPORT_ORDER.index(p.kind))
    for p in parsed:
        dedupe(p, SPECS[p.kind])
    dedupe_across(parsed)
    checked_alone = [(list(p.problems), set(p.bad_lines)) for p in parsed]

    for attempt in range(MAX_PREPARE_ATTEMPTS + 1):
        for p, (problems, bad_lines) in zip(parsed, checked_alone):  # a redo checks afresh
            p.problems, p.bad_lines = list(problems), set(bad_lines)
        under_lock = attempt == MAX_PREPARE_ATTEMPTS
        if not under_lock:
            step("checking against the database")
            with store.reading(engine) as conn:
                state = _read_state(conn, parsed)
            plans, problems = _prepare(parsed, state, today=today, keep_valid=keep_valid,
                                          sqlite=store.is_sqlite(engine))
            if dry_run:
                return ImportReport([pl.result for pl in plans], True, problems)
        with store.transaction(engine) as conn:
            _lock_for_writing(conn)
            if under_lock:  # the database kept changing: prepare while holding the lock
                state = _read_state(conn, parsed)
                plans, problems = _prepare(parsed, state, today=today, keep_valid=keep_valid,
                                          sqlite=store.is_sqlite(engine))
            elif not _still_as_read(conn, state, plans):
                continue  # nothing was written; the transaction ends empty
            step("writing")
            _apply(conn, plans, state, actor=actor, on_behalf_of=on_behalf_of)
            # Rejects files are written last, before the commit, so a failed write writes nothing.
            written: list[Path] = []
            try:
                for pl in plans:
                    if pl.parsed.problems:
                        target = _write_rejects(pl.parsed, rejects_dir or Path.cwd())
                        written.append(target)
                        pl.result.rejects_file = str(target)
            except BaseException:
                for target in written:
                    target.unlink(missing_ok=True)
                raise
        return ImportReport([pl.result for pl in plans], False, problems)
    raise AssertionError("unreachable: the last attempt prepares under the write lock")


CLINICAL_TABLES = tuple(SPECS[k].table for k in IMPORT_ORDER)


def _lock_for_writing(conn) -> None:
    """Hold off other writers of the clinical tables until the commit. SQLite's `BEGIN IMMEDIATE`
    already did; PostgreSQL lets other transactions write unless told (readers still read)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"LOCK TABLE {', '.join(CLINICAL_TABLES)} IN SHARE ROW EXCLUSIVE MODE"))


def _stamp(conn) -> tuple:
    """Row count and highest id of every clinical table, and the last import's audit id: any
    insert, delete or import since the state was read changes it."""
    parts = [tuple(conn.execute(text(f"SELECT count(*), max(id) FROM {t}")).one()) for t in CLINICAL_TABLES]
    parts.append(conn.execute(text("SELECT max(id) FROM audit_event WHERE action = 'import'")).scalar())
    return tuple(parts)


def _read_state(conn, parsed: list[ParsedFile]) -> DbState:
    stamp = _stamp(conn)  # first: a change after this point is seen as a change
    known = pd.read_sql_query(text("SELECT mrn, id AS patient_id, birth_date, enrolled_on FROM patient"), conn)
    for column in ("birth_date", "enrolled_on"):
        known[column] = pd.to_datetime(known[column]).astype("datetime64[us]")
    existing = {}
    for table in dict.fromkeys(SPECS[p.kind].table for p in parsed):
        existing[table] = pd.read_sql_query(text(f"SELECT * FROM {table}"), conn)
    state = DbState(stamp, known, existing)
    for p in parsed:
        if p.kind == "patients":
            _check_birth_after_events(p, _earliest_events(conn, p, known))
    return state


def _prepare(parsed: list[ParsedFile], state: DbState, *, today: date, keep_valid: bool, sqlite: bool):
    """Check every row against the database as read, then plan each file's writes."""
    births = dict(zip(state.known["mrn"], state.known["birth_date"]))
    for p in parsed:
        if p.kind == "patients":
            good = p.frame.loc[~p.frame["line"].isin(p.bad_lines)]
            births.update(zip(good["mrn"], good["birth_date"]))
    for p in parsed:
        if p.kind != "patients":
            _check_patients(p, SPECS[p.kind], births)
    problems = [pr for p in parsed for pr in p.problems]
    problems.sort(key=lambda pr: (pr.file, pr.line))
    if problems and not keep_valid:
        raise ImportRejected(problems)
    ids = dict(zip(state.known["mrn"], state.known["patient_id"]))
    plans = [_plan(p, SPECS[p.kind], state.existing[SPECS[p.kind].table], ids, today=today, sqlite=sqlite)
             for p in parsed]
    return plans, problems


def _still_as_read(conn, state: DbState, plans: list[Plan]) -> bool:
    """Under the write lock: no row added, deleted or imported since the state was read, and every
    row about to be updated still holds the values the plan replaces."""
    if _stamp(conn) != state.stamp:
        return False
    from monitor.models import SQLModel

    for pl in plans:
        if not pl.before:
            continue
        table = SQLModel.metadata.tables[pl.spec.table]
        columns = sorted({c for _, old in pl.before for c in old})
        stored = {}
        ids = [row_id for row_id, _ in pl.before]
        for start in range(0, len(ids), 500):
            query = select(table.c.id, *[table.c[c] for c in columns]).where(table.c.id.in_(ids[start:start + 500]))
            stored.update({row[0]: dict(zip(columns, row[1:])) for row in conn.execute(query)})
        for row_id, old in pl.before:
            now = stored.get(row_id)
            if now is None or any(not _same(now[c], v) for c, v in old.items()):
                return False
    return True


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-12
    return a == b


def _earliest_events(conn, parsed: ParsedFile, known: pd.DataFrame) -> pd.DataFrame:
    """Per stored patient whose birth date the file moves later: the earliest stored date of any
    of their records (index mrn; columns `on`, `label`). Empty when no birth date moves."""
    later = parsed.frame[["mrn", "birth_date"]].merge(known, on="mrn", how="inner", suffixes=("", "__old"))
    later = later.loc[(later["birth_date"] > later["birth_date__old"]).fillna(False)]
    if not len(later):
        return pd.DataFrame({"on": pd.Series(dtype="datetime64[us]"), "label": pd.Series(dtype="object")})
    parts = []
    for kind in IMPORT_ORDER[1:]:
        spec = SPECS[kind]
        for column in spec.event_dates:
            found = pd.read_sql_query(text(f"SELECT patient_id, MIN({column}) AS on_ FROM {spec.table} "
                                           f"WHERE {column} IS NOT NULL GROUP BY patient_id"), conn)
            parts.append(pd.DataFrame({"patient_id": found["patient_id"].astype("int64"),
                                       "on": pd.to_datetime(found["on_"]).astype("datetime64[us]"),
                                       "label": EVENT_LABELS[column]}))
    # A blank or absent enrolled_on keeps the stored enrolment date, which then counts too.
    kept = parsed.frame["mrn"] if "enrolled_on" not in parsed.present else \
        parsed.frame.loc[parsed.frame["enrolled_on"].isna(), "mrn"]
    enrolled = known.loc[known["enrolled_on"].notna() & known["mrn"].isin(kept)]
    if len(enrolled):
        parts.append(pd.DataFrame({"patient_id": enrolled["patient_id"].astype("int64"),
                                   "on": enrolled["enrolled_on"].astype("datetime64[us]"), "label": "enrolment"}))
    events = pd.concat(parts, ignore_index=True)
    events = events.loc[events["patient_id"].isin(later["patient_id"])]
    events = events.sort_values(["patient_id", "on"], kind="stable").drop_duplicates("patient_id")
    mrn_of = dict(zip(known["patient_id"], known["mrn"]))
    return events.assign(mrn=events["patient_id"].map(mrn_of)).set_index("mrn")[["on", "label"]]


def _check_birth_after_events(parsed: ParsedFile, earliest: pd.DataFrame) -> None:
    """A stored patient's new birth date must not fall after any of their recorded dates."""
    if not len(earliest):
        return
    frame = parsed.frame
    first = frame[["mrn"]].join(earliest, on="mrn")
    late = (frame["birth_date"] > first["on"]).fillna(False).to_numpy()
    lines = frame["line"].to_numpy()
    for i in np.flatnonzero(late):
        parsed.reject(int(lines[i]), "birth_date",
                      f"birth_date {frame['birth_date'].iloc[i].date()} is after the patient's recorded "
                      f"{first['label'].iloc[i]} of {first['on'].iloc[i].date()}")


def _check_patients(parsed: ParsedFile, spec: KindSpec, births: dict) -> None:
    frame = parsed.frame
    lines = frame["line"].to_numpy()
    birth = frame["mrn"].map(births)
    unknown = frame["mrn"].notna() & ~frame["mrn"].isin(births.keys())
    for i in np.flatnonzero(unknown.to_numpy()):
        parsed.reject(int(lines[i]), "mrn", f"unknown MRN '{frame['mrn'].iloc[i]}': import the patient first")
    birth = pd.to_datetime(birth).astype("datetime64[us]")
    for column in spec.event_dates:
        if column in frame:
            early = (frame[column] < birth).fillna(False).to_numpy()
            for i in np.flatnonzero(early):
                parsed.reject(int(lines[i]), column, f"{column} {frame[column].iloc[i].date()} is before "
                                                     f"the patient's birth date {birth.iloc[i].date()}")


def _normalise(series: pd.Series, python_type: type) -> pd.Series:
    """One column as the pandas type the comparison and the insert expect."""
    if python_type is date:
        return pd.to_datetime(series).astype("datetime64[us]")
    if python_type is bool:
        return series.astype("boolean")
    if python_type is float:
        return pd.to_numeric(series).astype("float64")
    if python_type is int:
        return series.astype("Int64")
    return series.astype("object").where(series.notna(), None)


def _differs(old: pd.Series, new: pd.Series) -> pd.Series:
    """True where a value changes: missing equals missing, never "ambiguous" (pandas' NA)."""
    old_na, new_na = old.isna().to_numpy(), new.isna().to_numpy()
    if pd.api.types.is_float_dtype(old) and pd.api.types.is_float_dtype(new):
        equal = np.isclose(np.nan_to_num(old.to_numpy(dtype="float64")), np.nan_to_num(new.to_numpy(dtype="float64")),
                           rtol=0, atol=1e-12)
    else:
        # Missing cells (None, NaN, NaT, pd.NA) become None first: `NA == x` is NA, not a bool.
        o, n = old.astype("object").to_numpy().copy(), new.astype("object").to_numpy().copy()
        o[old_na], n[new_na] = None, None
        equal = np.asarray(o == n, dtype=bool) if len(o) else np.zeros(0, dtype=bool)
    return pd.Series((old_na != new_na) | (~old_na & ~new_na & ~equal), index=old.index)


def _column_values(s: pd.Series, *, iso_dates: bool = False) -> list:
    """One column as plain Python values (missing as None); dates as `date`, or ISO text."""
    if pd.api.types.is_datetime64_any_dtype(s):
        if iso_dates:
            return s.dt.strftime("%Y-%m-%d").astype("object").where(s.notna(), None).tolist()
        return s.dt.date.astype("object").where(s.notna(), None).tolist()
    if isinstance(s.dtype, pd.BooleanDtype) or pd.api.types.is_bool_dtype(s):
        return [None if v is pd.NA else bool(v) for v in s.astype("object")]
    if pd.api.types.is_float_dtype(s):
        return s.astype("object").where(s.notna(), None).tolist()
    if pd.api.types.is_integer_dtype(s):
        return [None if v is pd.NA else int(v) for v in s.astype("object")]
    return s.astype("object").where(s.notna(), None).tolist()


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain Python values (dates as `date`, missing as None)."""
    keys = list(frame.columns)
    columns = [_column_values(frame[c]) for c in keys]
    return [dict(zip(keys, vals)) for vals in zip(*columns)] if keys else []


def _bulk_insert(conn, table, values: dict[str, list]) -> None:
    """Insert many rows through the driver's executemany: the ORM layer costs more than the write."""
    columns = list(values)
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    conn.exec_driver_sql(sql, list(zip(*values.values())))


def _plan(parsed: ParsedFile, spec: KindSpec, existing: pd.DataFrame, patient_ids: dict, *, today: date,
          sqlite: bool) -> Plan:
    """The inserts of new records and the updates of changed ones (every replaced value is kept
    for the audit log). A row of a patient new in this import has no patient id yet: all its
    records are new, and `mrn` says whose they are."""
    from monitor.models import SQLModel  # importing the models registers their tables

    table = SQLModel.metadata.tables[spec.table]
    types = {c.name: c.type.python_type for c in table.columns}
    frame = parsed.frame
    good = frame.loc[~frame["line"].isin(parsed.bad_lines | parsed.repeat_lines)].rename(columns={c.name: c.db for c in spec.columns})
    result = FileResult(parsed.path.name, parsed.kind, rows=len(frame),
                        rejected=len({pr.line for pr in parsed.problems}))
    value_cols = [c.db for c in spec.columns if c.name in parsed.present and c.name != "mrn"]
    if spec.kind == "pregnancies":
        value_cols.append("key_on")
        if "breastfeeding_until" in parsed.present:
            value_cols.append("breastfeeding_ongoing")
    if "side" in types and "side" in spec.key and "side" not in good:
        good = good.assign(side="")
    if "side" in spec.key:
        good["side"] = good["side"].where(good["side"].notna(), "")

    existing = existing.copy()
    if spec.kind == "patients":
        key = ["mrn"]
    else:
        good["patient_id"] = good["mrn"].map(patient_ids)
        key = ["patient_id", *spec.key]
    cols = list(dict.fromkeys(key + value_cols))
    good = good[list(dict.fromkeys(cols + ["mrn", "line"]))].copy()
    for c in cols:
        good[c] = _normalise(good[c], types[c])
        if c in existing:
            existing[c] = _normalise(existing[c], types[c])
    merged = good.merge(existing[["id", *[c for c in existing.columns if c in cols]]], on=key,
                        how="left", suffixes=("", "__old"))
    is_new = merged["id"].isna()

    inserts = merged.loc[is_new, list(dict.fromkeys(cols + ["mrn"]))].copy()
    for c, v in spec.defaults.items():
        if c in inserts:
            inserts[c] = inserts[c].where(inserts[c].notna(), v)
        else:
            inserts[c] = v
    if spec.kind == "patients":
        inserts["status"] = inserts.get("status", pd.Series(index=inserts.index, dtype="object")).where(
            lambda s: s.notna(), "active")
        # When the record reached us: the baseline anchor of a patient with no other date.
        inserts["recorded_on"] = pd.Timestamp(today)

    old = merged.loc[~is_new]
    changed = pd.Series(False, index=old.index)
    diffs = {}
    for c in value_cols:
        if c in key:
            continue
        # A blank cell says nothing about an existing record: it keeps the stored value
        # (INTERFACE v2). Defaults are for new records only.
        new_values = _normalise(old[c].where(old[c].notna(), old[f"{c}__old"]), types[c])
        d = _differs(old[f"{c}__old"], new_values)
        diffs[c] = (d, new_values)
        changed |= d
    updates, before, changes = [], [], []
    for i in np.flatnonzero(changed.to_numpy()):
        idx = old.index[i]
        row_id = int(old.at[idx, "id"])
        upd, was, log = {}, {}, {"line": int(old.at[idx, "line"]), "id": row_id}
        for c, (d, new_values) in diffs.items():
            if d.iat[i]:
                new_v = _records(new_values.iloc[[i]].to_frame(c))[0][c]
                old_v = _records(old[[f"{c}__old"]].iloc[[i]])[0][f"{c}__old"]
                upd[c], was[c] = new_v, old_v
                log[c] = {"old": _json(old_v), "new": _json(new_v)}
        updates.append((row_id, upd))
        before.append((row_id, was))
        changes.append(log)
    result.inserted, result.updated = len(inserts), len(updates)
    result.unchanged = len(merged) - result.inserted - result.updated + len(parsed.repeat_lines)
    # The driver's values are made here, outside the write lock (on SQLite a date is ISO text,
    # exactly as SQLAlchemy's Date type stores it).
    values = {c: _column_values(inserts[c], iso_dates=sqlite) for c in inserts.columns if c != "mrn" or c in key}
    return Plan(parsed, spec, result, values, inserts["mrn"].tolist(), updates, before, changes)


def _apply(conn, plans: list[Plan], state: DbState, *, actor: str, on_behalf_of: str | None = None) -> None:
    """Write every plan (patients first); new patients' ids are read back for their records."""
    from monitor.models import SQLModel

    highest_known = int(state.known["patient_id"].max()) if len(state.known) else 0
    new_ids: dict[str, int] = {}
    for pl in plans:
        table = SQLModel.metadata.tables[pl.spec.table]
        values = pl.inserts
        if pl.spec.kind != "patients" and pl.insert_mrns and None in values["patient_id"]:
            values = {**values, "patient_id": [new_ids[mrn] if pid is None else pid
                                               for pid, mrn in zip(values["patient_id"], pl.insert_mrns)]}
        if pl.insert_mrns:
            _bulk_insert(conn, table, values)
        for row_id, upd in pl.updates:
            conn.execute(table.update().where(table.c.id == row_id).values(**upd))
        if pl.spec.kind == "patients" and pl.insert_mrns:
            rows = conn.execute(text("SELECT mrn, id FROM patient WHERE id > :highest"), {"highest": highest_known})
            new_ids.update({mrn: row_id for mrn, row_id in rows})
        r = pl.result
        store.record_event(conn, actor=actor, action="import", subject=pl.parsed.path.name,
                           rows=r.inserted + r.updated,
                           detail={"kind": pl.spec.kind, "inserted": r.inserted, "updated": r.updated,
                                   "unchanged": r.unchanged, "rejected": r.rejected, "changes": pl.changes,
                                   **({"on_behalf_of": on_behalf_of} if on_behalf_of else {})})


def _json(v):
    return v.isoformat() if isinstance(v, date) else v


def _write_rejects(parsed: ParsedFile, folder: Path) -> Path:
    """The rejected rows with their line and reason, in a new file named after the input
    (`scans.rejects.csv`, else `scans.rejects-2.csv`, ...): an existing file is never replaced."""
    reasons: dict[int, list[str]] = {}
    for pr in parsed.problems:
        reasons.setdefault(pr.line, []).append(f"{pr.column}: {pr.message}" if pr.column else pr.message)
    lines = parsed.frame["line"].to_numpy()
    keep = np.isin(lines, list(reasons))
    raw = parsed.raw.reset_index(drop=True).loc[keep]
    out = pd.DataFrame({"line": lines[keep], "reason": ["; ".join(reasons[int(l)]) for l in lines[keep]]})
    out = pd.concat([out, raw.reset_index(drop=True)], axis=1)
    stem = REJECTS_RE.sub("", parsed.path.stem)  # a rejects file's own rejects: scans.rejects-2.csv
    return _write_new_file(folder, stem, frame_csv_bytes(out))


def _write_new_file(folder: Path, stem: str, data: bytes) -> Path:
    """Write owner-only bytes under the first free name `STEM.rejects[-N].csv`, whole or not at all:
    a temporary file is linked to the name, which fails rather than replace an existing file."""
    if not folder.is_dir():
        raise MonitorError(f"folder does not exist: {folder}")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{stem}.rejects.", suffix=".part")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        for n in itertools.count(1):
            target = folder / (f"{stem}.rejects.csv" if n == 1 else f"{stem}.rejects-{n}.csv")
            try:
                os.link(tmp, target)
                return target
            except FileExistsError:
                continue
    finally:
        os.unlink(tmp)
    raise AssertionError("unreachable")
