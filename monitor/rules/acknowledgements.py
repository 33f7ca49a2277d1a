"""Acknowledged flags (PROTOCOL.md "A flag"): which flags a clinician acknowledged as they read now.

An acknowledgement holds a fingerprint of what the flag said; while the flag still says the same
it is marked acknowledged and leaves worklists and the digest; new evidence brings it back. Pure.
"""

from __future__ import annotations

import hashlib

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
    joined = frame.groupby(["patient_id", "code"], sort=True)["text"].agg("\x1e".join)
    out = joined.map(lambda t: hashlib.sha256(t.encode("utf-8")).hexdigest()).rename("fingerprint")
    return out.reset_index()


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
