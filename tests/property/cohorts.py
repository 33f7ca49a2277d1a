"""Hypothesis generators of valid import files (every kind), and of invalid cells.

A cohort is a dict kind -> list of row dicts (CSV column -> cell text); `write_files` writes it
as the clinic's CSV files, with optional columns sometimes left out and cells sometimes blank.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

from hypothesis import strategies as st

from monitor.config import STAFF_RISK_FACTORS
from monitor.formats.import_spec import COMPLAINTS, JOINTS, REPORTED_AS, SCANNERS, SIDES, SITES, SPECS, STATUSES

EARLIEST = date(1900, 1, 1)
BOOL_WORDS = {True: ("yes", "Yes", "true", "TRUE", "1"), False: ("no", "No", "false", "FALSE", "0")}


def iso(d: date | None) -> str:
    return "" if d is None else d.isoformat()


def dates(lo: date, hi: date):
    return st.integers(0, max(0, (hi - lo).days)).map(lambda n: lo + timedelta(days=n))


def maybe(strategy):
    return st.one_of(st.none(), strategy)


def code(values):
    """A code in any letter case (codes are matched without regard to case)."""
    return st.tuples(st.sampled_from(values), st.sampled_from([str.lower, str.upper, str.title])).map(
        lambda t: t[1](t[0]))


def yes_no():
    return st.one_of(st.just(""), st.booleans().flatmap(lambda b: st.sampled_from(BOOL_WORDS[b])))


def number(lo, hi, places=3):
    return st.integers(int(lo * 10**places), int(hi * 10**places)).map(lambda n: f"{n / 10**places:.{places}f}")


MRNS = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-/ ", min_size=1, max_size=12).map(str.strip).filter(bool)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20).map(str.strip)


PHONES = st.from_regex(r"\A\+?[0-9]{2,4}( ?[0-9]{2,5}){2,3}\Z").filter(lambda t: 6 <= sum(c.isdigit() for c in t) <= 15)
EMAILS = st.from_regex(r"\A[a-z0-9._+-]{1,12}@[a-z0-9-]{1,10}\.[a-z]{2,6}\Z")
ADDRESSES = st.lists(st.from_regex(r"\A[A-Za-z0-9 ,'-]{1,30}\Z").map(str.strip).filter(bool), min_size=1,
                     max_size=4).map(";".join)
LANGUAGES = st.sampled_from(["en", "de", "pt-BR", "es-419", "EN", "fr-CA"])


@st.composite
def contact_details(draw) -> dict[str, str]:
    """Valid contact cells (any may be blank); a preferred contact only where its means is given."""
    out = {"phone": draw(st.one_of(st.just(""), PHONES)), "email": draw(st.one_of(st.just(""), EMAILS)),
           "address": draw(st.one_of(st.just(""), ADDRESSES)), "language": draw(st.one_of(st.just(""), LANGUAGES))}
    means = {"phone": out["phone"], "email": out["email"], "letter": out["address"], "none": "x", "": "x"}
    out["preferred_contact"] = draw(st.sampled_from([c for c, has in means.items() if has]).flatmap(
        lambda c: code((c,)) if c else st.just("")))
    return out


@st.composite
def patient_history(draw, mrn: str, today: date) -> dict[str, list[dict]]:
    """One patient's rows of every kind, each record once (by its natural key), all dates possible."""
    birth = draw(dates(EARLIEST, today - timedelta(days=365 * 15)))
    out: dict[str, list[dict]] = {k: [] for k in SPECS}
    enrolled = draw(maybe(dates(birth, today)))
    out["patients"].append({
        "mrn": mrn, "name": draw(TEXT), "sex": draw(code(("F", "M", "X"))), "birth_date": iso(birth),
        "enrolled_on": iso(enrolled), "status": draw(st.one_of(st.just(""), code(STATUSES))),
        "risk_factors": ";".join(draw(st.lists(st.sampled_from(STAFF_RISK_FACTORS), max_size=3, unique=True))),
        "postmenopausal": draw(yes_no()),
        **draw(contact_details()),
    })
    after_birth = dates(birth, today)
    for joint, side, onset in draw(st.lists(st.tuples(st.sampled_from(JOINTS), st.sampled_from(SIDES), after_birth),
                                            max_size=2, unique_by=lambda t: t)):
        out["episodes"].append({
            "mrn": mrn, "joint": joint, "side": side, "onset_date": iso(onset),
            "diagnosed_on": iso(draw(maybe(dates(onset, today)))), "resolved_on": iso(draw(maybe(dates(onset, today)))),
            "pregnancy_associated": draw(yes_no()), "fracture": draw(yes_no()), })
    for scan_date, site, side in draw(st.lists(
            st.tuples(after_birth, st.sampled_from(SITES), st.sampled_from(SIDES)).map(
                lambda t: (t[0], t[1], "" if t[1] == "lumbar_spine" else t[2])),
            max_size=4, unique_by=lambda t: t)):
        out["scans"].append({
            "mrn": mrn, "scan_date": iso(scan_date), "scanner": draw(st.one_of(st.just(""), code(SCANNERS))),
            "site": site, "side": side, "bmd": draw(number(0.2, 2.0)),
            "t_score": draw(st.one_of(st.just(""), number(-7, 7, 1))), "z_score": draw(st.one_of(st.just(""), number(-7, 7, 1))), })
    for study_date, joint, side in draw(st.lists(st.tuples(after_birth, st.sampled_from(JOINTS), st.sampled_from(SIDES)),
                                                 max_size=1, unique_by=lambda t: t)):
        row = {"mrn": mrn, "study_date": iso(study_date), "joint": joint, "side": side,
               "reported_as": draw(st.one_of(st.just(""), code(REPORTED_AS)))}
        for c in ("t1_low", "t2_high", "edema_homogeneous", "subchondral_normal", "subchondral_rim", "contrast"):
            row[c] = draw(yes_no())
        out["mri"].append(row)
    for expected in draw(st.lists(dates(birth, today + timedelta(weeks=44)), max_size=1, unique=True)):
        earliest_delivery = max(birth, expected - timedelta(days=60))
        delivered = draw(maybe(dates(earliest_delivery, today))) if earliest_delivery <= today else None
        keep_expected = delivered is None or draw(st.booleans())
        out["pregnancies"].append({"mrn": mrn, "expected_delivery": iso(expected if keep_expected else None),
                                   "delivered_on": iso(delivered)})
    for reported_on, complaint, side in draw(st.lists(
            st.tuples(after_birth, st.sampled_from(COMPLAINTS), st.sampled_from(("", *SIDES))), max_size=2,
            unique_by=lambda t: t)):
        out["symptoms"].append({"mrn": mrn, "reported_on": iso(reported_on), "complaint": complaint, "side": side,
                                "progressive": draw(yes_no()), "weight_bearing": draw(yes_no())})
    for assessed_on in draw(st.lists(after_birth, max_size=1, unique=True)):
        out["assessments"].append({
            "mrn": mrn, "assessed_on": iso(assessed_on), "calcium_mg_day": draw(st.one_of(st.just(""), number(0, 10000, 0))),
            "vitamin_d_iu_day": draw(st.one_of(st.just(""), number(0, 100000, 0))),
            "serum_25ohd_ng_ml": draw(st.one_of(st.just(""), number(0, 300, 1))),
            "exercise_min_day": draw(st.one_of(st.just(""), number(0, 1440, 0))), "smoker": draw(yes_no()),
            "alcohol_drinks_day": draw(st.one_of(st.just(""), number(0, 100, 1)))})
    for drug, started_on in draw(st.lists(st.tuples(st.sampled_from(("alendronate", "zoledronate", "calcium + vitamin D",
                                                                      "Teriparatide, daily")), after_birth),
                                          max_size=2, unique_by=lambda t: t)):
        stopped = draw(maybe(dates(started_on, today + timedelta(days=365 * 10))))
        out["treatments"].append({"mrn": mrn, "drug": drug, "dose": draw(TEXT), "started_on": iso(started_on),
                                  "stopped_on": iso(stopped)})
    return out


