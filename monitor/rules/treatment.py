"""PROTOCOL.md vocabulary: on bone treatment on a day; calcium and vitamin D supplements (§7).

A drug counts as bone treatment when its recorded name contains a generic name or a common
brand (mapped to the generic), or a name the clinic adds in `[treatment] bone_drugs`. Calcium
and vitamin D are not bone treatment; their current doses count toward the daily intake.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd

from monitor.rules.cohort import Cohort
from monitor.config import Config, TreatmentSettings
from monitor.rules.flag_frames import FLAG_COLUMNS, join_by, per_patient_flags

# Recorded-name fragment -> the drug it is. Fragments are matched case-insensitively at the
# start of a word ("Alendronic acid", "alendronate sodium", "Prolia 60 mg").
BONE_DRUGS = {
    "alendron": "alendronate", "risedron": "risedronate", "ibandron": "ibandronate",
    "zoledron": "zoledronic acid", "pamidron": "pamidronate", "etidron": "etidronate",
    "clodron": "clodronate", "bisphosphonate": "a bisphosphonate",
    "denosumab": "denosumab", "teriparatide": "teriparatide", "abaloparatide": "abaloparatide",
    "romosozumab": "romosozumab",
    "fosamax": "alendronate", "binosto": "alendronate", "actonel": "risedronate", "atelvia": "risedronate",
    "boniva": "ibandronate", "reclast": "zoledronic acid", "aclasta": "zoledronic acid", "zometa": "zoledronic acid",
    "prolia": "denosumab", "xgeva": "denosumab", "forteo": "teriparatide", "forsteo": "teriparatide",
    "tymlos": "abaloparatide", "eladynos": "abaloparatide", "evenity": "romosozumab",
}
CALCIUM_RE = r"(?i)\bcalcium\b"
VITAMIN_D_RE = r"(?i)vitamin\s*d|cholecalciferol|colecalciferol|ergocalciferol|\bd3\b"

TREATMENT_COLUMNS = ["patient_id", "drug", "generic", "dose", "started_on"]


def bone_drug_names(settings: TreatmentSettings) -> dict[str, str]:
    """Built-in fragments plus the clinic's names (NAME or NAME=DRUG), lower-case."""
    names = dict(BONE_DRUGS)
    for entry in settings.bone_drugs:
        name, _, generic = entry.partition("=")
        names[name.strip().lower()] = (generic or name).strip()
    return names


def recognise(drugs: pd.Series, settings: TreatmentSettings) -> pd.Series:
    """The generic bone drug each recorded name is, or NaN when it is not bone treatment."""
    names = bone_drug_names(settings)
    if not len(drugs):
        return pd.Series(dtype="object", index=drugs.index)
    alternation = "|".join(sorted((re.escape(n) for n in names), key=len, reverse=True))
    # A cohort records few distinct drug names: match each once, then map every row.
    distinct = pd.Series(pd.unique(drugs.astype("str")))
    found = distinct.str.extract(rf"(?i)(?<![a-z])({alternation})", expand=False).str.lower().map(names)
    return drugs.astype("str").map(dict(zip(distinct, found)))


def current_on(treatments: pd.DataFrame, day) -> pd.Series:
    """Started on or before `day` and not stopped before it (stopped that day still counts)."""
    day = pd.Timestamp(day)
    return (treatments["started_on"] <= day) & ~(treatments["stopped_on"] < day)


def bone_treatments_on(cohort: Cohort, *, as_of: date, settings: TreatmentSettings) -> pd.DataFrame:
    """Current bone treatments on `as_of`, one row per treatment (TREATMENT_COLUMNS)."""
    tr = cohort.treatments
    if not len(tr):
        return pd.DataFrame(columns=TREATMENT_COLUMNS)
    generic = recognise(tr["drug"], settings)
    cur = tr.assign(generic=generic).loc[generic.notna() & current_on(tr, as_of)]
    return cur.sort_values(["patient_id", "started_on", "drug"], kind="stable")[TREATMENT_COLUMNS].reset_index(drop=True)


def bone_treatment_text(current: pd.DataFrame) -> pd.Series:
    """Per patient: 'Prolia (denosumab) since 2025-03-01; ...'."""
    if not len(current):
        return pd.Series(dtype="str")
    same = current["drug"].str.strip().str.lower() == current["generic"].str.lower()
    name = current["drug"].where(same, current["drug"] + " (" + current["generic"] + ")")
    return join_by(current["patient_id"], name + " since " + current["started_on"].dt.strftime("%Y-%m-%d"))


