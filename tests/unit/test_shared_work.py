"""Work the rules share or skip for speed (issue 16) gives the same answers as doing it each time."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from monitor.config import Config
from monitor.rules.bmd_flags import trend_flags
from monitor.rules.evaluation import evaluate, evaluation_risks
from monitor.rules.flag_frames import make_flags
from monitor.rules.pitfalls import pitfall_flags
from monitor.rules.pregnancy import pregnancy_spans, pregnancy_state
from monitor.rules.pregnancy_flags import pregnancy_flags
from monitor.rules.prevention import prevention_flags
from monitor.rules.thresholds import threshold_flags
from monitor.rules.treatment import _daily_amount
from monitor.rules.trends import trend_table
from tests.unit.test_flags import _to_cohort

CFG = Config()
AS_OF = date(2026, 6, 1)


@pytest.fixture(scope="module")
def synthetic():
    from monitor.demo.synth import generate

    return _to_cohort(generate(400, seed=17, end_on=AS_OF)).known_on(AS_OF)


def test_rules_given_the_pregnancy_state_flag_what_they_flag_alone(synthetic):
    """Who is pregnant or breastfeeding is computed once per evaluation: the rules that used to
    compute it each must raise exactly the same flags with the shared one."""
    spans = pregnancy_spans(synthetic.pregnancies, settings=CFG.thresholds)
    state = pregnancy_state(synthetic, as_of=AS_OF, settings=CFG.thresholds, spans=spans)
    assert state["is_pregnant"].any() or state["is_breastfeeding"].any(), "the cohort exercises no pregnancy"
    pd.testing.assert_frame_equal(state, pregnancy_state(synthetic, as_of=AS_OF, settings=CFG.thresholds))
    for rule in (threshold_flags, prevention_flags, pregnancy_flags, pitfall_flags):
        alone = rule(synthetic, as_of=AS_OF, config=CFG)
        shared = rule(synthetic, as_of=AS_OF, config=CFG, state=state)
        assert len(alone), rule.__name__
        pd.testing.assert_frame_equal(alone, shared, obj=rule.__name__)
    trend = trend_table(synthetic.scans, settings=CFG.trend)
    pd.testing.assert_frame_equal(trend_flags(synthetic, trend, settings=CFG.thresholds),
                                  trend_flags(synthetic, trend, settings=CFG.thresholds, spans=spans))


def test_evaluation_with_the_callers_risk_table_is_the_same(synthetic):
    """`show` passes the risk table it prints; the schedule and flags must not change by it."""
    alone = evaluate(synthetic, as_of=AS_OF, config=CFG)
    given = evaluate(synthetic, as_of=AS_OF, config=CFG, risks=evaluation_risks(synthetic, config=CFG))
    pd.testing.assert_frame_equal(alone.schedule, given.schedule)
    pd.testing.assert_frame_equal(alone.flags, given.flags)


@pytest.mark.parametrize("dose, unit_re, per_day", [
    ("1000 mg daily", "mg", 1000.0),
    ("500 mg + 400 IU daily", "mg", 500.0),
    ("500 mg + 400 IU daily", "iu|ui|units?", 400.0),
    ("20000 IU weekly", "iu|ui|units?", 20000.0 / 7),
    ("50000 IU monthly", "iu|ui|units?", 50000.0 / 30),
    ("25 µg daily", "µg|mcg|ug", 25.0),
    ("1,5 mg daily", "mg", 1.5),
    ("1,000 mg daily", "mg", 1000.0),  # thousands grouped: never 1 mg (a false prevention gap)
    ("calcium 1,200mg daily", "mg", 1200.0),
    ("20,000 IU weekly", "iu|ui|units?", 20000.0 / 7),
    ("1,000,000 IU monthly", "iu|ui|units?", 1000000.0 / 30),
    ("12,5 µg daily", "µg|mcg|ug", 12.5),
    ("1,0000 mg daily", "mg", 1.0),  # not thousands groups: the decimal reading, as before
    ("", "mg", np.nan),
    ("as needed", "mg", np.nan),
])
def test_daily_amount_reads_each_dose(dose, unit_re, per_day):
    """A supplement's daily amount counts toward the prevention targets: weekly / 7, monthly / 30."""
    got = _daily_amount(pd.Series([dose], dtype="str"), unit_re).iloc[0]
    assert (np.isnan(got) and np.isnan(per_day)) or got == pytest.approx(per_day)


def test_daily_amount_maps_repeated_doses_to_their_rows():
    """Doses are read once per distinct text: every row still gets its own dose, in its place."""
    doses = pd.Series(["1000 mg daily", "", "500 mg daily", "1000 mg daily", "70 mg weekly"], dtype="str",
                      index=[7, 3, 9, 1, 4])
    got = _daily_amount(doses, "mg")
    assert list(got.index) == [7, 3, 9, 1, 4]
    np.testing.assert_allclose(got.to_numpy(), [1000.0, np.nan, 500.0, 1000.0, 10.0])


def test_make_flags_keeps_the_flag_shape():
    """Each per-code text is one category; ids keep their order whatever the input's index."""
    flags = make_flags(pd.Series([5, 3], index=[10, 20]), code="c", severity="warn", title="T",
                       evidence=["e1", "e2"], action="A", sources="1, 2")
    assert list(flags["patient_id"]) == [5, 3] and list(flags.index) == [0, 1]
    for column, value in (("code", "c"), ("severity", "warn"), ("title", "T"), ("action", "A"), ("sources", "1, 2")):
        assert list(flags[column].cat.categories) == [value] and list(flags[column]) == [value, value]
    assert list(flags["evidence"]) == ["e1", "e2"]


def test_only_keeps_a_frame_of_the_chosen_patients_and_cuts_the_others(synthetic):
    """Restricting to the active patients skips the copy when everyone is chosen, and still drops
    every row of a patient left out (their records must never reach another patient's flags)."""
    every = synthetic.patients["patient_id"]
    same = synthetic.only(every)
    assert all(getattr(same, k) is getattr(synthetic, k) for k in synthetic.counts())
    dropped = int(every.iloc[0])
    cut = synthetic.only(every.iloc[1:])
    for kind in synthetic.counts():
        frame = getattr(cut, kind)
        assert dropped not in set(frame["patient_id"]), kind
        assert frame.index.equals(pd.RangeIndex(len(frame))), kind
        expected = getattr(synthetic, kind).loc[lambda d: d["patient_id"] != dropped].reset_index(drop=True)
        pd.testing.assert_frame_equal(frame, expected, obj=kind)
