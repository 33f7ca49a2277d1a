"""Validated, all-or-nothing, idempotent import of the clinic's CSV files (INTERFACE.md).

Reading and validating one file is pure (`csv_cells`: text in, typed frame and problems out).
`import_files` is the shell: it reads what it needs of the database in a read-only connection,
checks the rows against it (MRNs, birth dates), plans every insert and update, and only then
opens the write transaction, which re-checks that nothing changed meanwhile and writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select, text

from monitor import store
from monitor.formats.csv_cells import ParsedFile, kind_of, parse_file
from monitor.formats.fhir_read import is_fhir
from monitor.formats.repeats import dedupe, dedupe_across
from monitor.errors import ImportRejected, MonitorError, Problem
from monitor.formats.import_spec import CONTACT_NEEDS, EVENT_LABELS, IMPORT_ORDER, SPECS, KindSpec
from monitor.formats.rejects import write_rejects
from monitor.formats.xlsx_read import is_workbook, parse_workbook
from monitor.services.import_plan import FileResult, Plan, _plan

@dataclass
class ImportReport:
    files: list[FileResult]
    dry_run: bool
    problems: list[Problem]
    skipped: dict[str, int] = field(default_factory=dict)  # FHIR resources not recorded, by why


MAX_PREPARE_ATTEMPTS = 3  # then the last attempt prepares under the write lock, so it always ends


@dataclass
class DbState:
    """What an import needs to know of the database, read in one go (outside the write lock)."""

    stamp: tuple  # cheap fingerprint of the tables read: changed under us -> prepare again
    known: pd.DataFrame  # stored patients: mrn, patient_id, birth_date, enrolled_on
    existing: dict[str, pd.DataFrame]  # table -> its rows, for the tables the import writes


def import_files(engine: Engine, paths: list[Path], *, today: date, actor: str, risk_codes: tuple[str, ...],
                 on_behalf_of: str | None = None,
                 kind: str | None = None, keep_valid: bool = False, dry_run: bool = False,
                 rejects_dir: Path | None = None, progress=None, fhir=None,
                 date_format: str | None = None) -> ImportReport:
    """Validate every file, then write them all in one transaction, or nothing at all.

    Reading the files, reading what the database holds, checking and computing the inserts and
    updates all happen before the write transaction opens (a read does not block other writers);
    the write transaction only checks that nothing changed meanwhile (else everything is
    prepared again) and writes. `progress`, when given, is called with a short message at each
    step (the CLI prints them on a terminal). An `.xlsx` workbook is read sheet by sheet, each
    sheet like a CSV file of its kind; `date_format` (`DD/MM/YYYY`, `MM/DD/YYYY`) reads the
    files' dates in that order instead of YYYY-MM-DD."""
    step = progress or (lambda _message: None)
    from monitor.store.tables import AuditEvent

    if len(actor) > AuditEvent.__table__.c.actor.type.length:
        raise MonitorError(f"--by: at most {AuditEvent.__table__.c.actor.type.length} characters, got {len(actor)}")
    store.require_initialised(engine)
    parsed, skipped = [], {}
    for path in paths:
        if is_fhir(path):
            continue
        step(f"reading and checking {path.name}")
        if is_workbook(path):  # one sheet per kind
            parsed.extend(parse_workbook(path, kind, today=today, risk_codes=risk_codes, date_format=date_format))
            continue
        parsed.append(parse_file(path, kind_of(path, kind), today=today, risk_codes=risk_codes,
                                 date_format=date_format))
    fhir_paths = [path for path in paths if is_fhir(path)]
    if fhir_paths:  # one set of resources: a Patient in one file is the subject of the next
        if kind:
            raise MonitorError("--kind does not apply to FHIR files: their resources say what they hold")
        step(f"reading and checking {len(fhir_paths)} FHIR file(s)")
        from monitor.config import FhirSettings
        from monitor.formats.fhir_read import read_fhir_files

        fhir_parsed, skipped = read_fhir_files(fhir_paths, today=today, risk_codes=risk_codes,
                                               settings=fhir or FhirSettings())
        parsed.extend(fhir_parsed)
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
                return ImportReport([pl.result for pl in plans], True, problems, skipped)
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
                        target = write_rejects(pl.parsed, rejects_dir or Path.cwd())
                        written.append(target)
                        pl.result.rejects_file = str(target)
            except BaseException:
                for target in written:
                    target.unlink(missing_ok=True)
                raise
        return ImportReport([pl.result for pl in plans], False, problems, skipped)
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
        elif "preferred_contact" in p.present:
            _check_contact_means(p, state.existing["patient"])
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
    from monitor.store.tables import SQLModel

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


def _check_contact_means(parsed: ParsedFile, stored: pd.DataFrame) -> None:
    """A preferred contact needs its means: a phone number, an email address or a postal address,
    in the row or already stored (a blank cell keeps the stored value)."""
    frame = parsed.frame
    lines = frame["line"].to_numpy()
    by_mrn = stored.set_index("mrn") if len(stored) else pd.DataFrame(columns=list(CONTACT_NEEDS.values()))
    for preferred, column in CONTACT_NEEDS.items():
        wants = (frame["preferred_contact"] == preferred).fillna(False)
        if not wants.any():
            continue
        given = frame[column].notna() if column in frame else pd.Series(False, index=frame.index)
        kept = frame["mrn"].map(by_mrn[column].dropna().to_dict()).notna() if column in by_mrn \
            else pd.Series(False, index=frame.index)
        what = {"phone": "a phone number", "email": "an email address", "address": "an address"}[column]
        for i in np.flatnonzero((wants & ~given & ~kept).to_numpy()):
            if int(lines[i]) in parsed.bad_lines:
                continue
            parsed.reject(int(lines[i]), "preferred_contact",
                          f"preferred contact is {preferred} but the patient has no {column} recorded: "
                          f"give {what} in the {column} column, or choose another preferred contact")


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


def _bulk_insert(conn, table, values: dict[str, list]) -> None:
    """Insert many rows through the driver's executemany: the ORM layer costs more than the write."""
    columns = list(values)
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    conn.exec_driver_sql(sql, list(zip(*values.values())))


def _apply(conn, plans: list[Plan], state: DbState, *, actor: str, on_behalf_of: str | None = None) -> None:
    """Write every plan (patients first); new patients' ids are read back for their records."""
    from monitor.store.tables import SQLModel

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
        store.record_event(conn, actor=actor, action="import", subject=pl.parsed.label,
                           rows=r.inserted + r.updated,
                           detail={"kind": pl.spec.kind, "inserted": r.inserted, "updated": r.updated,
                                   "unchanged": r.unchanged, "rejected": r.rejected, "changes": pl.changes,
                                   **({"on_behalf_of": on_behalf_of} if on_behalf_of else {})})
