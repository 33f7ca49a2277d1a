"""The clinician's review list (`monitor flags review`): open warn and urgent flags that no
clinician has acknowledged as they read now, oldest first by the night a run first saw them.

The selection is `rules.acknowledgements.review_list`; this module gathers its inputs (the
flags with their evidence, the acknowledgements, the `flag_seen` rows) and adds MRN and name.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import Engine, select

from monitor import store
from monitor.config import Config

REVIEW_FIELDS = ["first_seen_on", "days_open", "mrn", "name", "severity", "code", "title", "evidence", "seen_by_run"]


def load_seen(engine: Engine, patient_ids=None, *, id_range: tuple[int, int] | None = None) -> pd.DataFrame:
    """Every `flag_seen` row (or those of `patient_ids`, or of the patient ids `lo..hi` of
    `id_range`): patient_id, code, fingerprint, first_seen_on."""
    from monitor.store.core_tables import flag_seen as table  # no SQLModel: a list reads this

    query = select(table.c.patient_id, table.c.code, table.c.fingerprint, table.c.first_seen_on)
    if patient_ids is not None:
        query = query.where(table.c.patient_id.in_(sorted(int(p) for p in patient_ids)))
    if id_range is not None:
        query = query.where(table.c.patient_id.between(int(id_range[0]), int(id_range[1])))
    with store.reading(engine) as conn:
        rows = [tuple(r) for r in conn.execute(query)]
    return pd.DataFrame(rows, columns=["patient_id", "code", "fingerprint", "first_seen_on"])


def review_db(engine: Engine, *, as_of: date, config: Config, min_severity: str = "warn",
              progress=None) -> pd.DataFrame:
    """The review list on `as_of` with the fields of `REVIEW_FIELDS` (the caller audits the view).

    The cohort is evaluated a chunk of patients at a time (services.chunks; in the evaluation
    workers): each chunk hands back only its waiting flags, whose review rows are made with the
    `flag_seen` rows of its patients; a patient and code is one row and the list's order is total,
    so the chunks' rows sorted together are the list of the cohort evaluated at once."""
    from monitor.rules.acknowledgements import sort_review
    from monitor.services.chunk_work import review_part
    from monitor.services.chunks import chunk_results, consistent, stacked

    def run(read_in_workers: bool) -> pd.DataFrame:
        rows = stacked([review_rows(engine, flags, patients, as_of=as_of, min_severity=min_severity,
                                    id_range=id_range, with_ids=True)
                        for id_range, (flags, patients) in chunk_results(
                            engine, config=config, work=review_part, args=(as_of, config, min_severity),
                            read_in_workers=read_in_workers, progress=progress)],
                       lambda: pd.DataFrame(columns=["patient_id", *REVIEW_FIELDS]))
        return sort_review(rows)[REVIEW_FIELDS]

    return consistent(run, progress)


def review_rows(engine: Engine, flags: pd.DataFrame, patients: pd.DataFrame, *, as_of: date,
                min_severity: str = "warn", patient_ids=None, id_range: tuple[int, int] | None = None,
                with_ids: bool = False) -> pd.DataFrame:
    """The review list from flags already evaluated with evidence and marked acknowledged (the web
    passes its cached evaluation): adds the nights first seen, MRN and name. With `patient_ids`
    (or `id_range`), those patients' rows only (the flags given may be theirs only); `with_ids`
    keeps patient_id."""
    from monitor.rules.acknowledgements import review_list

    if patient_ids is not None:
        flags = flags.loc[flags["patient_id"].isin(list(patient_ids))]
    rows = review_list(flags, load_seen(engine, patient_ids, id_range=id_range), as_of=as_of,
                       min_severity=min_severity)
    people = patients.set_index("patient_id")
    rows = rows.assign(mrn=rows["patient_id"].map(people["mrn"]),
                       name=rows["patient_id"].map(people["name"]).fillna(""))
    return rows[(["patient_id"] if with_ids else []) + REVIEW_FIELDS]
