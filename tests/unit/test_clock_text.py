"""Timestamps shown to people: the clinic's zone with its offset (issue 12)."""

from datetime import datetime, timezone

import pandas as pd

from monitor.rules.clock_text import local_text


def test_utc_moment_is_shown_in_the_clinic_zone_with_its_offset():
    """A clerk in Berlin reads local time, and the offset says which."""
    at = datetime(2026, 7, 1, 10, 30, tzinfo=timezone.utc)
    assert local_text(at, "Europe/Berlin") == "2026-07-01 12:30 +02:00"
    assert local_text(at, "UTC") == "2026-07-01 10:30 +00:00"


def test_the_offset_follows_daylight_saving_time():
    """Winter and summer times of one clinic differ by their offset, never silently."""
    assert local_text(datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc), "Europe/Berlin") == "2026-01-15 10:00 +01:00"


def test_naive_text_and_pandas_values_are_read_as_utc_and_missing_is_blank():
    """What the database hands back (naive UTC on SQLite, Timestamps in frames) reads the same."""
    assert local_text(datetime(2026, 7, 1, 10, 30), "Europe/Berlin") == "2026-07-01 12:30 +02:00"
    assert local_text(pd.Timestamp("2026-07-01 10:30", tz="UTC"), "America/New_York") == "2026-07-01 06:30 -04:00"
    assert local_text("2026-07-01 10:30:00", "UTC") == "2026-07-01 10:30 +00:00"
    assert local_text(None, "UTC") == "" and local_text(pd.NaT, "UTC") == ""
