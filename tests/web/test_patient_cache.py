"""The web workspace's cohort in memory (services.web_cache): made a chunk of patients at a time,
patched patient by patient after an acknowledgement or a status change, and always what the
cohort evaluated at once gives."""

from dataclasses import fields, replace

import pandas as pd
import pytest

from monitor.config import Config, ScaleSettings
from monitor.services import web_cache, web_views
from tests.web.conftest import AS_OF

CONFIG = Config()


def _whole(engine, config=CONFIG) -> web_cache.WebCohort:
    """The pages' part of the cohort evaluated at once (one evaluation, no chunks)."""
    from monitor.services.evaluation import evaluate_db

    return web_cache.web_facts(evaluate_db(engine, as_of=AS_OF, config=config, evidence=True))


def _assert_same(a: web_cache.WebCohort, b: web_cache.WebCohort) -> None:
    assert a.as_of == b.as_of
    for f in fields(web_cache.WebCohort):
        if f.name != "as_of":
            pd.testing.assert_frame_equal(getattr(a, f.name), getattr(b, f.name), obj=f.name)


@pytest.mark.parametrize("chunk", [7, 45, 10_000])
def test_the_cohort_made_in_chunks_is_the_cohort_evaluated_at_once(web_engine, chunk):
    """The pages read the same rows whatever the chunk size: the worklist (in its order), the
    waiting flags and their fingerprints, the open flags' severities, the patients."""
    config = replace(CONFIG, scale=ScaleSettings(chunk_patients=chunk, evaluation_workers=0))
    made = web_cache.evaluate_for_web(web_engine, as_of=AS_OF, config=config)
    whole = _whole(web_engine)
    _assert_same(made, whole)
    assert len(made.rows) > 200 and made.rows["is_urgent"].any() and len(made.waiting) > 20
    assert set(made.rows["status"]) >= {"overdue", "due", "not_due"}


def test_the_worklist_row_and_the_patient_page_agree(web_engine):
    """A patient page is evaluated for that patient alone: its schedule is the worklist's row."""
    web_views.CACHE.clear()
    rows = web_views.cohort_facts(web_engine, as_of=AS_OF, config=CONFIG).rows
    found = 0
    for mrn in ["TOH-000072", "TOH-000230", "TOH-000256", "TOH-000067"]:
        row = rows.loc[rows["mrn"] == mrn]
        schedule = web_views.patient_page(web_engine, mrn, as_of=AS_OF, config=CONFIG).report.schedule
        if schedule is None:
            assert not len(row)
            continue
        assert row["status"].iloc[0] == schedule["status"]
        assert row["due_date"].iloc[0] == pd.Timestamp(schedule["due_date"]).strftime("%Y-%m-%d")
        assert int(row["days_overdue"].iloc[0]) == int(schedule["days_overdue"])
        found += 1
    assert found >= 3
    web_views.CACHE.clear()


def test_an_acknowledgement_or_status_change_patches_the_cohort_exactly(web_engine, monkeypatch):
    """A clinician's acknowledgement must not cost every user a whole-cohort evaluation, nor show
    anything different from one: the patched cohort equals a fresh one, frame by frame."""
    from datetime import datetime, timezone

    from monitor.services.acknowledgements import acknowledge
    from monitor.services.patient_status import change_status

    web_views.CACHE.clear()
    web_views.cohort_facts(web_engine, as_of=AS_OF, config=CONFIG)
    now = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    urgent = web_views.review_list(web_engine, as_of=AS_OF, config=CONFIG)
    first = urgent.iloc[0]
    acknowledge(web_engine, first["mrn"], first["code"], note="seen", actor="dr", on_behalf_of=None, as_of=AS_OF,
                config=CONFIG, now=now)
    change_status(web_engine, "TOH-000072", "discharge", reason="moved away", actor="clerk", now=now)

    fresh = _whole(web_engine)

    def no_cohort_evaluation(*args, **kwargs):
        raise AssertionError("the whole cohort was evaluated again")

    monkeypatch.setattr(web_cache, "evaluate_for_web", no_cohort_evaluation)
    patched = web_views.cohort_facts(web_engine, as_of=AS_OF, config=CONFIG)
    _assert_same(patched, fresh)
    assert "TOH-000072" not in set(patched.rows["mrn"])
    after = web_views.review_list(web_engine, as_of=AS_OF, config=CONFIG)
    assert (first["mrn"], first["code"]) not in set(zip(after["mrn"], after["code"]))
    web_views.CACHE.clear()