@st.composite
def cohorts(draw, today: date, max_patients: int = 6, max_kinds: int = 3) -> dict[str, list[dict]]:
    """A valid cohort: a few patients (unique MRNs, compared as written) and their records of
    up to `max_kinds` other kinds (fewer files keep an example fast; every kind gets its turn)."""
    others = draw(st.lists(st.sampled_from([k for k in SPECS if k != "patients"]), min_size=1,
                           max_size=max_kinds, unique=True))
    mrns = draw(st.lists(MRNS, min_size=1, max_size=max_patients, unique=True))
    cohort: dict[str, list[dict]] = {k: [] for k in ("patients", *others)}
    for mrn in mrns:
        for kind, rows in draw(patient_history(mrn, today)).items():
            if kind in cohort:
                cohort[kind] += rows
    return cohort


@st.composite
def layouts(draw, cohort: dict[str, list[dict]]) -> dict[str, list[str]]:
    """Which columns each file has, in which order: every required one, some optional ones."""
    out = {}
    for kind in cohort:
        spec = SPECS[kind]
        # A column of the record's key stays: without it two records (symptoms on both sides the
        # same day) would read as one repeated row, stored once.
        optional = [c.name for c in spec.columns if not c.required and c.name not in spec.key]
        if kind == "pregnancies":
            optional = []  # which of the two dates identifies the pregnancy: keep both
        keep = draw(st.lists(st.sampled_from(optional), unique=True, max_size=len(optional))) if optional else []
        if kind == "patients" and "preferred_contact" in keep:  # a preference needs its means beside it
            keep += [c for c in ("phone", "email", "address") if c not in keep]
        columns = [c.name for c in spec.columns if c.required or c.name in keep or c.name not in optional]
        out[kind] = draw(st.permutations(columns))
    return out


def csv_text(rows: list[dict], columns: list[str], *, sep: str = ",") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return buffer.getvalue()


def write_files(folder: Path, cohort: dict[str, list[dict]], layout: dict[str, list[str]]) -> list[Path]:
    """The cohort as import files (kinds without rows are left out)."""
    paths = []
    for kind, rows in cohort.items():
        if not rows:
            continue
        path = folder / f"{kind}.csv"
        path.write_text(csv_text(rows, layout[kind]), encoding="utf-8")
        paths.append(path)
    return paths
