"""PROTOCOL.md §7 (version 2): prevention gaps from the latest assessment [2, 3].

A current calcium or vitamin D treatment counts toward the intake; while pregnant or
breastfeeding any alcohol is a gap (drug labelling / obstetric advice); values are shown as
recorded, never rounded across a threshold. Pure: the cohort (cut to `as_of`) and `as_of`.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from monitor.rules.cohort import Cohort
from monitor.config import Config
from monitor.rules.dates import fmt_dates
from monitor.rules.flag_frames import FLAG_COLUMNS, as_recorded, make_flags
from monitor.rules.pregnancy import deferred_ids, pregnancy_state
from monitor.rules.treatment import supplement_intake


def prevention_flags(cohort: Cohort, *, as_of: date, config: Config, state: pd.DataFrame | None = None) -> pd.DataFrame:
    """prevention_gap (info), one per item, from each patient's latest assessment [2, 3].
    `state`: the cohort's `pregnancy_state` if already known."""
    a = cohort.assessments
    if not len(a):
        return pd.DataFrame(columns=FLAG_COLUMNS)
    latest = a.loc[a["assessed_on"] == a.groupby("patient_id")["assessed_on"].transform("max")]
    latest = latest.drop_duplicates("patient_id", keep="last").reset_index(drop=True)
    pv = config.prevention
    restricted = cohort.episodes.loc[cohort.episodes["resolved_on"].isna(), "patient_id"]
    supp = supplement_intake(cohort, as_of=as_of).reindex(latest["patient_id"])
    supp.index = latest.index
    ca_extra = supp["calcium_mg_day"].fillna(0.0).astype(float)
    d_extra = supp["vitamin_d_iu_day"].fillna(0.0).astype(float)
    supp_text = supp["text"].fillna("").astype(str)
    calcium = latest["calcium_mg_day"] + ca_extra.where(latest["calcium_mg_day"].notna())
    vitamin_d = latest["vitamin_d_iu_day"] + d_extra.where(latest["vitamin_d_iu_day"].notna())
    state = pregnancy_state(cohort, as_of=as_of, settings=config.thresholds) if state is None else state
    no_alcohol = latest["patient_id"].isin(deferred_ids(state))

    def recorded(column: str):
        return lambda r: r[column].map(as_recorded).astype("str")

    def with_supplement(column: str, extra: pd.Series, unit: str):
        def text(r):
            more = extra.loc[r.index]
            own = r[column].map(as_recorded).astype("str") + f" {unit}"
            total = (r[column] + more).map(as_recorded).astype("str")
            return own.where(more <= 0, own + " in the diet + current " + supp_text.loc[r.index] + " = " + total + f" {unit}")
        return text

    alcohol_limit = np.where(no_alcohol, 0.0, pv.alcohol_drinks_day)
    # (mask, text of the rows it selects, action): texts are built for the selected rows only.
    checks = [
        (calcium < pv.calcium_mg_day,
         lambda r: "calcium " + with_supplement("calcium_mg_day", ca_extra, "mg/day")(r) + " (target 1,000-1,200)",
         "Calcium 1,000-1,200 mg daily through diet or supplements"),
        (vitamin_d < pv.vitamin_d_iu_day,
         lambda r: "vitamin D intake " + with_supplement("vitamin_d_iu_day", d_extra, "IU/day")(r) + " (target 600-800)",
         "Vitamin D 600-800 IU daily"),
        (latest["serum_25ohd_ng_ml"] < pv.serum_25ohd_ng_ml,
         lambda r: "serum 25(OH)D " + recorded("serum_25ohd_ng_ml")(r) + f" ng/mL (target >= {pv.serum_25ohd_ng_ml:g})",
         f"Vitamin D to reach serum 25(OH)D >= {pv.serum_25ohd_ng_ml:g} ng/mL"),
        ((latest["exercise_min_day"] < pv.exercise_min_day) & ~latest["patient_id"].isin(restricted),
         lambda r: "weight-bearing exercise " + recorded("exercise_min_day")(r)
         + " min/day (target >= 30 once weight-bearing is permitted)",
         "Weight-bearing and resistance exercise at least 30 minutes daily"),
        (latest["smoker"].fillna(False).astype(bool), lambda r: pd.Series("tobacco use", index=r.index), "Stop tobacco use"),
        ((latest["alcohol_drinks_day"] > alcohol_limit) & ~no_alcohol,
         lambda r: "alcohol " + recorded("alcohol_drinks_day")(r) + " drinks/day (limit 1-2)",
         "Limit alcohol to 1-2 drinks per day"),
        ((latest["alcohol_drinks_day"] > 0) & no_alcohol,
         lambda r: "alcohol " + recorded("alcohol_drinks_day")(r) + " drinks/day; pregnant or breastfeeding now (no alcohol)",
         "No alcohol while pregnant or breastfeeding"),
    ]
    parts = []
    for mask, texts, action in checks:
        rows = latest.loc[mask.fillna(False).astype(bool)]
        if not len(rows):
            continue
        ev = "assessment " + fmt_dates(rows["assessed_on"]) + ": " + texts(rows)
        parts.append(make_flags(rows["patient_id"], code="prevention_gap", severity="info",
                                title="Bone health measure below target", evidence=ev.to_numpy(),
                                action=action, sources="2, 3"))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=FLAG_COLUMNS)
