"""Where the nightly worklist goes: the outbox folder (CSV + digest, owner-only), and by mail.

Only staff are written to: no patient is ever contacted automatically. The mailed digest holds
counts and MRNs, never names.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pandas as pd

from sqlalchemy import Engine

from monitor.config import Config
from monitor.errors import MonitorError
from monitor.formats.files import StagedFile, frame_csv_bytes, private_folder

log = logging.getLogger("monitor.jobs")

WORKLIST_COLUMNS = ["reminder_id", "mrn", "name", "item", "due_date", "status", "days_overdue", "state",
                    "last_outreach", "interval_months", "risk_factors", "flags",
                    # v2, after the existing columns: who works it, by when, and a deferral's why.
                    "assigned_to", "due_by", "deferred_until", "deferred_reason"]


class NoOutbox(MonitorError):
    """The database has no folder of its own to put the outbox beside."""


def outbox_path(config: Config, engine: Engine) -> Path:
    """Where the outbox is: `[jobs] outbox` when set, else `outbox` beside the SQLite database's
    real file; never the folder a command happens to run in."""
    from monitor.store import sqlite_path

    if config.jobs.outbox:
        return Path(config.jobs.outbox).expanduser()
    database = sqlite_path(engine)
    if database is None:
        raise NoOutbox("this database has no folder to put the outbox beside (PostgreSQL or in-memory): "
                       "set `outbox = \"/path/to/outbox\"` in the [jobs] section of the config file (--config)")
    return database.resolve().parent / "outbox"


def outbox_dir(config: Config, engine: Engine) -> Path:
    """The outbox folder: created owner-only when missing; an existing folder keeps its mode."""
    return private_folder(outbox_path(config, engine))


@dataclass(frozen=True)
class DigestFlags:
    """What the digest reads of the flags: the unacknowledged urgent flags (patient_id, code), the
    titles of waiting flags that may be new tonight (patient_id, code, title: at least every
    unacknowledged urgent code), how many flags wait for review (and how many are urgent), and
    the MRNs of the patients these name (indexed by patient_id)."""

    urgent: pd.DataFrame
    titles: pd.DataFrame
    waiting: int
    waiting_urgent: int
    mrns: pd.Series

    @classmethod
    def of(cls, evaluation, *, codes: pd.DataFrame | None = None) -> "DigestFlags":
        """From an evaluation (its flags and patients); `codes`: `by_code` of its flags, when known."""
        from monitor.rules.acknowledgements import review_waiting, unacknowledged

        flags = unacknowledged(evaluation.flags)  # an acknowledged flag leaves the digest
        waiting = review_waiting(evaluation.flags, codes=codes)
        return cls(flags.loc[flags["severity"] == "urgent", ["patient_id", "code"]],
                   waiting[["patient_id", "code", "title"]], len(waiting),
                   int((waiting["severity"] == "urgent").sum()),
                   evaluation.cohort.patients.set_index("patient_id")["mrn"])


def digest_text(work: pd.DataFrame, evaluation, *, counts: dict, as_of: date,
                new_seen: pd.DataFrame | None = None) -> str:
    """A short plain-text summary for staff: counts, MRNs, flag codes and titles; no names.

    `evaluation`: an Evaluation or its DigestFlags. `new_seen` (patient_id, code, severity): the
    flags this run saw first (`flag_seen`); the new unacknowledged urgent ones are listed for the
    clinician's review."""
    flags = evaluation if isinstance(evaluation, DigestFlags) else DigestFlags.of(evaluation)
    urgent = flags.urgent
    mrns = flags.mrns
    is_open = work["state"] == "open"
    lines = [
        f"toh-monitor nightly worklist for {as_of.isoformat()}",
        "",
        f"Open DXA reminders: {int(is_open.sum())} ({int((work['status'] == 'overdue').sum())} overdue)",
        f"New tonight: {counts.get('new', 0)}; closed: {counts.get('closed', 0)}; "
        f"reopened after deferral: {counts.get('reopened', 0)}",
        f"Active patients evaluated: {counts.get('patients', 0)}",
    ]
    lines += _work_lines(work, is_open)
    if len(urgent):
        lines += ["", f"Urgent flags ({len(urgent)}):"]
        mrn_of = mrns.to_dict()  # once, not once per code
        for code, group in urgent.groupby("code"):
            ids = sorted(group["patient_id"].map(mrn_of))
            lines.append(f"  {code}: {', '.join(ids)}")
    lines += _review_section(flags, new_seen)
    lines += ["", "The worklist CSV beside this file has one row per open reminder.",
              "Record outreach with `monitor reminders outreach MRN --outcome ...`."]
    return "\n".join(lines) + "\n"


