"""Validated, all-or-nothing, idempotent import of the clinic's CSV files (INTERFACE.md).

Reading and validating one file is pure (`csv_cells`: text in, typed frame and problems out).
`import_files` is the shell. A large import is split by patient into buckets (`import_buckets`:
every record of one MRN, in every file, in the same bucket), each checked and planned on its own
against only its patients' stored rows, so memory stays bounded whatever the cohort's size; a
small one is one bucket. Every bucket is checked and planned in a read-only connection (its
plan spooled to disk), and only then does the write transaction open: it re-checks that nothing
changed meanwhile and writes each bucket's plan in turn, or nothing at all.
"""

from __future__ import annotations

import pickle
import tempfile
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select, text

from monitor import store
from monitor.errors import MonitorError, Problem
from monitor.formats.csv_cells import ParsedFile, kind_of, parse_file
from monitor.formats.fhir_read import is_fhir
from monitor.formats.import_spec import IMPORT_ORDER, SPECS
from monitor.formats.rejects import write_rejected
from monitor.formats.xlsx_read import is_workbook, parse_workbook
from monitor.services import import_buckets as buckets
from monitor.services import import_workers
from monitor.services.import_checks import CLINICAL_TABLES, stamp
from monitor.services.import_plan import FileResult, Plan, insert_values
from monitor.services.import_prepare import Prepared, merge, prepare_bucket
from monitor.services.import_stage import copy_staged
from monitor.store.bulk_load import bulk_tables, without_foreign_keys
from monitor.store.bulk_write import bulk_insert, bulk_update, copy_lines_in

__all__ = ["CLINICAL_TABLES", "ImportReport", "import_files"]


@dataclass
class ImportReport:
    files: list[FileResult]
    dry_run: bool
    problems: list[Problem]
    skipped: dict[str, int] = field(default_factory=dict)  # FHIR resources not recorded, by why


MAX_PREPARE_ATTEMPTS = 3  # then the last attempt prepares under the write lock, so it always ends


class _Changed(Exception):
    """Under the write lock a bucket's rows are no longer as read: roll back and prepare again."""


def import_files(engine: Engine, paths: list[Path], *, today: date, actor: str, risk_codes: tuple[str, ...],
                 on_behalf_of: str | None = None,
                 kind: str | None = None, keep_valid: bool = False, dry_run: bool = False,
                 rejects_dir: Path | None = None, progress=None, fhir=None,
                 date_format: str | None = None, bucket_bytes: int | None = None,
                 workers: int | None = None) -> ImportReport:
    """Validate every file, then write them all in one transaction, or nothing at all.

    Reading the files, reading what the database holds, checking and computing the inserts and
    updates all happen before the write transaction opens (a read does not block other writers);
    the write transaction only checks that nothing changed meanwhile (else everything is
    prepared again) and writes. `progress`, when given, is called with a short message at each
    step (the CLI prints them on a terminal). An `.xlsx` workbook is read sheet by sheet, each
    sheet like a CSV file of its kind; `date_format` (`DD/MM/YYYY`, `MM/DD/YYYY`) reads the
    files' dates in that order instead of YYYY-MM-DD. `bucket_bytes` (else the environment's
    MONITOR_IMPORT_BUCKET_BYTES, else 16 MiB) is how much CSV text one bucket holds. A split
    import's files are split, and its buckets checked and planned, by `workers` processes (else
    MONITOR_IMPORT_WORKERS, else one per core, at most 2; 1: all in this process)."""
    step = progress or (lambda _message: None)
    from monitor.store.tables import AuditEvent

    if len(actor) > AuditEvent.__table__.c.actor.type.length:
        raise MonitorError(f"--by: at most {AuditEvent.__table__.c.actor.type.length} characters, got {len(actor)}")
    store.require_initialised(engine)
    with tempfile.TemporaryDirectory(prefix="monitor-import-") as spool_dir, ExitStack() as stack:
        spool, pool = Path(spool_dir), None
        k = buckets.bucket_count(paths, buckets.bucket_bytes(bucket_bytes))
        if k == 1 or any(is_fhir(p) or is_workbook(p) for p in paths):
            whole, skipped = _parse_whole(paths, kind=kind, today=today, risk_codes=risk_codes, fhir=fhir,
                                          date_format=date_format, step=step)
            alone = [(list(p.problems), set(p.bad_lines), set(p.repeat_lines)) for p in whole]

            def parse(_bucket: int) -> list[ParsedFile]:
                for p, (problems, bad_lines, repeat_lines) in zip(whole, alone):  # a redo checks afresh
                    p.problems, p.bad_lines, p.repeat_lines = list(problems), set(bad_lines), set(repeat_lines)
                return whole
            k = 1
        else:
            options = {"today": today, "risk_codes": risk_codes, "date_format": date_format}
            n = import_workers.worker_count(workers)
            if n > 1 and import_workers.can_share(engine):
                pool = stack.enter_context(import_workers.worker_pool(min(n, k)))
                step(f"working in {min(n, k)} processes")
            sources = _split_all(pool, paths, kind, spool, k, options, step)
            skipped = {}

            def parse(bucket: int) -> list[ParsedFile]:
                return buckets.parse_bucket(sources, spool, bucket, **options)
        sqlite = store.is_sqlite(engine)
        copy = engine.dialect.name == "postgresql" and not dry_run  # new rows made COPY lines as planned
        for attempt in range(MAX_PREPARE_ATTEMPTS + 1):
            under_lock = attempt == MAX_PREPARE_ATTEMPTS
            if not under_lock:
                step("checking against the database")
                with store.reading(engine) as conn:
                    read_stamp = stamp(conn)  # first: a change after this point is seen as a change
                    prepared = None
                    if pool is not None:
                        prepared = _prepare_in_workers(pool, engine, read_stamp, k, step=step, sources=sources,
                                                       spool=spool, keep_valid=keep_valid, sqlite=sqlite,
                                                       stage=sqlite and not dry_run, copy=copy, **options)
                        stack.close()  # the workers are done (a retry prepares here): free their memory
                        pool = None
                    if prepared is None:  # (or a worker read after a change: prepare here, as read)
                        prepared = _prepare_all(conn, parse, k, spool, today=today, keep_valid=keep_valid,
                                                sqlite=sqlite, copy=copy, step=step)
                if dry_run:
                    return ImportReport([f.result for f in prepared.files], True, prepared.problems, skipped)
            try:
                with _writing(engine, [] if under_lock else prepared.stages) as (conn, schemas):
                    _lock_for_writing(conn)
                    if under_lock:  # the database kept changing: prepare while holding the lock
                        prepared = _prepare_all(conn, parse, k, spool, today=today, keep_valid=keep_valid,
                                                sqlite=sqlite, copy=copy, step=step)
                    elif stamp(conn) != read_stamp:
                        raise _Changed
                    step("writing")
                    _write(conn, prepared, schemas, check=not under_lock, actor=actor, on_behalf_of=on_behalf_of,
                           rejects_dir=rejects_dir)
            except _Changed:
                continue  # nothing was written; the transaction was rolled back
            return ImportReport([f.result for f in prepared.files], False, prepared.problems, skipped)
    raise AssertionError("unreachable: the last attempt prepares under the write lock")