def test_an_import_still_evaluates_the_whole_cohort(web_engine, tmp_path):
    """A change the cache cannot place patient by patient is never patched: the cohort is evaluated."""
    from monitor.services.importing import import_files

    web_views.CACHE.clear()
    before = web_views.cohort_facts(web_engine, as_of=AS_OF, config=CONFIG)
    (tmp_path / "symptoms.csv").write_text("mrn,reported_on,complaint,side\nTOH-000072,2026-11-01,knee_pain,left\n")
    import_files(web_engine, [tmp_path / "symptoms.csv"], today=AS_OF, actor="t",
                 risk_codes=CONFIG.schedule.risk_factor_codes)
    key = web_views._evaluation_key(web_engine, AS_OF, CONFIG)
    assert web_cache._patched(web_engine, *web_views.CACHE.held("cohort"), key=key, config=CONFIG) is None
    after = web_views.cohort_facts(web_engine, as_of=AS_OF, config=CONFIG)
    assert after is not before
    _assert_same(after, _whole(web_engine))
    web_views.CACHE.clear()


def test_the_review_list_is_kept_then_made_from_the_patched_cohort(web_engine, monkeypatch):
    """A page turn on the review list must not fingerprint every flag again (seconds at 100k
    patients), and after acknowledgements and a status change, in any order with other pages read
    between them, the list equals the list made from scratch, row by row, with no patient but
    the changed ones evaluated again."""
    from datetime import datetime, timezone

    from monitor.services.acknowledgements import acknowledge
    from monitor.services.patient_status import change_status

    web_views.CACHE.clear()
    order = web_views.review_order(web_engine, as_of=AS_OF, config=CONFIG)[0]
    assert web_views.review_order(web_engine, as_of=AS_OF, config=CONFIG)[0] is order  # kept
    assert list(order.columns) == web_views.REVIEW_ORDER_COLUMNS  # the texts stay in the cohort
    first = web_views.review_list(web_engine, as_of=AS_OF, config=CONFIG)
    assert first["seen_by_run"].all() and len(first) > 20
    assert list(first.columns) == ["patient_id", "first_seen_on", "days_open", "mrn", "name", "severity", "code",
                                   "title", "evidence", "seen_by_run", "action", "sources"]
    now = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    a, b = first.iloc[0], first.loc[first["mrn"] != first.iloc[0]["mrn"]].iloc[-1]
    start = web_views.cohort_facts(web_engine, as_of=AS_OF, config=CONFIG)
    evaluated, real = [], web_cache._evaluate_one

    def spy(engine, pid, **kwargs):
        evaluated.append(pid)
        return real(engine, pid, **kwargs)

    monkeypatch.setattr(web_cache, "_evaluate_one", spy)
    acknowledge(web_engine, a["mrn"], a["code"], note="seen", actor="dr", on_behalf_of=None, as_of=AS_OF,
                config=CONFIG, now=now)
    held = web_views.cohort_facts(web_engine, as_of=AS_OF, config=CONFIG)  # the worklist, read between
    assert held is not start and evaluated == [a["patient_id"]]
    acknowledge(web_engine, b["mrn"], b["code"], note="seen", actor="dr", on_behalf_of=None, as_of=AS_OF,
                config=CONFIG, now=now)
    c = first.loc[~first["mrn"].isin([a["mrn"], b["mrn"]])].iloc[len(first) // 2]
    change_status(web_engine, c["mrn"], "discharge", reason="moved away", actor="clerk", now=now)
    made, real_rows = [], web_views.review_rows_of

    def rows_spy(engine, cohort, *, as_of, patient_ids=None):
        made.append(patient_ids)
        return real_rows(engine, cohort, as_of=as_of, patient_ids=patient_ids)

    monkeypatch.setattr(web_views, "review_rows_of", rows_spy)
    patched = web_views.review_list(web_engine, as_of=AS_OF, config=CONFIG)
    # Each write patched the cohort held then: b's acknowledgement and c's discharge together.
    assert sorted(evaluated[1:]) == sorted([b["patient_id"], c["patient_id"]])
    assert made == [frozenset({a["patient_id"], b["patient_id"], c["patient_id"]})]  # those patients' rows only
    whole = _whole(web_engine)
    scratch = web_views.review_texts(real_rows(web_engine, whole, as_of=AS_OF), whole)
    pd.testing.assert_frame_equal(patched, scratch)
    assert (a["mrn"], a["code"]) not in set(zip(patched["mrn"], patched["code"]))
    assert c["mrn"] not in set(patched["mrn"]) and len(patched) < len(first) - 2
    web_views.CACHE.clear()


def test_a_nightly_run_makes_the_review_list_again(web_engine, tmp_path):
    """`flag_seen` rows written by a night change the list's ages: the kept list is not used."""
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


def test_an_empty_database_gives_empty_pages(tmp_path):
    """No patients: every frame empty, with its columns and types (the pages render '0')."""
    from monitor import store

    engine = store.make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    store.init_db(engine)
    made = web_cache.evaluate_for_web(engine, as_of=AS_OF, config=CONFIG)
    assert list(made.rows.columns) == web_cache.WORKLIST_COLUMNS and not len(made.rows)
    assert not len(made.waiting) and not len(made.open_flags) and not len(made.patients)
    overview = web_views.clinic_overview(engine, as_of=AS_OF, config=CONFIG)
    assert overview["dxa"] == [("overdue", 0), ("due", 0), ("due_soon", 0), ("not_due", 0)]
    assert not len(web_views.review_list(engine, as_of=AS_OF, config=CONFIG))
    web_views.CACHE.clear()


def test_patients_made_again_go_back_where_the_cohort_has_them(web_engine):
    """Splicing patients' own evaluations into the cohort (their rows found by search, not a sort)
    gives the cohort back: first, last, middle and neighbouring rows of the worklist, a patient
    without a worklist row, and one with none of some frame."""
    whole = _whole(web_engine)
    order = list(whole.rows["patient_id"])
    inactive = sorted(set(whole.patients["patient_id"]) - set(order))
    pids = {order[0], order[1], order[len(order) // 2], order[len(order) // 2 + 1], order[-1], *inactive[:2]}
    assert inactive
    fresh = [web_cache.web_facts(web_cache._evaluate_one(web_engine, pid, as_of=AS_OF, config=CONFIG))
             for pid in sorted(pids)]
    _assert_same(web_cache.spliced(whole, fresh, pids), whole)
    _assert_same(web_cache.spliced(whole, list(reversed(fresh)), pids), whole)


def test_a_patient_report_is_kept_until_a_write_the_rules_read(web_engine, monkeypatch):
    """The page shown again after an outreach is recorded is not evaluated again (reminders are
    read for the page each time); an acknowledgement makes it again, and shows it."""
    from datetime import datetime, timezone

    from monitor.services.acknowledgements import acknowledge
    from monitor.services.reminders import act

    web_views.CACHE.clear()
    evaluated, real = [], web_views._evaluated_report

    def spy(engine, mrn, **kwargs):
        evaluated.append(mrn)
        return real(engine, mrn, **kwargs)

    monkeypatch.setattr(web_views, "_evaluated_report", spy)
    review = web_views.review_list(web_engine, as_of=AS_OF, config=CONFIG)
    rows = web_views.cohort_facts(web_engine, as_of=AS_OF, config=CONFIG).rows
    reminded = set(rows.loc[rows["status"].isin(["due", "overdue"]), "mrn"])  # the nightly run opened theirs
    flag = review.loc[review["mrn"].isin(reminded)].iloc[0]
    mrn, code = flag["mrn"], flag["code"]
    first = web_views.patient_page(web_engine, mrn, as_of=AS_OF, config=CONFIG)
    web_views.patient_chart_svg(web_engine, mrn, as_of=AS_OF, config=CONFIG)
    assert evaluated == [mrn]
    act(web_engine, mrn, kind="outreach", outcome="unreachable", actor="clerk", today=AS_OF, config=CONFIG)
    again = web_views.patient_page(web_engine, mrn, as_of=AS_OF, config=CONFIG)
    assert evaluated == [mrn] and again.report is first.report and len(again.events) == len(first.events) + 1
    acknowledge(web_engine, mrn, code, note="seen", actor="dr", on_behalf_of=None, as_of=AS_OF, config=CONFIG,
                now=datetime(2026, 11, 20, 12, tzinfo=timezone.utc))
    after = web_views.patient_page(web_engine, mrn, as_of=AS_OF, config=CONFIG)
    assert evaluated == [mrn, mrn]
    flags = after.report.flags
    assert (flags.loc[flags["code"].astype(str) == code, "acknowledged_by"] != "").all()
    web_views.CACHE.clear()


@pytest.mark.parametrize("chunk", [1, 7, 1_000_000])
def test_the_review_list_aged_in_chunks_is_the_clis(web_engine, monkeypatch, chunk):
    """However many waiting flags are aged at a time, the page lists what `monitor flags review`
    lists, in its order, with the flag's action and sources beside it."""
    from monitor.services.review import REVIEW_FIELDS, review_db

    monkeypatch.setattr(web_views, "REVIEW_CHUNK", chunk)
    web_views.CACHE.clear()
    page = web_views.review_list(web_engine, as_of=AS_OF, config=CONFIG)
    cli = review_db(web_engine, as_of=AS_OF, config=CONFIG)
    assert len(page) > 20
    pd.testing.assert_frame_equal(page[REVIEW_FIELDS], cli, check_dtype=False)
    assert (page["action"] != "").all() and (page["sources"] != "").all()
    second, total = web_views.review_page(web_engine, as_of=AS_OF, config=CONFIG, page=2, size=7)
    assert total == len(page)
    pd.testing.assert_frame_equal(second, page.iloc[7:14].reset_index(drop=True))
    last, _ = web_views.review_page(web_engine, as_of=AS_OF, config=CONFIG, page=10_000, size=7)
    pd.testing.assert_frame_equal(last, page.iloc[(len(page) - 1) // 7 * 7:].reset_index(drop=True))
    web_views.CACHE.clear()


def _wait_for(predicate, seconds=60.0):
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_the_server_makes_the_cohort_before_the_first_page_and_after_an_import(web_engine, tmp_path, monkeypatch):
    """`monitor serve` keeps the cohort warm: the first worklist of the day, and the first after an
    import, do not wait for the cohort's evaluation."""
    import threading

    from monitor.services.importing import import_files

    web_views.CACHE.clear()
    stop = threading.Event()
    thread = web_views.keep_warm(web_engine, CONFIG, lambda: AS_OF, every_s=0.05, stop=stop)
    try:
        key = web_views._evaluation_key(web_engine, AS_OF, CONFIG)
        assert _wait_for(lambda: web_views.CACHE.peek("cohort", key) is not None)
        assert _wait_for(lambda: web_views.CACHE.held("reminders") is not None
                         and web_views.CACHE.held("review") is not None)
        (tmp_path / "symptoms.csv").write_text("mrn,reported_on,complaint,side\nTOH-000072,2026-11-01,knee_pain,left\n")
        import_files(web_engine, [tmp_path / "symptoms.csv"], today=AS_OF, actor="t",
                     risk_codes=CONFIG.schedule.risk_factor_codes)
        moved = web_views._evaluation_key(web_engine, AS_OF, CONFIG)
        assert moved != key and _wait_for(lambda: web_views.CACHE.peek("cohort", moved) is not None)
        real = web_cache.evaluate_for_web

        def no_evaluation(*args, **kwargs):
            raise AssertionError("the page evaluated the cohort")

        monkeypatch.setattr(web_cache, "evaluate_for_web", no_evaluation)
        page = web_views.worklist(web_engine, as_of=AS_OF, config=CONFIG)
        assert page.total > 20
        monkeypatch.setattr(web_cache, "evaluate_for_web", real)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    web_views.CACHE.clear()


@pytest.mark.parametrize("workers", [0, 2])
def test_a_stopping_server_s_warming_thread_ends_between_two_chunks(web_engine, caplog, workers):
    """Stopping `monitor serve` stops the warming thread at its next chunk, quietly, with nothing
    half-made kept: the process must not shut down under a thread inside pandas or Arrow (seen:
    "terminate called without an active exception", an exit by SIGABRT)."""
    import logging
    import threading
    import time

    web_views.CACHE.clear()
    config = replace(CONFIG, scale=ScaleSettings(chunk_patients=20, evaluation_workers=workers))
    stop = threading.Event()
    days = []

    def as_of():  # the thread asks for the day first: the server is stopped as the work begins
        days.append(AS_OF)
        stop.set()
        return AS_OF

    with caplog.at_level(logging.INFO, logger="monitor.web"):
        started = time.monotonic()
        thread = web_views.keep_warm(web_engine, config, as_of, every_s=0.05, stop=stop)
        thread.join(timeout=60)
    assert not thread.is_alive() and time.monotonic() - started < 30
    assert days == [AS_OF]  # one pass begun, then ended, not tried again
    assert web_views.CACHE.held("cohort") is None and web_views.CACHE.held("review") is None
    assert not [r for r in caplog.records if r.name == "monitor.web"]  # neither "failed" nor "in memory"
    calls = []

    def stop_at_third(message):
        calls.append(message)
        if len(calls) == 3:
            raise KeyboardInterrupt  # what a stop raises, as any exception would

    with pytest.raises(KeyboardInterrupt):
        web_cache.cohort_facts(web_engine, as_of=AS_OF, config=config, progress=stop_at_third)
    assert len(calls) == 3 and calls[0].startswith("evaluating chunk 1 of ")
    assert web_views.CACHE.held("cohort") is None
    web_views.CACHE.clear()
