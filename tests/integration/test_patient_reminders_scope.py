"""`show`'s reminder histories read one patient's rows, and say exactly what the cohort-wide reading says."""

from __future__ import annotations

import pytest

from monitor.config import Config
from tests.conftest import DEMO, cli_as

AS_OF = "2026-11-20"


@pytest.fixture(scope="module")
def after_nightly(tmp_path_factory):
    from monitor.store import init_db, make_engine

    url = f"sqlite:///{tmp_path_factory.mktemp('scope') / 'demo.db'}"
    init_db(make_engine(url))
    assert cli_as("t", url, "import", *map(str, sorted(DEMO.glob("*.csv")))).exit_code == 0
    assert cli_as("t", url, "run", "nightly", "--as-of", AS_OF).exit_code == 0
    return make_engine(url)


def test_one_patients_histories_equal_the_cohort_wide_ones(after_nightly):
    """A reminder's state depends on its own events only, so reading one patient's rows changes no line."""
    from monitor import store
    from monitor.services.reminders import _histories, _states, patient_histories
    from monitor.store.reminders import load_patient_names

    config = Config()
    with store.reading(after_nightly) as conn:
        states = _states(conn, config)
        names = load_patient_names(conn)
    assert len(states) > 0, "the nightly run made no reminders"
    patient_ids = sorted(set(states["patient_id"].astype(int)))[:25] + [int(names["patient_id"].max()) + 1]
    for pid in patient_ids:
        ids = sorted(states.loc[states["patient_id"] == pid, "reminder_id"].astype(int), reverse=True)
        with store.reading(after_nightly) as conn:
            wide = _histories(conn, states, names, ids, config)
        assert patient_histories(after_nightly, pid, config=config) == wide
