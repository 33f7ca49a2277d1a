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
