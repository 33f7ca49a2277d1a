"""A deterministic synthetic TOH cohort, written as the import CSVs of INTERFACE.md.

The shape follows the guidance and its literature: mostly men of 40–60 and women in late
pregnancy or postpartum; a share with recurrence at the same hip, at the other hip years later,
or migrating through knee, ankle and hip over months; two scanner makes (some patients change);
some patients lost to follow-up (overdue) and some scans missing a hip. No real person is in it.
Same (patients, seed, end date) -> the same files, byte for byte.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

# First names by recorded sex; the lists are the same length so the random stream does not depend on sex.
FIRST = {
    "F": ["Maria", "Lea", "Nora", "Ida", "Anna", "Sara", "Eva", "Mia", "Lina", "Zoe", "Clara", "Emma",
          "Hanna", "Julia", "Laura", "Marta", "Nina", "Olga", "Paula", "Rosa", "Sofia", "Tara", "Vera", "Yara"],
    "M": ["Jonas", "Paul", "Emil", "Tom", "Lukas", "Jan", "Ben", "Noah", "Finn", "Omar", "Adam", "Carl",
          "David", "Erik", "Felix", "Hugo", "Ivan", "Karl", "Leon", "Max", "Nils", "Oskar", "Pedro", "Samir"],
    "X": ["Alex", "Sam", "Robin", "Kim", "Charlie", "Jamie", "Kai", "Luca", "Noor", "Quinn", "Remy", "Sasha",
          "Toni", "Yuki", "Ari", "Eden", "Jules", "Lou", "Mika", "Nico", "Ren", "Sky", "Val", "Wren"],
}
LAST = ["Berg", "Novak", "Costa", "Meyer", "Okafor", "Larsen", "Rossi", "Kowalski", "Nguyen", "Silva",
        "Fischer", "Horvat", "Jensen", "Moreau", "Schmidt", "Duarte", "Weber", "Ahmed", "Keller", "Popov"]
STAFF_CODES = ["glucocorticoids", "smoking", "alcohol_excess", "prior_fragility_fracture",
               "rheumatoid_arthritis", "hypogonadism", "low_bmi", "malabsorption"]
# Reference means and SDs (g/cm²) for T- and Z-scores, by site; the makes differ by a few percent.
REFERENCE = {"total_hip": (0.94, 0.12), "femoral_neck": (0.85, 0.12), "lumbar_spine": (1.05, 0.12)}
MAKE_FACTOR = {"hologic": 1.0, "ge_lunar": 1.06}

KIND_COLUMNS = {
    "patients": ["mrn", "name", "sex", "birth_date", "enrolled_on", "status", "risk_factors", "postmenopausal",
                 "phone", "email", "preferred_contact", "address", "language"],
    "episodes": ["mrn", "joint", "side", "onset_date", "diagnosed_on", "resolved_on",
                 "pregnancy_associated", "fracture", "fracture_on"],
    "scans": ["mrn", "scan_date", "scanner", "site", "side", "bmd", "t_score", "z_score"],
    "mri": ["mrn", "study_date", "joint", "side", "t1_low", "t2_high", "edema_homogeneous",
            "subchondral_normal", "subchondral_rim", "reported_as", "contrast"],
    "pregnancies": ["mrn", "expected_delivery", "delivered_on", "breastfeeding_until"],
    "symptoms": ["mrn", "reported_on", "complaint", "side", "progressive", "weight_bearing"],
    "assessments": ["mrn", "assessed_on", "calcium_mg_day", "vitamin_d_iu_day", "serum_25ohd_ng_ml",
                    "exercise_min_day", "smoker", "alcohol_drinks_day"],
    "treatments": ["mrn", "drug", "dose", "started_on", "stopped_on"],
}


def _yn(flag: bool) -> str:
    return "yes" if flag else "no"


def _d(day: date | None) -> str:
    return "" if day is None else day.isoformat()


def _add_months(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    import calendar

    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def generate(n_patients: int, *, seed: int, end_on: date, progress=None) -> dict[str, pd.DataFrame]:
    """Frames of CSV text (one per import kind) for n synthetic patients, history ending on end_on."""
    rng = random.Random(seed)
    rows: dict[str, list[tuple]] = {k: [] for k in KIND_COLUMNS}
    step = max(1, n_patients // 100)
    for i in range(1, n_patients + 1):
        _one_patient(rng, i, end_on, rows, seed)
        if progress and (i % step == 0 or i == n_patients):
            progress(i, n_patients)
    frames = {k: pd.DataFrame(v, columns=KIND_COLUMNS[k][:len(v[0]) if v else None], dtype="str")
              for k, v in rows.items()}
    frames["patients"] = _with_contacts(frames["patients"], seed)
    # Two reports of one patient's complaint on one day (a pregnancy's and an episode's) are one
    # record: the first is kept (at 1M patients two of them differed, and the import refused both).
    frames["symptoms"] = frames["symptoms"].drop_duplicates(["mrn", "reported_on", "complaint", "side"],
                                                            ignore_index=True)
    return frames


# Fictional contact details: Ofcom's drama range (07700 900000-900999), example.org mail, made-up streets.
STREETS = ["Mill Lane", "Station Road", "Church Street", "Orchard Close", "High Street", "Park Avenue",
           "Willow Way", "Harbour Road", "Queen's Terrace", "Elm Grove"]
TOWNS = ["Northbridge", "Eastwick", "Lowmoor", "Ashford Vale", "Kingsmere", "Redcliff"]
OTHER_LANGUAGES = ["de", "pl", "pt-BR", "fr", "es", "ar", "tr", "uk"]
CONTACT_COLUMNS = ["phone", "email", "preferred_contact", "address", "language"]


def _with_contacts(patients: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Contact columns for every patient, drawn in one vectorised pass from their own stream (so
    every clinical value is unchanged). Some details are missing; the preferred contact always
    has its means (a phone, an email, an address), or is `none`."""
    n = len(patients)
    rng = np.random.default_rng([seed % 2**63, 0xC0C7AC7])
    has_phone, has_email, has_address = rng.random(n) < 0.85, rng.random(n) < 0.6, rng.random(n) < 0.92
    phone = "+44 7700 900" + pd.Series(rng.integers(0, 1000, n)).astype("str").str.zfill(3)
    local = patients["name"].str.lower().str.replace(" ", ".", regex=False)
    suffix = pd.Series(np.where(rng.random(n) < 0.3, rng.integers(1, 100, n).astype("str"), ""))
    email = local + suffix + "@example.org"
    address = (pd.Series(rng.integers(1, 120, n)).astype("str") + " "
               + pd.Series(np.take(STREETS, rng.integers(0, len(STREETS), n)))
               + ";" + pd.Series(np.take(TOWNS, rng.integers(0, len(TOWNS), n)))
               + ";" + "ZZ" + pd.Series(rng.integers(1, 99, n)).astype("str") + " "
               + pd.Series(rng.integers(1, 10, n)).astype("str") + "XY")
    roll = rng.random(n)
    wanted = np.select([roll < 0.45, roll < 0.65, roll < 0.85, roll < 0.95], ["phone", "email", "letter", "none"], "")
    means = {"phone": has_phone, "email": has_email, "letter": has_address}
    ok = np.ones(n, dtype=bool)
    for choice, has in means.items():
        ok &= ~((wanted == choice) & ~has)
    preferred = np.where(ok, wanted, np.where(has_address, "letter", "none"))
    roll = rng.random(n)  # mostly English, a few others, some not recorded
    language = np.where(roll < 0.85, "en", np.where(roll < 0.96, np.take(OTHER_LANGUAGES,
                                                                          rng.integers(0, len(OTHER_LANGUAGES), n)), ""))
    return patients.assign(
        phone=np.where(has_phone, phone, ""), email=np.where(has_email, email, ""),
        preferred_contact=preferred, address=np.where(has_address, address, ""), language=language,
    ).astype("str")[KIND_COLUMNS["patients"]]


