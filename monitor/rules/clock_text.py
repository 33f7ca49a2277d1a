"""How a stored moment is shown to a person: in the clinic's time zone, with its offset.

Timestamps are stored as aware UTC datetimes (`*_at`); people read them in the clinic's zone,
and the offset makes a copied line unambiguous ("2026-03-29 03:15 +02:00"). Pure: the zone is
an argument, no clock is read.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pandas as pd


def local_text(at, zone: ZoneInfo | str) -> str:
    """`at` (an aware datetime, a naive one meaning UTC, a pandas Timestamp, or text) as
    `YYYY-MM-DD HH:MM +HH:MM` in `zone`; "" when missing."""
    if at is None or at is pd.NaT or (not isinstance(at, datetime) and pd.isna(at)):
        return ""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if isinstance(at, pd.Timestamp):
        at = at.to_pydatetime()
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    zone = ZoneInfo(zone) if isinstance(zone, str) else zone
    local = at.astimezone(zone)
    offset = local.strftime("%z")  # +0100
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"
