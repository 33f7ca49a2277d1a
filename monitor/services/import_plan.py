"""Planning an import: the inserts and updates that turn what is stored into what the files say.

Pure frame work (no connection): values compared as the table stores them, a blank cell keeping the
stored value, every replaced value kept for the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from monitor.formats.csv_cells import ParsedFile
from monitor.formats.import_spec import KindSpec


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
class Plan:
    """One file's writes, computed before the write transaction opens."""

    parsed: ParsedFile
    spec: KindSpec
    result: FileResult
    inserts: pd.DataFrame  # the new rows' table columns, typed (see `insert_values`)
    insert_mrns: pd.Series  # whose each new row is (a patient new in this import has no id yet)
    updates: list[tuple[int, dict]]  # (row id, {column: new value})
    before: list[tuple[int, dict]]  # (row id, {column: the stored value the update replaces})
    changes: list[dict]  # for the audit log
    values: dict[str, list] | None = None  # `inserts` as the driver's values, once made (then inserts is None)
    staged: tuple[str, list[str]] | None = None  # or the staging table (and columns) that holds them
    # or (PostgreSQL) the new rows as COPY lines of these columns, all but patient_id (in `values`)
    copy: tuple[list[str], list[str]] | None = None


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


def _plan(parsed: ParsedFile, spec: KindSpec, existing: pd.DataFrame, patient_ids: dict, *, today: date,
          sqlite: bool) -> Plan:
    """The inserts of new records and the updates of changed ones (every replaced value is kept
    for the audit log). A row of a patient new in this import has no patient id yet: all its
    records are new, and `mrn` says whose they are."""
    from monitor.store.tables import SQLModel  # importing the models registers their tables

    table = SQLModel.metadata.tables[spec.table]
    types = {c.name: c.type.python_type for c in table.columns}
    frame = parsed.frame
    good = frame.loc[~frame["line"].isin(parsed.bad_lines | parsed.repeat_lines)].rename(columns={c.name: c.db for c in spec.columns})
    result = FileResult(parsed.label, parsed.kind, rows=len(frame),
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
    rows = np.flatnonzero(changed.to_numpy())
    # Each column's values of the changed rows made into Python values at once, not row by row.
    picked = {c: (d.to_numpy()[rows], _column_values(new_values.iloc[rows]), _column_values(old[f"{c}__old"].iloc[rows]))
              for c, (d, new_values) in diffs.items()}
    ids, lines = old["id"].to_numpy()[rows], old["line"].to_numpy()[rows]
    for k in range(len(rows)):
        row_id = int(ids[k])
        upd, was, log = {}, {}, {"line": int(lines[k]), "id": row_id}
        for c, (d, new_list, old_list) in picked.items():
            if d[k]:
                new_v, old_v = new_list[k], old_list[k]
                upd[c], was[c] = new_v, old_v
                log[c] = {"old": _json(old_v), "new": _json(new_v)}
        updates.append((row_id, upd))
        before.append((row_id, was))
        changes.append(log)
    result.inserted, result.updated = len(inserts), len(updates)
    result.unchanged = len(merged) - result.inserted - result.updated + len(parsed.repeat_lines)
    columns = [c for c in inserts.columns if c != "mrn" or c in key]
    return Plan(parsed, spec, result, inserts[columns].reset_index(drop=True), inserts["mrn"].reset_index(drop=True), updates,
                before, changes)


def insert_values(plan: Plan) -> dict[str, list]:
    """The new rows as the driver's values (column -> values, in order): a date is ISO text, as
    SQLAlchemy's Date type stores it on SQLite and as PostgreSQL's COPY reads it."""
    if plan.values is not None:
        return plan.values
    return {c: _iso_dates(plan.inserts[c]) if pd.api.types.is_datetime64_any_dtype(plan.inserts[c])
            else _column_values(plan.inserts[c]) for c in plan.inserts.columns}


def _iso_dates(s: pd.Series) -> list:
    text = np.datetime_as_string(s.to_numpy().astype("datetime64[D]"), unit="D").astype(object)
    text[s.isna().to_numpy()] = None
    return text.tolist()


def _json(v):
    return v.isoformat() if isinstance(v, date) else v