def _one_patient(rng: random.Random, index: int, end: date, rows: dict[str, list[tuple]], seed: int = 0) -> None:
    mrn = f"TOH-{index:06d}"
    # Version 2 cases draw from their own stream, so every earlier patient's history is unchanged.
    v2 = random.Random(seed * 1_000_003 + index)
    kind = rng.random()
    pregnancy = pregnant_now = False
    if kind < 0.58:
        sex, age = "M", rng.uniform(40, 60)
    elif kind < 0.88:
        sex, age, pregnancy = "F", rng.uniform(24, 41), True
    elif kind < 0.98:
        sex, age = "F", rng.uniform(45, 70)
    else:
        sex, age = "X", rng.uniform(30, 60)
    onset = end - timedelta(days=rng.randint(20, 8 * 365))
    birth = onset - timedelta(days=int(age * 365.25))
    staff = sorted(rng.sample(STAFF_CODES, rng.choice([1, 1, 2]))) if rng.random() < 0.22 else []
    if pregnancy and "smoking" in staff and rng.random() < 0.5:
        staff.remove("smoking")
    status_roll = rng.random()
    status = ("active" if status_roll < 0.87 else "discharged" if status_roll < 0.94 else
              "opted_out" if status_roll < 0.96 else "transferred" if status_roll < 0.99 else "deceased")

    # Episodes: the first, then perhaps a recurrence or a migration.
    first_side = rng.choice(["left", "right"])
    episodes = [_episode(rng, "hip", first_side, onset, end, pregnancy)]
    roll = rng.random()
    if roll < 0.08:  # migratory: knee, ankle or the other hip within months
        when = onset
        for joint in rng.sample(["knee", "ankle", "hip"], rng.choice([1, 2])):
            when = when + timedelta(days=rng.randint(45, 300))
            side = first_side if joint != "hip" else ("left" if first_side == "right" else "right")
            if joint != "hip" and rng.random() < 0.4:
                side = "left" if side == "right" else "right"
            if when < end:
                episodes.append(_episode(rng, joint, side, when, end, False))
    elif roll < 0.14:  # contralateral hip years later
        when = onset + timedelta(days=rng.randint(700, 1500))
        if when < end:
            episodes.append(_episode(rng, "hip", "left" if first_side == "right" else "right", when, end, False))
    elif roll < 0.19:  # same hip after resolution
        first_resolved = episodes[0][4]
        if first_resolved:
            when = first_resolved + timedelta(days=rng.randint(200, 1100))
            if when < end:
                episodes.append(_episode(rng, "hip", first_side, when, end, False))
    for ep in episodes:
        fracture_on = min(ep[2] + timedelta(days=v2.randint(7, 90)), end) if ep[6] == "yes" and v2.random() < 0.7 else None
        rows["episodes"].append((mrn,) + tuple(_d(v) if isinstance(v, date) or v is None else v for v in ep)
                                + (_d(fracture_on),))

    diagnosed = episodes[0][3] or episodes[0][2]
    enrolled = diagnosed
    name = f"{rng.choice(FIRST[sex])} {rng.choice(LAST)}"
    postmenopausal = _yn(age >= 50) if sex == "F" and age >= 45 and rng.random() < 0.8 else ""
    rows["patients"].append((mrn, name, sex, _d(birth), _d(enrolled), status, ";".join(staff), postmenopausal))

    # Pregnancies: delivery a few weeks after onset (third trimester) or onset postpartum.
    if pregnancy:
        delivery = onset + timedelta(days=rng.randint(-60, 70))
        delivered = delivery + timedelta(days=rng.randint(-10, 10)) if delivery + timedelta(days=10) < end else None
        if delivered is not None and delivered > end:
            delivered = None
        rows["pregnancies"].append((mrn, _d(delivery), _d(delivered), _breastfeeding(v2, delivered, end)))
        if rng.random() < 0.15 and delivery <= end:
            # A later pregnancy, hip pain reported in the third trimester.
            later = delivery + timedelta(days=rng.randint(500, 1600))
            if later <= end + timedelta(weeks=44):  # a delivery further ahead is no pregnancy yet
                later_delivered = later if later < end - timedelta(days=15) else None
                rows["pregnancies"].append((mrn, _d(later), _d(later_delivered),
                                            _breastfeeding(v2, later_delivered, end)))
            report = later - timedelta(days=rng.randint(10, 80))
            if report <= end:
                rows["symptoms"].append((mrn, _d(report), rng.choice(["hip_pain", "groin_pain", "low_back_pain_to_groin"]),
                                         rng.choice(["left", "right"]), _yn(rng.random() < 0.3), "yes"))
        elif v2.random() < 0.25 and delivery + timedelta(days=400) <= end:
            # Pregnant again on the end date: no DXA until after delivery, no bone drug decision now.
            due = end + timedelta(days=v2.randint(20, 240))
            rows["pregnancies"].append((mrn, _d(due), "", ""))
            pregnant_now = True
            if due - end <= timedelta(weeks=13):  # third trimester: hip pain not yet imaged
                rows["symptoms"].append((mrn, _d(end - timedelta(days=v2.randint(0, 20))), "groin_pain",
                                         v2.choice(["left", "right"]), "no", "yes"))

    # Symptoms at onset; some keep bearing weight on a progressively painful hip.
    for ep in episodes:
        joint, side, ep_onset = ep[0], ep[1], ep[2]
        complaint = {"hip": "hip_pain", "knee": "knee_pain", "ankle": "ankle_pain", "foot": "ankle_pain"}[joint]
        progressive = rng.random() < 0.25
        reported = ep_onset + timedelta(days=rng.randint(0, 20))
        if reported <= end:
            rows["symptoms"].append((mrn, _d(reported), complaint, side, _yn(progressive),
                                     _yn(progressive and rng.random() < 0.5)))

    # New pain after resolution at the same hip or a knee, not yet imaged (possible recurrence or migration).
    resolved_first = episodes[0][4]
    if resolved_first is not None and v2.random() < 0.06:
        report = resolved_first + timedelta(days=v2.randint(60, 700))
        if report <= end and all(ep[2] < report for ep in episodes):
            rows["symptoms"].append((mrn, _d(report), v2.choice(["hip_pain", "knee_pain"]), first_side,
                                     _yn(v2.random() < 0.3), "yes"))

    # MRI at diagnosis: TOH pattern; a few reported as osteonecrosis (the misread of [7]).
    for ep in episodes:
        study = ep[3]
        if study is None or study > end:
            continue
        misread = rng.random() < 0.07
        necrosis = rng.random() < 0.03
        rows["mri"].append((mrn, _d(study), ep[0], ep[1], "yes", "yes", _yn(not necrosis), _yn(not necrosis),
                            _yn(necrosis), "osteonecrosis" if (misread or necrosis) else "toh", "no"))

    # DXA: baseline after diagnosis, then every 1–2 years until the patient is lost or today.
    makes = ["hologic", "ge_lunar"]
    make = makes[0] if rng.random() < 0.6 else makes[1]
    change_make = rng.random() < 0.1
    lost_after = rng.random() < 0.25
    incomplete = rng.random() < 0.06
    # A silent loss on the latest scan: the other hip, the same hip, or both (the flags' cases).
    other_side = "left" if first_side == "right" else "right"
    late_roll = rng.random()
    late_loss = ({other_side} if late_roll < 0.05 else {first_side} if late_roll < 0.08
                 else {"left", "right"} if late_roll < 0.10 else set())
    base = {site: rng.gauss(REFERENCE[site][0] - 0.02, 0.09) for site in REFERENCE}
    if v2.random() < (0.8 if pregnant_now else 0.06):  # low bone mass for age (young adults: judged on Z-scores, ISCD)
        base = {site: value - (0.22 if pregnant_now else 0.15) for site, value in base.items()}
    interval = 365 if (staff or pregnancy or len(episodes) > 1) else 730
    dates = []
    scan = diagnosed + timedelta(days=rng.randint(5, 60)) if rng.random() < 0.93 else None
    while scan is not None and scan <= end:
        dates.append(scan)
        if lost_after and len(dates) >= rng.randint(1, 3):
            break
        scan = scan + timedelta(days=interval + rng.randint(-20, 45))
    for n, scan in enumerate(dates):
        if change_make and n == 2:
            make = makes[1] if make == makes[0] else makes[0]
        is_last = n == len(dates) - 1 and n > 0
        age_years = (scan - birth).days / 365.25
        for site, side in (("total_hip", "left"), ("femoral_neck", "left"), ("total_hip", "right"),
                           ("femoral_neck", "right"), ("lumbar_spine", "")):
            if incomplete and is_last and side == other_side:
                continue
            bmd = base[site] - 0.0015 * max(0.0, age_years - 50)
            for ep in episodes:
                if ep[0] == "hip" and side == ep[1] and scan >= ep[2]:
                    resolved = ep[4]
                    if resolved is None or scan <= resolved:
                        bmd *= 0.84  # the rapid loss of an active episode
                    else:
                        months_after = (scan - resolved).days / 30.4
                        bmd *= 1 - 0.16 * max(0.0, 1 - months_after / 18)
            if is_last and side in late_loss:
                bmd *= 0.93
            bmd = bmd * MAKE_FACTOR[make] + rng.gauss(0, 0.008)
            bmd = min(max(bmd, 0.35), 1.6)
            mean, sd = REFERENCE[site]
            t = (bmd / MAKE_FACTOR[make] - mean) / sd
            z = t + 0.025 * max(0.0, age_years - 30)  # age-matched reference is lower
            rows["scans"].append((mrn, _d(scan), make, site, side, f"{bmd:.3f}", f"{round(t, 1) + 0.0:.1f}",
                                  f"{round(z, 1) + 0.0:.1f}"))

    # A lifestyle assessment at enrolment; some later.
    when = enrolled + timedelta(days=rng.randint(0, 30))
    while when <= end:
        smoker = "smoking" in staff or rng.random() < 0.08
        rows["assessments"].append((
            mrn, _d(when), str(rng.choice([600, 800, 1000, 1200, 1400])), str(rng.choice([200, 400, 600, 800, 1000])),
            f"{rng.uniform(12, 45):.0f}", str(rng.choice([0, 10, 20, 30, 45, 60])), _yn(smoker),
            str(rng.choice([0, 0, 1, 2, 3, 5]) if "alcohol_excess" not in staff else 4),
        ))
        when = when + timedelta(days=rng.randint(400, 1200))

    # Treatments: calcium and vitamin D for most; some bisphosphonate; teriparatide rarely.
    if rng.random() < 0.6:
        rows["treatments"].append((mrn, "calcium + vitamin D", "1000 mg + 800 IU daily", _d(enrolled), ""))
    if rng.random() < 0.25:
        start = enrolled + timedelta(days=rng.randint(30, 400))
        if start <= end:
            stop = start + timedelta(days=rng.randint(90, 900))
            rows["treatments"].append((mrn, "alendronate", "70 mg weekly", _d(start), _d(stop) if stop <= end else ""))
    elif rng.random() < 0.03:
        start = enrolled + timedelta(days=rng.randint(10, 100))
        if start <= end:
            rows["treatments"].append((mrn, "teriparatide", "20 µg daily", _d(start), ""))


