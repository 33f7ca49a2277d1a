"""The clinic report's summary added up over chunks of patients is the summary of the whole cohort:
counts, the medians' value counts, and the first rows of the lists, cut short or not."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import date

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config import Config, ScaleSettings
from monitor.reports.clinic import write_clinic_report
from monitor.reports.clinic_summary import median_of_counts, summarise, value_counts
from monitor.services.chunks import clinic_summary
from monitor.services.evaluation import evaluate_db
from monitor.services.reminders import reminder_summary
from tests.integration import test_reports

demo_engine = test_reports.demo_engine  # the demo database fixture, shared with the report tests
AS_OF = date(2026, 11, 20)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-3, max_value=4000), max_size=40), st.integers(min_value=0, max_value=40))
def test_the_median_of_counted_values_is_the_median_of_the_values(values, cut):
    """Split anywhere, counted and added up: pandas' median of the values themselves, NaN for none."""
    whole = pd.Series(values, dtype=float)
    counts = value_counts(whole[:cut]).add(value_counts(whole[cut:]), fill_value=0)
    got, want = median_of_counts(counts), whole.median()
    assert (pd.isna(got) and pd.isna(want)) or got == want


def assert_same(a, b):
    for field in fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, pd.DataFrame):
            pd.testing.assert_frame_equal(x.reset_index(drop=True), y.reset_index(drop=True), check_dtype=False,
                                          check_categorical=False, obj=field.name)
        elif isinstance(x, pd.Series):
            pd.testing.assert_series_equal(x, y, check_dtype=False, check_names=False, obj=field.name)
        else:
            assert x == y, field.name


def test_chunks_add_up_to_the_whole_cohort_s_summary_and_report(demo_engine, tmp_path):
    """Chunks of 40 patients with the lists cut at 5 (the first five come from several chunks):
    field for field the whole cohort's summary, and the same PDF. (Chunks of one and seven: the
    process tests, on a small cohort.)"""
    evaluation = evaluate_db(demo_engine, as_of=AS_OF, config=Config())
    whole = summarise(evaluation, Config(), reminder_summary(demo_engine, evaluation, config=Config()), limit=5)
    config = replace(Config(), scale=ScaleSettings(chunk_patients=40, evaluation_workers=0))
    chunked = clinic_summary(demo_engine, as_of=AS_OF, config=config, limit=5)
    assert_same(chunked, whole)
    assert len(whole.due) == 5 and whole.due_total > 50 and whole.due["mrn"].is_unique
    assert whole.annex["mrn"].nunique() == 5 < whole.annex_counts["patients"]
    assert whole.overdue_days.sum() == whole.status["overdue"] and whole.trends["median_days"].notna().any()
    a = write_clinic_report(whole, tmp_path / "whole.pdf", config=Config()).read_bytes()
    assert write_clinic_report(chunked, tmp_path / "chunked.pdf", config=Config()).read_bytes() == a
