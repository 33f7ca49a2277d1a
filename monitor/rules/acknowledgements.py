"""Acknowledged flags (PROTOCOL.md "A flag"): which flags a clinician acknowledged as they read now.

An acknowledgement holds a fingerprint of what the flag said; while the flag still says the same
it is marked acknowledged and leaves worklists and the digest; new evidence brings it back. Pure.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


ACK_COLUMNS = ["patient_id", "code", "fingerprint", "acknowledged_at", "acknowledged_by", "on_behalf_of", "note"]
def fingerprints(flags: pd.DataFrame) -> pd.DataFrame:
    """Per patient and code: a fingerprint of what the flag says (all its rows, in their order).

    Only the flags given are hashed (callers pass the few patients with acknowledgements)."""
    if not len(flags):
        return pd.DataFrame(columns=["patient_id", "code", "fingerprint"])
    text = (flags["severity"].astype(str) + "\x1f" + flags["evidence"].astype(str) + "\x1f"
            + flags["action"].astype(str))
    frame = pd.DataFrame({"patient_id": flags["patient_id"].to_numpy(), "code": flags["code"].astype(str).to_numpy(),
                          "text": text.to_numpy()})
    joined = joined_by_group(frame, ["patient_id", "code"], "text", "\x1e")
    out = joined.map(lambda t: hashlib.sha256(t.encode("utf-8")).hexdigest()).rename("fingerprint")
    return out.reset_index()


def joined_by_group(frame: pd.DataFrame, keys: list[str], column: str, sep: str) -> pd.Series:
    """`column`'s texts joined by `sep` within each group of `keys`, in row order, indexed by the
    keys, sorted: `groupby(keys)[column].agg(sep.join)`, without a pandas object per group (one
    stable sort of integer codes, then a plain join over slices of a list)."""
    codes, levels = [], []
    for key in keys:
        code, uniques = pd.factorize(frame[key], sort=True)
        codes.append(code)
        levels.append(uniques)
    if not len(frame):
        index = pd.MultiIndex.from_arrays([frame[k].iloc[:0] for k in keys], names=keys)
        return pd.Series([], index=index, dtype="str", name=column)
    order = np.lexsort(codes[::-1])  # stable: a group's rows keep their order
    ordered = [c[order] for c in codes]
    change = np.zeros(len(order), dtype=bool)
    change[0] = True
    for c in ordered:
        change[1:] |= c[1:] != c[:-1]
    starts = np.flatnonzero(change)
    ends = np.r_[starts[1:], len(order)]
    texts = np.asarray(frame[column].astype("str"), dtype=object)[order].tolist()
    joined = [texts[s] if e - s == 1 else sep.join(texts[s:e]) for s, e in zip(starts.tolist(), ends.tolist())]
    index = pd.MultiIndex.from_arrays([level.take(c[starts]) for level, c in zip(levels, ordered)], names=keys)
    return pd.Series(joined, index=index, dtype="str", name=column)


def mark_acknowledged(flags: pd.DataFrame, acks: pd.DataFrame) -> pd.DataFrame:
    """The flags with `acknowledged_by`, `acknowledged_at` (UTC datetime) and `acknowledged_note`
    filled where the latest acknowledgement of that patient and code matches what the flag says."""
    out = flags.assign(acknowledged_by="", acknowledged_note="",
                       acknowledged_at=pd.Series(pd.NaT, index=flags.index, dtype="datetime64[us, UTC]"))
    if not len(acks) or not len(flags):
        return out
    latest = acks.sort_values("acknowledged_at").drop_duplicates(["patient_id", "code"], keep="last")
    mine = flags.loc[flags["patient_id"].isin(latest["patient_id"])]
    now = fingerprints(mine).merge(latest, on=["patient_id", "code"], suffixes=("", "_ack"))
    now = now.loc[now["fingerprint"] == now["fingerprint_ack"]]
    if not len(now):
        return out
    who = (now["acknowledged_by"] + pd.Series(["" if pd.isna(o) or not o else f" for {o}" for o in now["on_behalf_of"]],
                                              index=now.index))
    keys = pd.MultiIndex.from_frame(out[["patient_id", "code"]].astype({"code": str}))
    index = pd.MultiIndex.from_frame(now[["patient_id", "code"]])
    hit = keys.isin(index)
    pos = index.get_indexer(keys[hit])
    out.loc[hit, "acknowledged_by"] = who.to_numpy()[pos]
    out.loc[hit, "acknowledged_at"] = pd.to_datetime(now["acknowledged_at"], utc=True).to_numpy()[pos]
    out.loc[hit, "acknowledged_note"] = now["note"].to_numpy()[pos]
    return out


def unacknowledged(flags: pd.DataFrame) -> pd.DataFrame:
    """The flags the worklists and the digest show: not (currently) acknowledged."""
    if "acknowledged_by" not in flags:
        return flags
    return flags.loc[flags["acknowledged_by"] == ""]


# The clinician's review list (`monitor flags review`) and the nightly `flag_seen` record.
REVIEW_SEVERITIES = ("warn", "urgent")
REVIEW_COLUMNS = ["patient_id", "code", "severity", "title", "evidence", "first_seen_on", "days_open", "seen_by_run"]


def by_code(flags: pd.DataFrame) -> pd.DataFrame:
    """One row per patient and code: its highest severity, its title, its evidence lines joined.
    Worked out once, it may be passed to `seen_keys` and `review_waiting` of the same flags,
    which would otherwise each work it out again."""
    from monitor.rules.flag_frames import SEVERITIES, severity_rank

    if not len(flags):
        return pd.DataFrame(columns=["patient_id", "code", "severity", "title", "evidence"])
    frame = pd.DataFrame({"patient_id": flags["patient_id"].astype("int64").to_numpy(),
                          "code": flags["code"].astype(str).to_numpy(), "rank": severity_rank(flags["severity"]).to_numpy(),
                          "title": flags["title"].astype(str).to_numpy(), "evidence": flags["evidence"].astype(str).to_numpy()})
    grouped = frame.groupby(["patient_id", "code"], sort=True)
    out = grouped.agg(rank=("rank", "max"), title=("title", "first"))
    said = frame.loc[frame["evidence"] != ""]
    evidence = joined_by_group(said, ["patient_id", "code"], "evidence", " | ")
    out = out.assign(evidence=evidence.reindex(out.index).fillna("").astype(str)).reset_index()
    out["severity"] = out["rank"].map(dict(enumerate(SEVERITIES)))
    return out[["patient_id", "code", "severity", "title", "evidence"]]


def seen_keys(flags: pd.DataFrame, *, codes: pd.DataFrame | None = None) -> pd.DataFrame:
    """The warn and urgent flags as the nightly run records them in `flag_seen`: patient_id, code,
    fingerprint (as `monitor flags ack` takes it: every row of the code, full evidence), severity.
    `codes`: `by_code(flags)`, when the caller has it.

    Pass flags evaluated with their evidence, or the fingerprints will not match an acknowledgement."""
    codes = by_code(flags) if codes is None else codes
    codes = codes.loc[codes["severity"].isin(REVIEW_SEVERITIES), ["patient_id", "code", "severity"]]
    if not len(codes):
        return pd.DataFrame(columns=["patient_id", "code", "fingerprint", "severity"])
    keys = pd.MultiIndex.from_frame(codes[["patient_id", "code"]])
    rows = flags.loc[pd.MultiIndex.from_arrays([flags["patient_id"].astype("int64"),
                                                flags["code"].astype(str)]).isin(keys)]
    return fingerprints(rows).astype({"patient_id": "int64"}).merge(codes, on=["patient_id", "code"])


def review_waiting(flags: pd.DataFrame, *, min_severity: str = "warn", codes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per patient and code, the open flags of at least `min_severity` (warn or urgent) that no
    clinician has acknowledged as they read now: patient_id, code, severity, title, evidence.
    `codes`: `by_code(flags)`, when the caller has it (used when no flag is acknowledged, the
    usual case: then the open flags are all the flags)."""
    wanted = REVIEW_SEVERITIES[REVIEW_SEVERITIES.index(min_severity):]
    if codes is None or len(unacknowledged(flags)) != len(flags):
        codes = by_code(waiting_rows(flags, min_severity=min_severity))
    return codes.loc[codes["severity"].isin(wanted)].reset_index(drop=True)


