"""Clinic configuration: every default of the protocol, overridable from a TOML file.

The defaults and their clinical sources are listed in the README. A setting the file names but
this module does not know is an error, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.errors import ConfigError

STAFF_RISK_FACTORS = (
    "glucocorticoids",
    "smoking",
    "alcohol_excess",
    "prior_fragility_fracture",
    "rheumatoid_arthritis",
    "hypogonadism",
    "low_bmi",
    "malabsorption",
    "other",
)


@dataclass(frozen=True, kw_only=True)
class ScheduleSettings:
    """PROTOCOL.md §1: DXA intervals and status windows [1, 2, 3]."""

    interval_months: int = 24
    risk_interval_months: int = 12
    due_soon_days: int = 60
    grace_days: int = 30
    risk_factor_codes: tuple[str, ...] = STAFF_RISK_FACTORS


@dataclass(frozen=True, kw_only=True)
class TrendSettings:
    """PROTOCOL.md §2: least significant change per DXA site, g/cm² [1, 2]."""

    lsc_multiplier: float = 2.77
    default_lsc_total_hip: float = 0.025
    default_lsc_femoral_neck: float = 0.035
    default_lsc_lumbar_spine: float = 0.030
    # The clinic's measured precision error (RMS-SD, g/cm²); None = not measured here.
    precision_total_hip: float | None = None
    precision_femoral_neck: float | None = None
    precision_lumbar_spine: float | None = None

    def lsc(self, site: str) -> tuple[float, bool]:
        """The LSC for a site and whether it was measured at this clinic."""
        precision = getattr(self, f"precision_{site}")
        if precision is not None:
            return round(self.lsc_multiplier * precision, 4), True
        return getattr(self, f"default_lsc_{site}"), False


@dataclass(frozen=True, kw_only=True)
class ThresholdSettings:
    """PROTOCOL.md §3–§5: treatment thresholds and time windows [1, 2, 5, 6]."""

    persistent_osteopenia_t: float = -1.5
    therapy_t: float = -2.0
    low_for_age_z: float = -2.0
    z_score_age: int = 50
    migratory_window_months: int = 12
    third_trimester_weeks: int = 13
    postpartum_months: int = 6
    # §3: recurrence/migration flags are warnings until this long after the newest episode resolved.
    recent_months: int = 12
    # Vocabulary: a pregnancy starts this many weeks before the (expected) delivery and, with no
    # delivery recorded, ends this many days after the expected date.
    pregnancy_weeks: int = 40
    undelivered_days: int = 14
    # `breastfeeding_until = ongoing` counts as breastfeeding for this long after delivery.
    ongoing_breastfeeding_months: int = 12


@dataclass(frozen=True, kw_only=True)
class PreventionSettings:
    """PROTOCOL.md §7: prevention targets [2, 3]."""

    calcium_mg_day: float = 1000
    vitamin_d_iu_day: float = 600
    serum_25ohd_ng_ml: float = 20
    exercise_min_day: float = 30
    alcohol_drinks_day: float = 2


@dataclass(frozen=True, kw_only=True)
class TreatmentSettings:
    """PROTOCOL.md vocabulary: the clinic's own names for bone treatment.

    Each entry is a drug name as the clinic records it ("Ostemax"), optionally mapped to the
    drug it is ("Ostemax=alendronate"). The generic names and common brands are built in.
    """

    bone_drugs: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class JobSettings:
    """The daemon's schedule, in the clinic's local time; where its files and log go.

    `outbox` unset: the folder `outbox` beside a SQLite database (a PostgreSQL database needs it
    set). A relative `outbox` or `log_file` in a config file is relative to that file's folder."""

    nightly_time: str = "04:00"
    report_day: str = "mon"
    report_time: str = "05:00"
    outbox: str | None = None
    log_file: str | None = None
    remind_statuses: tuple[str, ...] = ("due", "overdue")
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str | None = None
    smtp_to: str | None = None


