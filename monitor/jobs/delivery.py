"""Where the nightly worklist goes: the outbox folder (CSV + digest, owner-only), and by mail.

Only staff are written to: no patient is ever contacted automatically. The mailed digest holds
counts and MRNs, never names.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pandas as pd

from monitor.config import Config
from monitor.formats.files import StagedFile, frame_csv_bytes, private_folder

log = logging.getLogger("monitor.jobs")

WORKLIST_COLUMNS = ["reminder_id", "mrn", "name", "item", "due_date", "status", "days_overdue", "state",
                    "last_outreach", "interval_months", "risk_factors", "flags"]


def outbox_dir(config: Config) -> Path:
    """The outbox folder: created owner-only when missing; an existing folder keeps its mode."""
    return private_folder(Path(config.jobs.outbox))


def digest_text(work: pd.DataFrame, evaluation, *, counts: dict, as_of: date) -> str:
    """A short plain-text summary for staff: counts and MRNs, no names."""
    from monitor.rules.acknowledgements import unacknowledged

    flags = unacknowledged(evaluation.flags)  # an acknowledged flag leaves the digest
    urgent = flags.loc[flags["severity"] == "urgent"]
    mrns = evaluation.cohort.patients.set_index("patient_id")["mrn"]
    lines = [
        f"toh-monitor nightly worklist for {as_of.isoformat()}",
        "",
        f"Open DXA reminders: {len(work)} ({int((work['status'] == 'overdue').sum())} overdue)",
        f"New tonight: {counts.get('new', 0)}; closed: {counts.get('closed', 0)}; "
        f"reopened after deferral: {counts.get('reopened', 0)}",
        f"Active patients evaluated: {counts.get('patients', 0)}",
    ]
    if len(urgent):
        lines += ["", f"Urgent flags ({len(urgent)}):"]
        for code, group in urgent.groupby("code"):
            ids = sorted(group["patient_id"].map(mrns.to_dict()))
            lines.append(f"  {code}: {', '.join(ids)}")
    lines += ["", "The worklist CSV beside this file has one row per open reminder.",
              "Record outreach with `monitor reminders outreach ID --outcome ...`."]
    return "\n".join(lines) + "\n"


def stage_delivery(work: pd.DataFrame, evaluation, *, counts: dict, as_of: date, config: Config) -> list[StagedFile]:
    """Tonight's worklist CSV and digest, staged in the outbox: the run publishes them after its commit."""
    folder = outbox_dir(config)
    staged = [StagedFile(folder / f"worklist-{as_of.isoformat()}.csv", frame_csv_bytes(work[WORKLIST_COLUMNS]))]
    try:
        text = digest_text(work, evaluation, counts=counts, as_of=as_of)
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