def waiting_rows(flags: pd.DataFrame, *, min_severity: str = "warn") -> pd.DataFrame:
    """Every row of each patient and code that is not acknowledged and reaches `min_severity`:
    all a review list of these flags reads (by_code joins every row's evidence, and most flags
    are info; a group's rows stay whole, so each group reads as among all the flags)."""
    from monitor.rules.flag_frames import SEVERITY_RANK, severity_rank

    waiting = unacknowledged(flags)
    if not len(waiting):
        return waiting
    rank = severity_rank(waiting["severity"])
    top = rank.groupby([waiting["patient_id"].to_numpy(), waiting["code"].astype(str).to_numpy()]).transform("max")
    return waiting.loc[top.to_numpy() >= SEVERITY_RANK[min_severity]]


def review_list(flags: pd.DataFrame, seen: pd.DataFrame, *, as_of, min_severity: str = "warn") -> pd.DataFrame:
    """The clinician's review list: unacknowledged warn/urgent flags, oldest first.

    `flags` are evaluated with evidence and marked (`mark_acknowledged`); `seen` holds the
    `flag_seen` rows (patient_id, code, fingerprint, first_seen_on). A flag is as old as the first
    nightly run that saw it reading as it reads now (new evidence: a new fingerprint, a new date).
    A flag no run has seen by `as_of` counts as first seen on `as_of` (0 days open) and comes after
    the seen ones. Ties: urgent first, then by patient and code."""
    return review_ages(review_candidates(flags, min_severity=min_severity), seen, as_of=as_of)


