"""The clinic configuration: defaults from the protocol, overrides checked."""

import pytest

from monitor.config import Config, load_config, parse_config
from monitor.errors import ConfigError


def test_defaults_match_the_protocol():
    """Without a file the software computes exactly PROTOCOL.md's defaults."""
    c = Config()
    assert (c.schedule.interval_months, c.schedule.risk_interval_months) == (24, 12)
    assert (c.schedule.due_soon_days, c.schedule.grace_days) == (60, 30)
    assert c.trend.lsc("total_hip") == (0.025, False)
    assert c.trend.lsc("femoral_neck") == (0.035, False)
    assert c.trend.lsc("lumbar_spine") == (0.030, False)
    assert (c.thresholds.persistent_osteopenia_t, c.thresholds.therapy_t) == (-1.5, -2.0)
    assert c.thresholds.migratory_window_months == 12 and c.thresholds.postpartum_months == 6


def test_measured_precision_gives_lsc():
    """LSC = 2.77 x the clinic's measured precision error."""
    c = parse_config({"trend": {"precision_total_hip": 0.01}})
    assert c.trend.lsc("total_hip") == (0.0277, True)


def test_toml_file(tmp_path):
    """A clinic overrides what it needs in TOML; the rest stays default."""
    path = tmp_path / "clinic.toml"
    path.write_text('timezone = "Europe/Berlin"\n[schedule]\ngrace_days = 14\n', encoding="utf-8")
    c = load_config(path)
    assert c.timezone == "Europe/Berlin" and c.schedule.grace_days == 14 and c.schedule.due_soon_days == 60


@pytest.mark.parametrize("data, message", [
    ({"schedule": {"grace_dayz": 3}}, "unknown setting 'grace_dayz'"),
    ({"schedul": {}}, "unknown setting 'schedul'"),
    ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ({"schedule": {"grace_days": -1}}, "'grace_days' must be a whole number >= 0"),
    ({"schedule": {"grace_days": "30"}}, "'grace_days' must be a whole number >= 0"),
    ({"thresholds": {"therapy_t": "low"}}, "'therapy_t' must be a number"),
    ({"jobs": {"nightly_time": "25:00"}}, "'nightly_time' must be HH:MM"),
])
def test_bad_settings_are_errors(data, message):
    """A typo never silently falls back to a default."""
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_missing_and_broken_files(tmp_path):
    """A missing or malformed config file says which and why."""
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("timezone = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_relative_outbox_and_log_file_are_relative_to_the_config_file(tmp_path, monkeypatch):
    """A relative outbox must not follow the folder a command runs in (patient lists would scatter)."""
    from monitor.config import load_config

    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "clinic.toml").write_text('[jobs]\noutbox = "out"\nlog_file = "/var/log/d.log"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    config = load_config("etc/clinic.toml")
    assert config.jobs.outbox == str(folder.resolve() / "out") and config.jobs.log_file == "/var/log/d.log"
    assert load_config(None).jobs.outbox is None
