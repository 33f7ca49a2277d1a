"""Flag acknowledgement, pure part: a fingerprint of what the flag says, and where it is hidden."""

from datetime import date, datetime, timezone

import pandas as pd

from monitor.rules.acknowledgements import fingerprints, mark_acknowledged, unacknowledged
from monitor.config import Config
from monitor.jobs.delivery import WORKLIST_COLUMNS, digest_text
from monitor.rules.evaluation import evaluate
from tests.unit.cohorts import cohort, episode, patient

AS_OF = date(2026, 6, 1)
AT = datetime(2026, 6, 1, 9, 30, tzinfo=timezone.utc)


def pregnant_episode(onset="2026-03-01"):
    return cohort(patients=[patient(sex="F", birth="1992-01-01")], episodes=[episode(onset=onset, pregnancy=True)])


def ack_of(c, code, *, by="drlee", on_behalf_of=None):
    flags = evaluate(c, as_of=AS_OF, config=Config()).flags
    fp = fingerprints(flags.loc[flags["code"] == code])["fingerprint"].iloc[0]
    return pd.DataFrame([dict(patient_id=1, code=code, fingerprint=fp, acknowledged_at=AT, acknowledged_by=by,
                              on_behalf_of=on_behalf_of, note="seen")])


def test_acknowledged_flag_is_marked_and_leaves_the_worklist_and_digest():
    """An acknowledged urgent flag stays on the record but no longer shouts in the worklist or digest."""
    c = pregnant_episode()
    ev = evaluate(c, as_of=AS_OF, config=Config(), acknowledgements=ack_of(c, "pregnancy_toh_fracture_risk",
                                                                             on_behalf_of="Dr Lee"))
    row = ev.flags.loc[ev.flags["code"] == "pregnancy_toh_fracture_risk"].iloc[0]
    assert row["acknowledged_by"] == "drlee for Dr Lee" and row["acknowledged_at"] == pd.Timestamp(AT)
    assert "pregnancy_toh_fracture_risk" not in ev.schedule["flags"].iloc[0]
    assert "pregnancy_toh_fracture_risk" in set(ev.flags["code"])
    digest = digest_text(pd.DataFrame(columns=WORKLIST_COLUMNS), ev, counts={}, as_of=AS_OF)
    assert "pregnancy_toh_fracture_risk" not in digest


def test_flag_comes_back_when_what_it_says_changes():
    """New evidence (here, a second episode) changes the flag: the acknowledgement no longer holds."""
    acks = ack_of(pregnant_episode(), "pregnancy_toh_fracture_risk")
    changed = cohort(patients=[patient(sex="F", birth="1992-01-01")],
                     episodes=[episode(onset="2026-03-01", pregnancy=True),
                               episode(onset="2026-05-01", side="right", pregnancy=True)])
    ev = evaluate(changed, as_of=AS_OF, config=Config(), acknowledgements=acks)
    assert (unacknowledged(ev.flags)["code"] == "pregnancy_toh_fracture_risk").any()


def test_acknowledgement_holds_on_a_later_day_with_the_same_evidence():
    """Evidence never carries the evaluation date, so an acknowledgement survives the next night."""
    c = pregnant_episode()
    ev = evaluate(c, as_of=date(2026, 6, 15), config=Config(), acknowledgements=ack_of(c, "pregnancy_toh_fracture_risk"))
    assert not (unacknowledged(ev.flags)["code"] == "pregnancy_toh_fracture_risk").any()


def test_codes_only_evaluation_matches_acknowledgements_on_full_evidence():
    """The worklists skip evidence text for speed; acknowledged patients are re-evaluated with it."""
    c = cohort(episodes=[episode(onset="2026-01-01")],
               scans=[[dict(patient_id=1, scan_date="2026-02-01", scanner="hologic", site="total_hip", side="left",
                            bmd_g_cm2=0.8, t_score=-1, z_score=-1)]])
    acks = ack_of(c, "incomplete_bilateral_scan")
    ev = evaluate(c, as_of=AS_OF, config=Config(), evidence=False, acknowledgements=acks)
    assert "incomplete_bilateral_scan" not in ev.schedule["flags"].iloc[0]


def test_no_acknowledgements_marks_nothing():
    """Without acknowledgements every flag is unacknowledged."""
    flags = evaluate(pregnant_episode(), as_of=AS_OF, config=Config()).flags
    marked = mark_acknowledged(flags, pd.DataFrame())
    assert (marked["acknowledged_by"] == "").all() and len(unacknowledged(marked)) == len(flags)


def test_joining_texts_by_group_is_the_plain_groupby_join():
    """The fast join behind fingerprints must hash exactly what a plain groupby join would."""
    import numpy as np

    from monitor.rules.acknowledgements import joined_by_group

    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"patient_id": rng.integers(0, 40, 300), "code": rng.choice(["a", "b", "c"], 300),
                          "text": [f"t{i}" for i in range(300)]})
    expected = frame.groupby(["patient_id", "code"], sort=True)["text"].agg("\x1e".join)
    pd.testing.assert_series_equal(joined_by_group(frame, ["patient_id", "code"], "text", "\x1e"), expected)
