"""Preparing an import before its write transaction: each bucket checked against the database as
read and planned (the plan spooled to disk), then the buckets merged in bucket order.

One bucket's preparation (`prepare_bucket`) depends only on its own files' cells and its own
patients' stored rows, so buckets may be prepared in any order and in any process; `merge` puts
the outcomes back in bucket order, so problems, counts, rejects and audit read exactly as when
they are prepared one after the other in one process.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from monitor.errors import ImportRejected, Problem
from monitor.formats.csv_cells import ParsedFile
from monitor.formats.import_spec import SPECS
from monitor.formats.rejects import rejected_rows
from monitor.formats.repeats import dedupe, dedupe_across
from monitor.services.import_checks import check_against_db, read_state
from monitor.services.import_plan import FileResult, _plan, insert_values


@dataclass
class FileOut:
    """One input file (or sheet) across the buckets: its counts, audit changes, rejected rows."""

    label: str
    kind: str
    rejects_stem: str
    result: FileResult
    changes: list[dict] = field(default_factory=list)
    rejected: list[pd.DataFrame] = field(default_factory=list)


@dataclass
class Prepared:
    files: list[FileOut]
    problems: list[Problem]
    plans: list[Path]  # one pickled list of plans per bucket (empty when rejected)
    stages: list[Path | None] = field(default_factory=list)  # each bucket's staging file (SQLite workers)


@dataclass
class BucketOut:
    """What one bucket's preparation hands back: its files (in import order), its problems, and,
    when planned, each file's part of the counts, changes and rejected rows, and its spooled plan."""

    files: list[FileOut]
    problems: list[Problem]
    plan: Path | None = None
    stage: Path | None = None  # the staging database that holds its new rows (see import_stage)


def prepare_bucket(conn, parsed: list[ParsedFile], bucket: int, spool: Path, *, today: date, keep_valid: bool,
                   rejected: bool, sqlite: bool, stage: bool = False, copy: bool = False) -> BucketOut:
    """Check one bucket's rows against the database as read, then plan its writes and spool them
    to disk, unless the import is rejected anyway (not `keep_valid`, and problems were found here
    or, `rejected`, in an earlier bucket). With `stage`, the new rows go to this process's staging
    database instead of the spooled plan; with `copy` (PostgreSQL), they are spooled as COPY lines."""
    for p in parsed:
        dedupe(p, SPECS[p.kind])
    dedupe_across(parsed)
    state = read_state(conn, parsed)
    check_against_db(parsed, state)
    files = [FileOut(p.label, p.kind, p.rejects_stem, FileResult(p.label, p.kind)) for p in parsed]
    out = BucketOut(files, [pr for p in parsed for pr in p.problems])
    if not keep_valid and (rejected or out.problems):
        return out
    ids = dict(zip(state.known["mrn"], state.known["patient_id"]))
    bucket_plans = [_plan(p, SPECS[p.kind], state.existing[SPECS[p.kind].table], ids, today=today,
                          sqlite=sqlite) for p in parsed]
    for part, pl in zip(files, bucket_plans):
        part.result = pl.result
        part.changes = pl.changes
        if pl.parsed.problems:
            part.rejected.append(rejected_rows(pl.parsed))
        pl.parsed = None  # the plan alone goes to disk,
        pl.values, pl.inserts = insert_values(pl), None  # its new rows as the driver takes them
        if copy:
            _as_copy_lines(pl)
    if stage:
        from monitor.services.import_stage import stage_plans

        out.stage = stage_plans(spool, bucket, bucket_plans)
    out.plan = spool / f"plan-{bucket}.pkl"
    with open(out.plan, "wb") as f:
        pickle.dump(bucket_plans, f, protocol=pickle.HIGHEST_PROTOCOL)
    return out


def _as_copy_lines(pl) -> None:
    """The plan's new rows as COPY lines (made here, in a worker, not under the write lock), all
    columns but patient_id: a patient new in this import has its id only once written."""
    from monitor.store.bulk_write import copy_lines

    if not len(pl.insert_mrns):
        return
    rest = {c: v for c, v in pl.values.items() if c != "patient_id"}
    lines = copy_lines(rest)
    if lines is not None:
        pl.copy = (list(rest), lines)
        pl.values = {c: v for c, v in pl.values.items() if c == "patient_id"}


def merge(outs, *, keep_valid: bool) -> Prepared:
    """The buckets' outcomes (in bucket order) as one import's: problems in file and line order,
    as for a whole import; rejected (ImportRejected) when any was found and not `keep_valid`."""
    files: list[FileOut] | None = None
    problems: list[Problem] = []
    plans: list[Path] = []
    stages: list[Path | None] = []
    for out in outs:
        if files is None:
            files = [FileOut(f.label, f.kind, f.rejects_stem, FileResult(f.label, f.kind)) for f in out.files]
        problems.extend(out.problems)
        if problems and not keep_valid:
            continue  # rejected: the rest is only checked, for the full list of problems
        for total, part in zip(files, out.files):
            _add_result(total.result, part.result)
            total.changes.extend(part.changes)
            total.rejected.extend(part.rejected)
        plans.append(out.plan)
        stages.append(out.stage)
    problems.sort(key=lambda pr: (pr.file, pr.line))
    if problems and not keep_valid:
        raise ImportRejected(problems)
    for total in files or []:
        total.changes.sort(key=lambda c: c["line"])
    return Prepared(files or [], problems, plans, stages)


def _add_result(total: FileResult, part: FileResult) -> None:
    for name in ("rows", "inserted", "updated", "unchanged", "rejected"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