def _work_lines(work: pd.DataFrame, is_open: pd.Series) -> list[str]:
    """Where the open reminders stand (last outreach outcome, assignment), and the deferred ones
    kept on the list because of an urgent flag (MRN, until when)."""
    # The outcome is the first word (a regex in Arrow's engine: splitting every cell in Python cost ~0.2 s at 100k).
    outcome = (work.loc[is_open, "last_outreach"].astype(str).str.replace(r" [\s\S]*", "", regex=True)
               .astype("object").replace("", "not yet contacted"))
    counts = outcome.value_counts()
    lines = []
    if is_open.any():
        assigned = int((work.loc[is_open, "assigned_to"].astype(str) != "").sum())
        lines.append("Open reminders by last outreach: " + ", ".join(f"{k} {int(v)}" for k, v in counts.items())
                     + f"; assigned {assigned}, unassigned {int(is_open.sum()) - assigned}")
    kept = work.loc[~is_open]
    if len(kept):
        lines += ["", f"Deferred, but kept on the list for an urgent flag ({len(kept)}):"]
        lines += [f"  {r.mrn}  deferred until {r.deferred_until}" for r in kept.itertuples(index=False)]
    return lines


def _review_section(flags: DigestFlags, new_seen: pd.DataFrame | None) -> list[str]:
    """New unacknowledged urgent flags (first seen tonight) and how many flags wait for review."""
    lines = [""]
    if new_seen is not None and len(new_seen):
        fresh = new_seen.loc[new_seen["severity"] == "urgent", ["patient_id", "code"]].astype({"code": str})
        fresh = fresh.merge(flags.titles.astype({"code": str}), on=["patient_id", "code"])
        if len(fresh):
            fresh = fresh.assign(mrn=fresh["patient_id"].map(flags.mrns.to_dict())).sort_values(["mrn", "code"])
            lines.append(f"New urgent flags tonight, not acknowledged ({len(fresh)}):")
            lines += [f"  {r.mrn}  {r.code}: {r.title}" for r in fresh.itertuples(index=False)]
            lines.append("")
    lines.append(f"Flags waiting for a clinician's review: {flags.waiting} ({flags.waiting_urgent} urgent, "
                 f"{flags.waiting - flags.waiting_urgent} warn); see `monitor flags review`, acknowledge with "
                 "`monitor flags ack MRN CODE --note ...`.")
    return lines


def stage_delivery(work: pd.DataFrame, evaluation, *, counts: dict, as_of: date, config: Config,
                   folder: Path, new_seen: pd.DataFrame | None = None) -> list[StagedFile]:
    """Tonight's worklist CSV and digest, staged in the outbox `folder`: the run publishes them
    after its commit."""
    folder = private_folder(folder)
    staged = [StagedFile(folder / f"worklist-{as_of.isoformat()}.csv", frame_csv_bytes(work[WORKLIST_COLUMNS]))]
    try:
        text = digest_text(work, evaluation, counts=counts, as_of=as_of, new_seen=new_seen)
        staged.append(StagedFile(folder / f"digest-{as_of.isoformat()}.txt", text.encode("utf-8")))
    except BaseException:
        staged[0].discard()
        raise
    return staged


def mail_digest(files: list[Path], *, config: Config, as_of: date) -> str:
    """Mail the digest to the clinic's staff address when SMTP is configured; never raises."""
    jobs = config.jobs
    if not (jobs.smtp_host and jobs.smtp_to):
        return ""
    digest = next((f for f in files if f.name.startswith("digest-")), None)
    if digest is None:
        return ""
    msg = EmailMessage()
    msg["Subject"] = f"toh-monitor worklist {as_of.isoformat()}"
    msg["From"] = jobs.smtp_from or "toh-monitor@localhost"
    msg["To"] = jobs.smtp_to
    msg.set_content(digest.read_text(encoding="utf-8"))
    try:
        with smtplib.SMTP(jobs.smtp_host, jobs.smtp_port, timeout=30) as smtp:
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        log.error("mailing the digest to %s failed: %s", jobs.smtp_to, exc)
        return f"mail failed: {exc}"
    return f"digest mailed to {jobs.smtp_to}"