@dataclass(frozen=True, kw_only=True)
class LetterSettings:
    """Recall letters (`monitor letters`): the clinic's name and contact printed on them, and the
    clinic's own Jinja2 template (a path; relative to the config file) instead of the built-in one.
    `clinic_address` is one line per part, separated by `;` like a patient's address."""

    template: str | None = None
    clinic_name: str = "The TOH follow-up clinic"
    clinic_address: str = ""
    clinic_phone: str = ""


@dataclass(frozen=True, kw_only=True)
class DatabaseSettings:
    """How long a command waits for another process's write before it says the database is busy."""

    busy_timeout_seconds: float = 60


@dataclass(frozen=True, kw_only=True)
class ScaleSettings:
    """How many patients `due`, `flags` (and `flags review`), `reminders`, `export overdue`, `fhir`
    and `calendar`, `letters` and the nightly run load and evaluate at a time: memory stays flat whatever the
    cohort's size (0: the whole cohort at once), and `evaluation_workers` processes read and
    evaluate the chunks and draw `report patients`' files (0: none: the command does).
    `import_workers`: how many processes split a large import's files and check its parts (0: one
    per core, at most 2; 1: all in the importing process)."""

    chunk_patients: int = 10000
    # Worker processes that read and evaluate the chunks (services.chunks, chunk_workers); 0 reads
    # and evaluates in this process. Used only when the cohort has more than one chunk.
    evaluation_workers: int = 2
    import_workers: int = 0


@dataclass(frozen=True, kw_only=True)
class FhirSettings:
    """FHIR R4 import (README "Importing from FHIR R4"): where the MRN is, what an unknown gender
    becomes, and which Condition codes are a TOH episode.

    `mrn_system`: the Patient identifier system that holds the MRN (besides any identifier of type
    `MR`). `unknown_gender`: "" rejects a Patient whose gender is unknown or absent; "X" records X.
    `toh_codes`: Condition codes taken as a TOH episode, each `SYSTEM|CODE` or `CODE`; none by
    default (no standard code names TOH: the clinic lists the ones its EHR uses)."""

    mrn_system: str | None = None
    unknown_gender: str = ""
    toh_codes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Config:
    timezone: str = "UTC"
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    trend: TrendSettings = field(default_factory=TrendSettings)
    thresholds: ThresholdSettings = field(default_factory=ThresholdSettings)
    prevention: PreventionSettings = field(default_factory=PreventionSettings)
    treatment: TreatmentSettings = field(default_factory=TreatmentSettings)
    jobs: JobSettings = field(default_factory=JobSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    fhir: FhirSettings = field(default_factory=FhirSettings)
    letters: LetterSettings = field(default_factory=LetterSettings)
    scale: ScaleSettings = field(default_factory=ScaleSettings)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


_SECTIONS = {
    "schedule": ScheduleSettings,
    "trend": TrendSettings,
    "thresholds": ThresholdSettings,
    "prevention": PreventionSettings,
    "treatment": TreatmentSettings,
    "jobs": JobSettings,
    "database": DatabaseSettings,
    "fhir": FhirSettings,
    "letters": LetterSettings,
    "scale": ScaleSettings,
}


def _build(cls, values: dict, where: str):
    known = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown setting '{key}' (known: {', '.join(sorted(known))})")
        default = known[key].default
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}: '{key}' must be a list of strings")
            value = tuple(value)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: '{key}' must be true or false")
        elif isinstance(default, int) and not isinstance(default, bool):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{where}: '{key}' must be a whole number >= 0, got {value!r}")
        elif isinstance(default, float) or default is None and key.startswith("precision_"):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ConfigError(f"{where}: '{key}' must be a number, got {value!r}")
            value = float(value)
        elif not isinstance(value, (str, type(None))) and not isinstance(default, int):
            raise ConfigError(f"{where}: '{key}' must be text, got {value!r}")
        kwargs[key] = value
    return cls(**kwargs)