def _breastfeeding(v2: random.Random, delivered: date | None, end: date) -> str:
    """`breastfeeding_until` of a delivery: not recorded, `ongoing` within a year, or a weaning date."""
    if delivered is None:
        return ""
    roll = v2.random()
    if roll < 0.35:
        return ""
    if roll < 0.65 and (end - delivered).days < 365:
        return "ongoing"
    return _d(min(delivered + timedelta(days=v2.randint(30, 330)), end))


def _episode(rng: random.Random, joint: str, side: str, onset: date, end: date, pregnancy: bool) -> tuple:
    diagnosed = onset + timedelta(days=rng.randint(10, 70))
    if diagnosed > end:
        diagnosed = None
    resolved = (diagnosed or onset) + timedelta(days=rng.randint(120, 360))
    if resolved > end:
        resolved = None
    fracture = pregnancy and rng.random() < 0.15
    return (joint, side, onset, diagnosed, resolved, _yn(pregnancy), _yn(fracture))


def write_cohort(frames: dict[str, pd.DataFrame], folder: Path) -> dict[str, int]:
    """One CSV per kind in `folder`; returns the row counts."""
    counts = {}
    for kind, frame in frames.items():
        frame.to_csv(folder / f"{kind}.csv", index=False, lineterminator="\n")
        counts[kind] = len(frame)
    return counts
