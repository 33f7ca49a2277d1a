"""PROTOCOL.md "Safety first", as properties over generated patients who are pregnant or
breastfeeding on `as_of`: no flag prompts a drug, and no DXA is due on a pregnant day."""

import re
from datetime import date, timedelta

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import Config
from monitor.rules.flags import evaluate_flags
from monitor.rules.pregnancy import pregnancy_spans, pregnant_on
from monitor.rules.schedule import risk_factor_table, schedule
from tests.unit.cohorts import cohort, episode, patient, scan

CFG = Config()
AS_OF = date(2026, 6, 1)
# Any bone drug, generic or brand, and calcitonin: none may appear in the action of a flag
# shown for a pregnant or breastfeeding patient (drug labelling).
DRUG_PROMPT = re.compile(
    r"(?i)bisphosphonate|alendron|risedron|ibandron|zoledron|denosumab|teriparatide|abaloparatide|romosozumab|"
    r"calcitonin|fosamax|binosto|actonel|atelvia|boniva|reclast|aclasta|prolia|forteo|tymlos|evenity")

days = st.integers(min_value=0, max_value=6 * 365)


def _day(offset: int) -> str:
    return (AS_OF - timedelta(days=offset)).isoformat()


@st.composite
def pregnant_or_breastfeeding(draw):
    """One woman with a pregnancy that makes her pregnant or breastfeeding on AS_OF, and any history."""
    if draw(st.booleans()):
        k = draw(st.integers(min_value=-14, max_value=280))  # expected delivery AS_OF + k days, none yet
        pregnancy = dict(patient_id=1, expected_delivery=(AS_OF + timedelta(days=k)).isoformat())
    else:
        k = draw(st.integers(min_value=0, max_value=364))  # delivered k days ago, breastfeeding
        until = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=400)))
        pregnancy = dict(patient_id=1, expected_delivery=_day(k - draw(st.integers(-20, 120))), delivered_on=_day(k),
                         breastfeeding_until=None if until is None else (AS_OF + timedelta(days=until)).isoformat(),
                         breastfeeding_ongoing=until is None)
    birth = draw(st.integers(min_value=1956, max_value=2006))
    p = patient(sex="F", birth=f"{birth}-03-01", risks=draw(st.sampled_from(["", "smoking", "glucocorticoids"])))
    p["postmenopausal"] = draw(st.sampled_from([None, True, False]))
    episodes = [episode(onset=_day(draw(days)), joint=draw(st.sampled_from(["hip", "knee", "ankle"])),
                        side=draw(st.sampled_from(["left", "right"])),
                        resolved=draw(st.one_of(st.none(), st.just(_day(0)))),
                        pregnancy=draw(st.booleans()), fracture=draw(st.booleans()))
                for _ in range(draw(st.integers(0, 3)))]
    scans = [scan(day=_day(draw(days)), bmd=draw(st.floats(0.5, 1.2)), t=draw(st.floats(-4.5, 1.0)),
                  z=draw(st.floats(-4.5, 1.0))) for _ in range(draw(st.integers(0, 3)))]
    treatments = [dict(patient_id=1, drug=draw(st.sampled_from(["alendronate", "Prolia", "calcium + vitamin D",
                                                                 "teriparatide"])),
                       dose="", started_on=_day(draw(days)), stopped_on=None)
                  for _ in range(draw(st.integers(0, 1)))]
    symptoms = [dict(patient_id=1, reported_on=_day(draw(st.integers(0, 400))),
                     complaint=draw(st.sampled_from(["hip_pain", "groin_pain", "knee_pain", "low_back_pain_to_groin"])),
                     side="left", progressive=draw(st.booleans()), weight_bearing=draw(st.booleans()))
                for _ in range(draw(st.integers(0, 2)))]
    assessments = [dict(patient_id=1, assessed_on=_day(draw(st.integers(0, 400))),
                        calcium_mg_day=draw(st.floats(0, 2000)), alcohol_drinks_day=draw(st.floats(0, 5)),
                        smoker=draw(st.booleans()))] if draw(st.booleans()) else []
    return cohort(patients=[p], episodes=episodes, scans=scans, pregnancies=[pregnancy], treatments=treatments,
                  symptoms=symptoms, assessments=assessments)


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pregnant_or_breastfeeding())
def test_no_drug_prompt_while_pregnant_or_breastfeeding(c):
    """Bone drugs are avoided in pregnancy and lactation (labelling): no action text names one."""
    flags = evaluate_flags(c, as_of=AS_OF, config=CFG)
    prompts = [(code, action) for code, action in zip(flags["code"], flags["action"]) if DRUG_PROMPT.search(action)]
    assert prompts == []


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pregnant_or_breastfeeding())
def test_no_dxa_due_on_a_pregnant_day(c):
    """No X-rays in pregnancy: the due date is never a pregnant day, and nothing is due while pregnant."""
    known = c.known_on(AS_OF)
    row = schedule(known, as_of=AS_OF, settings=CFG.schedule, risks=risk_factor_table(known)).iloc[0]
    spans = pregnancy_spans(known.pregnancies, settings=CFG.thresholds)
    ids = pd.Series([1])
    assert not pregnant_on(spans, ids, row["due_date"]).iloc[0]
    if pregnant_on(spans, ids, AS_OF).iloc[0]:
        assert row["status"] not in ("due", "overdue")
