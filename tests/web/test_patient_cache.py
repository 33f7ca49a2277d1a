"""The patient page from the cohort evaluation in memory is the page evaluated for the patient alone."""

import pandas as pd

from monitor.config import Config
from monitor.services import web_cache, web_views
from tests.web.conftest import AS_OF


def _page(engine, mrn):
    page = web_views.patient_page(engine, mrn, as_of=AS_OF, config=CONFIG)
    r = page.report
    return r.patient, r.schedule, r.flags.reset_index(drop=True), r.trend.reset_index(drop=True), page.scan_rows


CONFIG = Config()


def test_a_warm_cache_gives_the_same_patient_page_as_a_cold_one(web_engine):
    """Speed must not change what a clinician reads: schedule, flags, trend and scan rows are equal."""
    web_views.CACHE.clear()
    patients = ["TOH-000072", "TOH-000230", "TOH-000256", "TOH-000067"]
    cold = {mrn: _page(web_engine, mrn) for mrn in patients}
    assert web_views.CACHE.peek("evaluation", web_views._evaluation_key(web_engine, AS_OF, CONFIG)) is None
    web_views.cohort_evaluation(web_engine, as_of=AS_OF, config=CONFIG)  # what the worklist warms
    for mrn in patients:
        warm = _page(web_engine, mrn)
        pd.testing.assert_series_equal(warm[0], cold[mrn][0], check_names=False)
        if cold[mrn][1] is None:
            assert warm[1] is None
        else:
            pd.testing.assert_series_equal(warm[1], cold[mrn][1], check_names=False)
        # Flag codes are categorical: the cohort knows more categories than one patient; the values match.
        pd.testing.assert_frame_equal(warm[2], cold[mrn][2], check_categorical=False, check_dtype=False)
        assert list(warm[2]["code"].astype(str)) == list(cold[mrn][2]["code"].astype(str))
        pd.testing.assert_frame_equal(warm[3], cold[mrn][3], check_dtype=False)  # an empty trend has object ids
        assert warm[4] == cold[mrn][4]
    web_views.CACHE.clear()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(str)
    keys = [c for c in frame.columns if frame[c].map(lambda v: isinstance(v, (list, dict))).sum() == 0]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def test_an_acknowledgement_or_status_change_patches_the_cohort_evaluation_exactly(web_engine, monkeypatch):
    """A clinician's acknowledgement must not cost every user a whole-cohort evaluation, nor show
    anything different from one: the patched evaluation equals a fresh one, frame by frame."""
    from datetime import datetime, timezone

    from monitor.services import evaluation as evaluation_service
    from monitor.services.acknowledgements import acknowledge
    from monitor.services.patient_status import change_status

    web_views.CACHE.clear()
    web_views.cohort_evaluation(web_engine, as_of=AS_OF, config=CONFIG)
    now = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    urgent = web_views.review_list(web_engine, as_of=AS_OF, config=CONFIG)
    first = urgent.iloc[0]
    acknowledge(web_engine, first["mrn"], first["code"], note="seen", actor="dr", on_behalf_of=None, as_of=AS_OF,
                config=CONFIG, now=now)
    change_status(web_engine, "TOH-000072", "discharge", reason="moved away", actor="clerk", now=now)

    fresh = evaluation_service.evaluate_db(web_engine, as_of=AS_OF, config=CONFIG, evidence=True)

    def no_cohort_evaluation(*args, **kwargs):
        raise AssertionError("the whole cohort was evaluated again")

    monkeypatch.setattr(evaluation_service, "evaluate_db", no_cohort_evaluation)
    patched = web_views.cohort_evaluation(web_engine, as_of=AS_OF, config=CONFIG)
    for name in ("patients", "episodes", "scans", "pregnancies", "treatments"):
        pd.testing.assert_frame_equal(_sorted(getattr(patched.cohort, name)), _sorted(getattr(fresh.cohort, name)),
                                      check_dtype=False)
    pd.testing.assert_frame_equal(_sorted(patched.schedule), _sorted(fresh.schedule), check_dtype=False)
    pd.testing.assert_frame_equal(_sorted(patched.flags), _sorted(fresh.flags), check_dtype=False)
    assert "TOH-000072" not in set(patched.schedule["mrn"])
    after = web_views.review_list(web_engine, as_of=AS_OF, config=CONFIG)
    assert (first["mrn"], first["code"]) not in set(zip(after["mrn"], after["code"]))
    web_views.CACHE.clear()