def _parse_whole(paths, *, kind, today, risk_codes, fhir, date_format, step):
    """Every file read whole, as one bucket (small imports, workbooks, FHIR)."""
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
    return parsed, skipped


def _split_all(pool, paths: list[Path], kind: str | None, spool: Path, k: int, options: dict, step) -> list:
    """Every CSV file split into the buckets (in the pool, when there is one), in import order."""
    if pool is None:
        sources = []
        for path in paths:
            step(f"reading and checking {path.name}")
            source = buckets.CsvSource(path, kind_of(path, kind), len(sources))
            buckets.split_csv(source, spool, k, **options)
            sources.append(source)
    else:
        tasks = []
        for index, path in enumerate(paths):
            try:
                tasks.append((buckets.CsvSource(path, kind_of(path, kind), index), spool, k, options))
            except MonitorError as exc:  # raised in its turn, after the files before it
                tasks.append(exc)
        sources = import_workers.split_files(pool, paths, tasks, step)
    return sorted(sources, key=lambda s: IMPORT_ORDER.index(s.kind))


def _prepare_in_workers(pool, engine: Engine, read_stamp: tuple, k: int, *, step, keep_valid: bool,
                        **job) -> Prepared | None:
    """Every bucket checked and planned in the pool, merged in bucket order; None when a worker
    read the database after a change (its stamp is not `read_stamp`)."""
    url = engine.url.render_as_string(hide_password=False)
    got = list(import_workers.prepare_buckets(pool, url, k, step=step, keep_valid=keep_valid, **job))
    if any(worker_stamp != read_stamp for worker_stamp, _ in got):
        return None
    return merge([out for _, out in got], keep_valid=keep_valid)


def _prepare_all(conn, parse, k: int, spool: Path, *, today: date, keep_valid: bool, sqlite: bool,
                 step, copy: bool = False) -> Prepared:
    """Check every bucket against the database as read, one after the other in this process; plan
    each (spooled to disk) unless the import is rejected anyway."""
    outs = []
    for bucket in range(k):
        if k > 1:
            step(f"checking patients' part {bucket + 1} of {k}")
        outs.append(prepare_bucket(conn, parse(bucket), bucket, spool, today=today, keep_valid=keep_valid,
                                   rejected=any(out.problems for out in outs), sqlite=sqlite, copy=copy))
    return merge(outs, keep_valid=keep_valid)


CLINICAL_LOCK = ", ".join(CLINICAL_TABLES)


