"""The patient page from the cohort evaluation in memory is the page evaluated for the patient alone."""

import pandas as pd

from monitor.config import Config
from monitor.services import web_views
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