def test_an_import_still_evaluates_the_whole_cohort(web_engine, tmp_path):
    """A change the cache cannot place patient by patient is never patched: the cohort is evaluated."""
    from monitor.services.importing import import_files

    web_views.CACHE.clear()
    before = web_views.cohort_evaluation(web_engine, as_of=AS_OF, config=CONFIG)
    (tmp_path / "symptoms.csv").write_text("mrn,reported_on,complaint,side\nTOH-000072,2026-11-01,knee_pain,left\n")
    import_files(web_engine, [tmp_path / "symptoms.csv"], today=AS_OF, actor="t",
                 risk_codes=CONFIG.schedule.risk_factor_codes)
    key = web_views._evaluation_key(web_engine, AS_OF, CONFIG)
    assert web_cache._patched(web_engine, *web_views.CACHE.held("evaluation"), key=key, config=CONFIG) is None
    after = web_views.cohort_evaluation(web_engine, as_of=AS_OF, config=CONFIG)
    assert after is not before and len(after.cohort.symptoms) == len(before.cohort.symptoms) + 1
    web_views.CACHE.clear()


def test_the_review_list_is_kept_then_patched_into_the_list_made_from_scratch(web_engine, monkeypatch):
    """A page turn on the review list must not fingerprint every flag again (seconds at 100k
    patients), and after acknowledgements and a status change, in any order with other pages read
    between them, the list made from the kept one equals the list made from scratch, row by row."""
    from datetime import datetime, timezone

    from monitor.services.acknowledgements import acknowledge
    from monitor.services.patient_status import change_status

    web_views.CACHE.clear()
    first = web_views.review_list(web_engine, as_of=AS_OF, config=CONFIG)
    assert web_views.review_list(web_engine, as_of=AS_OF, config=CONFIG) is first  # kept
    assert first["seen_by_run"].all() and len(first) > 20
    now = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    a, b = first.iloc[0], first.loc[first["mrn"] != first.iloc[0]["mrn"]].iloc[-1]
    start = web_views.cohort_evaluation(web_engine, as_of=AS_OF, config=CONFIG)
    acknowledge(web_engine, a["mrn"], a["code"], note="seen", actor="dr", on_behalf_of=None, as_of=AS_OF,
                config=CONFIG, now=now)
    held = web_views.cohort_evaluation(web_engine, as_of=AS_OF, config=CONFIG)  # the worklist, read between
    # An acknowledgement changes no record: the patched evaluation keeps the cohort's frames, uncopied.
    assert held is not start and held.cohort.scans is start.cohort.scans and held.cohort.patients is start.cohort.patients
    acknowledge(web_engine, b["mrn"], b["code"], note="seen", actor="dr", on_behalf_of=None, as_of=AS_OF,
                config=CONFIG, now=now)
    c = first.loc[~first["mrn"].isin([a["mrn"], b["mrn"]])].iloc[len(first) // 2]
    change_status(web_engine, c["mrn"], "discharge", reason="moved away", actor="clerk", now=now)

    made, real = [], web_views._review_rows

    def spy(engine, evaluation, *, as_of, patient_ids=None):
        made.append(patient_ids)
        return real(engine, evaluation, as_of=as_of, patient_ids=patient_ids)

    monkeypatch.setattr(web_views, "_review_rows", spy)
    patched = web_views.review_list(web_engine, as_of=AS_OF, config=CONFIG)
    ids = dict(zip(first["mrn"], first["patient_id"]))
    assert made == [frozenset({ids[a["mrn"]], ids[b["mrn"]], ids[c["mrn"]]})]  # those patients only
    scratch = real(web_engine, web_views.cohort_evaluation(web_engine, as_of=AS_OF, config=CONFIG), as_of=AS_OF)
    pd.testing.assert_frame_equal(patched, scratch)
    assert (a["mrn"], a["code"]) not in set(zip(patched["mrn"], patched["code"]))
    assert c["mrn"] not in set(patched["mrn"]) and len(patched) < len(first) - 2
    web_views.CACHE.clear()


def test_a_nightly_run_makes_the_review_list_again(web_engine, tmp_path):
    """`flag_seen` rows written by a night change the list's ages: the kept list is not used."""
    from dataclasses import replace
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import text

    from monitor.jobs.nightly import NIGHTLY, run_job

    config = replace(CONFIG, jobs=replace(CONFIG.jobs, outbox=str(tmp_path / "outbox"), smtp_host=None))
    with web_engine.begin() as conn:  # a flag the first night did not see: the next night records it
        conn.execute(text("DELETE FROM flag_seen WHERE id = (SELECT max(id) FROM flag_seen)"))
    web_views.CACHE.clear()
    before = web_views.review_list(web_engine, as_of=AS_OF, config=CONFIG)
    assert not before["seen_by_run"].all()
    run_job(web_engine, NIGHTLY, slot_on=AS_OF + timedelta(days=1), as_of=AS_OF, config=config,
            now_utc=datetime.now(timezone.utc), trigger="manual", actor="t")
    after = web_views.review_list(web_engine, as_of=AS_OF, config=CONFIG)
    assert after is not before and after["seen_by_run"].all()
    web_views.CACHE.clear()