def _lock_for_writing(conn) -> None:
    """Hold off other writers of the clinical tables until the commit. SQLite's `BEGIN IMMEDIATE`
    already did; PostgreSQL lets other transactions write unless told (readers still read)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"LOCK TABLE {CLINICAL_LOCK} IN SHARE ROW EXCLUSIVE MODE"))


@contextmanager
def _writing(engine: Engine, stages: list):
    """The write transaction (and the schema name of each staging file, attached before it begins:
    SQLite attaches no database inside a transaction)."""
    files = list(dict.fromkeys(path for path in stages if path is not None))
    if not files:
        with store.transaction(engine) as conn:
            yield conn, {}
        return
    with engine.connect() as conn:
        schemas = {path: f"stage{i}" for i, path in enumerate(files)}
        for path, schema in schemas.items():
            _outside_transaction(conn, f"ATTACH DATABASE ? AS {schema}", (str(path),))
        try:
            with conn.begin():
                yield conn, schemas
        finally:
            for schema in schemas.values():
                _outside_transaction(conn, f"DETACH DATABASE {schema}", ())


def _outside_transaction(conn, sql: str, params: tuple) -> None:
    """A statement on the driver's connection before (or after) the transaction, as SQLite wants
    ATTACH; its error raised as SQLAlchemy's (the CLI names its kind)."""
    from sqlalchemy.exc import DBAPIError

    dbapi = conn.dialect.loaded_dbapi
    try:
        conn.connection.driver_connection.execute(sql, params)
    except dbapi.Error as exc:
        raise DBAPIError.instance(sql, None, exc, dbapi.Error, hide_parameters=True, dialect=conn.dialect) from None


def _write(conn, prepared: Prepared, schemas: dict, *, check: bool, actor: str, on_behalf_of: str | None,
           rejects_dir: Path | None) -> None:
    """Each bucket's plans in turn (checked first: still as read), then one audit event per file
    and the rejects files, last before the commit, so a failed write writes nothing. A table that
    receives many new rows is loaded without its foreign-key triggers on PostgreSQL (see bulk_load)."""
    new_rows: dict[str, int] = {}
    for out in prepared.files:
        table = SPECS[out.kind].table
        new_rows[table] = new_rows.get(table, 0) + out.result.inserted
    with without_foreign_keys(conn, bulk_tables(conn, new_rows)):
        for target, stage in zip(prepared.plans, prepared.stages or [None] * len(prepared.plans)):
            with open(target, "rb") as f:
                plans: list[Plan] = pickle.load(f)
            if check and not _still_as_read(conn, plans):
                raise _Changed
            _apply(conn, plans, schemas.get(stage))
    for out in prepared.files:
        r = out.result
        store.record_event(conn, actor=actor, action="import", subject=out.label,
                           rows=r.inserted + r.updated,
                           detail={"kind": out.kind, "inserted": r.inserted, "updated": r.updated,
                                   "unchanged": r.unchanged, "rejected": r.rejected, "changes": out.changes,
                                   **({"on_behalf_of": on_behalf_of} if on_behalf_of else {})})
    written: list[Path] = []
    try:
        for out in prepared.files:
            if out.rejected:
                target = write_rejected(pd.concat(out.rejected, ignore_index=True), out.rejects_stem,
                                        rejects_dir or Path.cwd())
                written.append(target)
                out.result.rejects_file = str(target)
    except BaseException:
        for target in written:
            target.unlink(missing_ok=True)
        raise


def _still_as_read(conn, plans: list[Plan]) -> bool:
    """Under the write lock: every row about to be updated still holds the values the plan replaces
    (the stamp already said no row was added, deleted or imported since the state was read)."""
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


def _apply(conn, plans: list[Plan], schema: str | None = None) -> None:
    """Write one bucket's plans (patients first); new patients' ids are read back for their records
    (rows staged in the attached `schema` look them up as they are copied)."""
    from monitor.store.tables import SQLModel

    new_ids: dict[str, int] = {}
    first_id = None  # the first id the bucket's new patients took, when they took one run of ids
    for pl in plans:
        table = SQLModel.metadata.tables[pl.spec.table]
        if pl.staged is not None:
            took = copy_staged(conn, table.name, pl.staged, schema, first_id=first_id)
            first_id = took if pl.spec.kind == "patients" else first_id
            _update(conn, table, pl)
            continue
        values = insert_values(pl)
        if pl.spec.kind != "patients" and len(pl.insert_mrns) and None in values["patient_id"]:
            values = {**values, "patient_id": [new_ids[mrn] if pid is None else pid
                                               for pid, mrn in zip(values["patient_id"], pl.insert_mrns.tolist())]}
        highest = None
        if pl.spec.kind == "patients" and len(pl.insert_mrns):
            highest = conn.execute(text("SELECT coalesce(max(id), 0) FROM patient")).scalar()
        if len(pl.insert_mrns) and pl.copy is not None:
            columns, lines = pl.copy
            first = values.get("patient_id")
            copy_lines_in(conn, table.name, (["patient_id"] if first is not None else []) + columns, lines,
                          first=first)
        elif len(pl.insert_mrns):
            bulk_insert(conn, table.name, values)
        _update(conn, table, pl)
        if highest is not None:
            rows = conn.execute(text("SELECT mrn, id FROM patient WHERE id > :highest"), {"highest": highest})
            new_ids.update({mrn: row_id for mrn, row_id in rows})


def _update(conn, table, pl: Plan) -> None:
    if pl.updates:
        bulk_update(conn, table, pl.updates)