def parse_config(data: dict, *, source: str = "config") -> Config:
    """Build a Config from parsed TOML, rejecting unknown sections and settings."""
    kwargs: dict = {}
    for key, value in data.items():
        if key == "timezone":
            if not isinstance(value, str):
                raise ConfigError(f"{source}: 'timezone' must be text such as 'Europe/Berlin'")
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigError(f"{source}: unknown time zone '{value}'") from None
            kwargs["timezone"] = value
        elif key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: [{key}] must be a table")
            kwargs[key] = _build(_SECTIONS[key], value, f"{source} [{key}]")
        else:
            raise ConfigError(
                f"{source}: unknown setting '{key}' (known: timezone, {', '.join(_SECTIONS)})"
            )
    config = Config(**kwargs)
    _check(config, source)
    return config


def _check(config: Config, source: str) -> None:
    jobs = config.jobs
    for name in ("nightly_time", "report_time"):
        value = getattr(jobs, name)
        parts = value.split(":")
        if len(parts) != 2 or not all(p.isdigit() for p in parts) or not (
            0 <= int(parts[0]) < 24 and 0 <= int(parts[1]) < 60
        ):
            raise ConfigError(f"{source} [jobs]: '{name}' must be HH:MM, got {value!r}")
    if jobs.report_day not in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        raise ConfigError(f"{source} [jobs]: 'report_day' must be mon..sun, got {jobs.report_day!r}")
    bad = set(jobs.remind_statuses) - {"due_soon", "due", "overdue"}
    if bad or not jobs.remind_statuses:
        raise ConfigError(f"{source} [jobs]: 'remind_statuses' takes due_soon, due, overdue; got {sorted(bad)}")
    if not 0 <= config.database.busy_timeout_seconds <= 3600:
        raise ConfigError(f"{source} [database]: 'busy_timeout_seconds' must be 0 to 3600")
    for entry in config.treatment.bone_drugs:
        name, _, generic = entry.partition("=")
        if not name.strip() or ("=" in entry and not generic.strip()):
            raise ConfigError(f"{source} [treatment]: 'bone_drugs' entries are NAME or NAME=DRUG, got {entry!r}")
    if config.fhir.unknown_gender not in ("", "X"):
        raise ConfigError(f"{source} [fhir]: 'unknown_gender' is \"X\" or \"\" (reject), got {config.fhir.unknown_gender!r}")
    if config.schedule.interval_months < 1 or config.schedule.risk_interval_months < 1:
        raise ConfigError(f"{source} [schedule]: intervals must be at least 1 month")
    if config.scale.chunk_patients < 0:
        raise ConfigError(f"{source} [scale]: 'chunk_patients' must be 0 (all at once) or more")
    if not 0 <= config.scale.evaluation_workers <= 16:
        raise ConfigError(f"{source} [scale]: 'evaluation_workers' must be 0 (evaluate in the command's process) to 16")


def load_config(path: str | os.PathLike | None) -> Config:
    """Read the clinic configuration; None means every default."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{p}: configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return _beside(parse_config(data, source=str(p)), p.resolve().parent)


def _beside(config: Config, folder: Path) -> Config:
    """Relative paths of the file's [jobs] section and its letters template, resolved against the
    file's folder (never the folder a command happens to run in)."""
    changes = {}
    for name in ("outbox", "log_file"):
        value = getattr(config.jobs, name)
        if value and not Path(value).expanduser().is_absolute():
            changes[name] = str(folder / value)
        elif value:
            changes[name] = str(Path(value).expanduser())
    if changes:
        config = dataclasses.replace(config, jobs=dataclasses.replace(config.jobs, **changes))
    template = config.letters.template
    if template:
        path = Path(template).expanduser()
        config = dataclasses.replace(config, letters=dataclasses.replace(
            config.letters, template=str(path if path.is_absolute() else folder / path)))
    return config