def _daily_amount(dose: pd.Series, unit_re: str) -> pd.Series:
    """The first amount in the given unit per day ('1000 mg + 800 IU daily'; weekly doses / 7).

    A cohort records few distinct doses: each is read once, then mapped to its rows."""
    codes, distinct = pd.factorize(dose.astype("str"), use_na_sentinel=False)
    distinct = pd.Series(distinct, dtype="str")
    # "1,000 mg" and "20,000 IU" group thousands (read as 1000 and 20000: read as decimals they
    # would count a supplement a thousand times too small and raise a false prevention gap);
    # a comma before one or two digits ("1,5 mg") is a decimal comma.
    number = distinct.str.extract(rf"(?i)(\d{{1,3}}(?:,\d{{3}})+(?![\d.,])|\d+(?:[.,]\d+)?)\s*(?:{unit_re})\b",
                                  expand=False)
    grouped = number.str.fullmatch(r"\d{1,3}(?:,\d{3})+", na=False)
    amount = pd.to_numeric(number.where(~grouped, number.str.replace(",", "", regex=False))
                           .str.replace(",", ".", regex=False), errors="coerce")
    per = np.where(distinct.str.contains(r"(?i)week", regex=True), 7.0,
                   np.where(distinct.str.contains(r"(?i)month", regex=True), 30.0, 1.0))
    per_day = (amount / per).to_numpy(dtype="float64")
    return pd.Series(per_day[codes], index=dose.index)


def supplement_intake(cohort: Cohort, *, as_of: date) -> pd.DataFrame:
    """Per patient, current supplements on `as_of`: calcium mg/day and vitamin D IU/day (summed),
    and the text naming them. A dose that cannot be read counts as 0 and says so."""
    tr = cohort.treatments
    cols = ["calcium_mg_day", "vitamin_d_iu_day", "text"]
    if not len(tr):
        return pd.DataFrame(columns=cols)
    cur = tr.loc[current_on(tr, as_of)]
    names = pd.Series(pd.unique(cur["drug"]))
    is_ca = cur["drug"].map(dict(zip(names, names.str.contains(CALCIUM_RE, regex=True)))).astype(bool)
    is_d = cur["drug"].map(dict(zip(names, names.str.contains(VITAMIN_D_RE, regex=True)))).astype(bool)
    cur = cur.loc[is_ca | is_d]
    if not len(cur):
        return pd.DataFrame(columns=cols)
    ca = _daily_amount(cur["dose"], "mg").where(is_ca.loc[cur.index], 0.0)
    iu = _daily_amount(cur["dose"], "iu|ui|units?")
    iu = iu.fillna(_daily_amount(cur["dose"], "µg|mcg|ug") * 40).where(is_d.loc[cur.index], 0.0)
    text = cur["drug"] + np.where(cur["dose"] != "", " " + cur["dose"], " (dose not recorded)")
    grouped = pd.DataFrame({"patient_id": cur["patient_id"], "calcium_mg_day": ca.fillna(0.0),
                            "vitamin_d_iu_day": iu.fillna(0.0)}).groupby("patient_id").sum()
    grouped["text"] = join_by(cur["patient_id"], text, " + ")
    return grouped[cols]


def on_treatment_flags(cohort: Cohort, *, as_of: date, config: Config, deferred: pd.Index) -> pd.DataFrame:
    """`on_bone_treatment` (info): every active patient on bone treatment on `as_of`, drug and start.

    While pregnant or breastfeeding the card asks for a review with the prescriber (drug
    labelling: these drugs are avoided in pregnancy and breastfeeding) and names no drug to start."""
    current = bone_treatments_on(cohort, as_of=as_of, settings=config.treatment)
    if not len(current):
        return pd.DataFrame(columns=FLAG_COLUMNS)
    text = bone_treatment_text(current)
    parts = []
    for is_deferred, action in (
            (False, "No second bone drug on top of this one; review the course and duration with the prescriber"),
            (True, "Recorded as current while pregnant or breastfeeding: review with the prescriber now; bone drugs "
                   "are avoided in pregnancy and breastfeeding (drug labelling)")):
        ev = text.loc[text.index.isin(deferred) == is_deferred]
        if len(ev):
            parts.append(per_patient_flags("on bone treatment: " + ev, code="on_bone_treatment", severity="info",
                                           title="On bone treatment", action=action, sources="drug labelling"))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=FLAG_COLUMNS)
