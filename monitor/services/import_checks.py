"""Checking an import's rows against the database: known MRNs, birth dates against every
recorded date, a preferred contact's means. Only the rows of the patients being imported are read
(`read_state` takes the MRNs of one bucket), in chunks of a few hundred keys per query.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, text

from monitor.formats.csv_cells import ParsedFile
from monitor.formats.import_spec import CONTACT_NEEDS, EVENT_LABELS, IMPORT_ORDER, SPECS, KindSpec

CHUNK = 900  # keys per query: under every SQLite build's limit of bound parameters
CLINICAL_TABLES = tuple(SPECS[k].table for k in IMPORT_ORDER)


@dataclass
class DbState:
    """What one bucket of an import needs to know of the database."""

    known: pd.DataFrame  # stored patients of the bucket: mrn, patient_id, birth_date, enrolled_on
    existing: dict[str, pd.DataFrame]  # table -> the bucket's patients' rows, for the tables written


def stamp(conn) -> tuple:
    """Row count and highest id of every clinical table, and the last import's audit id: any
    insert, delete or import since the state was read changes it."""
    parts = [tuple(conn.execute(text(f"SELECT count(*), max(id) FROM {t}")).one()) for t in CLINICAL_TABLES]
    parts.append(conn.execute(text("SELECT max(id) FROM audit_event WHERE action = 'import'")).scalar())
    return tuple(parts)


def rows_where_in(conn, sql: str, keys: list) -> pd.DataFrame:
    """`sql` (ending in `IN :keys`) run over the keys a chunk at a time, as one frame."""
    if conn.dialect.name == "postgresql" and len(keys):  # one query: the keys as one array
        return pd.read_sql_query(text(sql.replace("IN :keys", "= ANY(:keys)")), conn, params={"keys": list(keys)})
    query = text(sql).bindparams(bindparam("keys", expanding=True))
    parts = [pd.read_sql_query(query, conn, params={"keys": list(keys[start:start + CHUNK]) or [None]})
             for start in range(0, max(len(keys), 1), CHUNK)]
    parts = [part for part in parts if len(part)] or parts[:1]
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def read_state(conn, parsed: list[ParsedFile]) -> DbState:
    mrns = sorted({m for p in parsed for m in p.frame["mrn"].dropna().tolist()}) if parsed else []
    known = rows_where_in(conn, "SELECT mrn, id AS patient_id, birth_date, enrolled_on FROM patient "
                                "WHERE mrn IN :keys", mrns)
    for column in ("birth_date", "enrolled_on"):
        known[column] = pd.to_datetime(known[column]).astype("datetime64[us]")
    ids = [int(i) for i in known["patient_id"]]
    existing = {}
    for table in dict.fromkeys(SPECS[p.kind].table for p in parsed):
        if table == "patient":
            existing[table] = rows_where_in(conn, "SELECT * FROM patient WHERE mrn IN :keys", mrns)
        else:
            existing[table] = rows_where_in(conn, f"SELECT * FROM {table} WHERE patient_id IN :keys", ids)
    state = DbState(known, existing)
    for p in parsed:
        if p.kind == "patients":
            check_birth_after_events(p, earliest_events(conn, p, known))
    return state


def check_against_db(parsed: list[ParsedFile], state: DbState) -> None:
    """Every row against the database as read (and the patients of this import)."""
    births = dict(zip(state.known["mrn"], state.known["birth_date"]))
    for p in parsed:
        if p.kind == "patients":
            good = p.frame.loc[~p.frame["line"].isin(p.bad_lines)]
            births.update(zip(good["mrn"], good["birth_date"]))
    births = pd.Series(births, dtype="datetime64[us]", index=pd.Index(list(births), dtype="object"))
    for p in parsed:
        if p.kind != "patients":
            check_patients(p, SPECS[p.kind], births)
        elif "preferred_contact" in p.present:
            check_contact_means(p, state.existing["patient"])


def earliest_events(conn, parsed: ParsedFile, known: pd.DataFrame) -> pd.DataFrame:
    """Per stored patient whose birth date the file moves later: the earliest stored date of any
    of their records (index mrn; columns `on`, `label`). Empty when no birth date moves."""
    later = parsed.frame[["mrn", "birth_date"]].merge(known, on="mrn", how="inner", suffixes=("", "__old"))
    later = later.loc[(later["birth_date"] > later["birth_date__old"]).fillna(False)]
    if not len(later):
        return pd.DataFrame({"on": pd.Series(dtype="datetime64[us]"), "label": pd.Series(dtype="object")})
    parts, moved = [], [int(i) for i in later["patient_id"]]
    for kind in IMPORT_ORDER[1:]:
        spec = SPECS[kind]
        for column in spec.event_dates:
            found = rows_where_in(conn, f"SELECT patient_id, MIN({column}) AS on_ FROM {spec.table} "
                                        f"WHERE {column} IS NOT NULL AND patient_id IN :keys GROUP BY patient_id",
                                  moved)
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


def check_birth_after_events(parsed: ParsedFile, earliest: pd.DataFrame) -> None:
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


def check_contact_means(parsed: ParsedFile, stored: pd.DataFrame) -> None:
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


def check_patients(parsed: ParsedFile, spec: KindSpec, births: pd.Series) -> None:
    """Every row's MRN is a patient's (stored, or in this import), and its dates are not before the
    patient's birth. `births`: birth date by MRN."""
    frame = parsed.frame
    if not len(frame):
        return
    lines = frame["line"].to_numpy()
    mrns = frame["mrn"].astype("object")
    birth = pd.Series(births.reindex(mrns).to_numpy(), index=frame.index)
    # (object values: a hashed lookup; an arrow string `isin` would walk every patient in Python)
    unknown = frame["mrn"].notna() & ~mrns.isin(births.index.astype("object"))
    for i in np.flatnonzero(unknown.to_numpy()):
        parsed.reject(int(lines[i]), "mrn", f"unknown MRN '{frame['mrn'].iloc[i]}': import the patient first")
    birth = pd.to_datetime(birth).astype("datetime64[us]")
    for column in spec.event_dates:
        if column in frame:
            early = (frame[column] < birth).fillna(False).to_numpy()
            for i in np.flatnonzero(early):
                parsed.reject(int(lines[i]), column, f"{column} {frame[column].iloc[i].date()} is before "
                                                     f"the patient's birth date {birth.iloc[i].date()}")