CANDIDATE_COLUMNS = ["patient_id", "code", "severity", "title", "evidence", "fingerprint"]
AGE_COLUMNS = ("first_seen_on", "days_open", "seen_by_run")


def review_candidates(flags: pd.DataFrame, *, min_severity: str = "warn") -> pd.DataFrame:
    """The review list's flags before their ages (`review_ages`): per waiting patient and code
    (`review_waiting`), what it says now and its fingerprint (of all its rows: an acknowledgement
    covers a patient's code whole). Per patient: a cohort's candidates are its patients' ones."""
    waiting = review_waiting(flags, min_severity=min_severity)
    if not len(waiting):
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "patient_id" else "str") for c in CANDIDATE_COLUMNS})
    keys = pd.MultiIndex.from_frame(waiting[["patient_id", "code"]].astype({"patient_id": "int64", "code": str}))
    printed = fingerprints(flags.loc[pd.MultiIndex.from_arrays([flags["patient_id"].astype("int64"),
                                                                 flags["code"].astype(str)]).isin(keys)])
    waiting = waiting.astype({"patient_id": "int64", "code": str})
    return waiting.merge(printed.astype({"patient_id": "int64"}), on=["patient_id", "code"], how="left")


def review_ages(waiting: pd.DataFrame, seen: pd.DataFrame, *, as_of, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """The review list (`review_list`) of `review_candidates`, aged by the `flag_seen` rows, with
    the candidates' columns `keep` too (the frame given is not changed). Candidates without their
    title and evidence (patient_id, code, severity, fingerprint) give the list without them."""
    columns = [c for c in REVIEW_COLUMNS if c in waiting.columns or c in AGE_COLUMNS] + list(keep)
    if not len(waiting):
        return pd.DataFrame(columns=columns)
    waiting = waiting.copy()
    if len(seen):  # the earliest night per fingerprint, on datetimes (dates would group in Python)
        seen = seen.assign(first_seen_on=pd.to_datetime(seen["first_seen_on"]))
        seen = seen.loc[seen["first_seen_on"] <= pd.Timestamp(as_of)]
    if len(seen):
        first = (seen.groupby(["patient_id", "code", "fingerprint"], as_index=False)["first_seen_on"].min()
                 .astype({"patient_id": "int64", "code": str}))
        first["first_seen_on"] = first["first_seen_on"].dt.date
        waiting = waiting.merge(first, on=["patient_id", "code", "fingerprint"], how="left")
    else:
        waiting["first_seen_on"] = None
    waiting["seen_by_run"] = waiting["first_seen_on"].notna()
    waiting["first_seen_on"] = [d if isinstance(d, type(as_of)) else as_of for d in waiting["first_seen_on"]]
    waiting["days_open"] = [(as_of - d).days for d in waiting["first_seen_on"]]
    return sort_review(waiting)[columns]


def sort_review(rows: pd.DataFrame) -> pd.DataFrame:
    """Review rows (any columns beside REVIEW_COLUMNS) in the list's order: seen by a run first,
    oldest first, urgent before warn, then by patient and code. A patient and code is one row, so
    the order is total: the rows of several patients' lists, put together, sort as one list."""
    from monitor.rules.flag_frames import SEVERITY_RANK

    if not len(rows):
        return rows.reset_index(drop=True)
    urgency = -rows["severity"].astype(str).map(SEVERITY_RANK).astype("int64")
    order = rows.assign(urgency__=urgency).sort_values(
        ["seen_by_run", "first_seen_on", "urgency__", "patient_id", "code"],
        ascending=[False, True, True, True, True], kind="stable")
    return order.drop(columns="urgency__").reset_index(drop=True)
