"""The clinician's review list, pure part: which flags wait for review, and in which order."""

from datetime import date, datetime, timezone

import pandas as pd

from monitor.rules.acknowledgements import mark_acknowledged, review_list, seen_keys

AS_OF = date(2026, 6, 10)


def flag(pid, code, severity, evidence="e"):
    return dict(patient_id=pid, code=code, severity=severity, title=f"{code} title", evidence=evidence,
                action="act", sources="1")


FLAGS = pd.DataFrame([flag(1, "therapy_indicated", "urgent"), flag(2, "low_for_age", "warn"),
                      flag(3, "prevention_gap", "info"), flag(4, "fracture_surgical_referral", "urgent")])


def seen_rows(flags, on):
    keys = seen_keys(flags)
    return keys.assign(first_seen_on=[on[p] for p in keys["patient_id"]])[["patient_id", "code", "fingerprint",
                                                                             "first_seen_on"]]


def test_seen_keys_records_warn_and_urgent_only():
    """Info flags never wait for a clinician; warn and urgent ones are recorded with their fingerprint."""
    keys = seen_keys(FLAGS)
    assert sorted(keys["patient_id"]) == [1, 2, 4]
    assert keys["fingerprint"].str.len().eq(64).all()


def test_oldest_first_and_unseen_flags_last_counted_from_as_of():
    """The flag waiting longest is read first; one no run has seen yet is counted from today, after them."""
    seen = seen_rows(FLAGS.loc[FLAGS["patient_id"] != 4], {1: date(2026, 6, 5), 2: date(2026, 6, 1)})
    rows = review_list(mark_acknowledged(FLAGS, pd.DataFrame()), seen, as_of=AS_OF)
    assert list(rows["patient_id"]) == [2, 1, 4]
    assert list(rows["days_open"]) == [9, 5, 0]
    assert list(rows["seen_by_run"]) == [True, True, False]
    assert rows["first_seen_on"].iloc[2] == AS_OF


def test_urgent_only_and_a_seen_date_after_as_of_does_not_count():
    """--severity urgent leaves the warnings out; a review of a past day ignores later nights."""
    seen = seen_rows(FLAGS, {1: date(2026, 6, 20), 2: date(2026, 6, 1), 4: date(2026, 6, 2)})
    rows = review_list(mark_acknowledged(FLAGS, pd.DataFrame()), seen, as_of=AS_OF, min_severity="urgent")
    assert list(rows["patient_id"]) == [4, 1]
    assert list(rows["seen_by_run"]) == [True, False]


def test_acknowledged_flag_leaves_the_list_until_new_evidence():
    """An acknowledgement removes the flag; new evidence (a new fingerprint) brings it back as new."""
    keys = seen_keys(FLAGS)
    ack = keys.loc[keys["patient_id"] == 1].assign(
        acknowledged_at=datetime(2026, 6, 6, tzinfo=timezone.utc), acknowledged_by="drlee", on_behalf_of=None,
        note="treating")[["patient_id", "code", "fingerprint", "acknowledged_at", "acknowledged_by",
                          "on_behalf_of", "note"]]
    seen = seen_rows(FLAGS, {1: date(2026, 6, 1), 2: date(2026, 6, 1), 4: date(2026, 6, 1)})
    rows = review_list(mark_acknowledged(FLAGS, ack), seen, as_of=AS_OF)
    assert 1 not in set(rows["patient_id"])
    changed = FLAGS.copy()
    changed.loc[changed["patient_id"] == 1, "evidence"] = "a new scan"
    rows = review_list(mark_acknowledged(changed, ack), seen, as_of=AS_OF)
    back = rows.loc[rows["patient_id"] == 1].iloc[0]
    assert not back["seen_by_run"] and back["days_open"] == 0


def test_grouping_worked_out_once_gives_what_each_works_out_alone():
    """The nightly run groups a chunk's flags by patient and code once, for both the `flag_seen`
    keys and the digest's waiting flags: with or without an acknowledgement, the same rows."""
    from monitor.rules.acknowledgements import by_code, review_waiting

    keys = seen_keys(FLAGS)
    ack = keys.loc[keys["patient_id"] == 1].assign(
        acknowledged_at=datetime(2026, 6, 6, tzinfo=timezone.utc), acknowledged_by="drlee", on_behalf_of=None,
        note="")[["patient_id", "code", "fingerprint", "acknowledged_at", "acknowledged_by", "on_behalf_of", "note"]]
    for acks, waiting_ids in ((pd.DataFrame(), [1, 2, 4]), (ack, [2, 4])):
        flags = mark_acknowledged(FLAGS, acks)
        codes = by_code(flags)
        pd.testing.assert_frame_equal(seen_keys(flags, codes=codes), seen_keys(flags))
        pd.testing.assert_frame_equal(review_waiting(flags, codes=codes), review_waiting(flags))
        assert list(review_waiting(flags, codes=codes)["patient_id"]) == waiting_ids
