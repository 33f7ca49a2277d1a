"""The patient reports' reminder histories: read once for all the patients, exactly as `show`
reads them one patient at a time."""

from __future__ import annotations

from pathlib import Path

from monitor.config import Config
from monitor.services.reminders import patient_histories, patients_histories
from monitor.store.reminders import load_patient_names
from tests.conftest import cli_as

REPO = Path(__file__).resolve().parents[2]
AS_OF = "2026-11-20"


def test_histories_of_several_patients_read_once_are_each_patients_own(db_url, engine, tmp_path):
    config_file = tmp_path / "monitor.toml"
    config_file.write_text(f'[jobs]\noutbox = "{tmp_path / "outbox"}"\n')
    demo = sorted((REPO / "data" / "demo").glob("*.csv"))
    assert cli_as("importer", db_url, "import", *map(str, demo)).exit_code == 0
    assert cli_as("night", db_url, "--config", str(config_file), "run", "nightly", "--as-of", AS_OF).exit_code == 0
    due = cli_as("clerk", db_url, "due", "--status", "overdue", "--format", "csv", "--as-of", AS_OF).output
    overdue = [line.split(",")[0] for line in due.splitlines()[1:3]]
    assert cli_as("clerk", db_url, "reminders", "outreach", overdue[0], "--outcome", "unreachable",
                  "--note", "no answer").exit_code == 0
    assert cli_as("clerk", db_url, "reminders", "defer", overdue[1], "--until", "2030-01-15",
                  "--reason", "abroad").exit_code == 0
    with engine.connect() as conn:
        names = load_patient_names(conn)
    by_mrn = dict(zip(names["mrn"], names["patient_id"]))
    ids = [int(by_mrn[m]) for m in overdue] + [int(i) for i in names["patient_id"].iloc[[0, 5, -1]]]
    config = Config()
    together = patients_histories(engine, ids, config=config)
    assert list(together) == sorted(set(ids))
    assert together == {pid: patient_histories(engine, pid, config=config) for pid in ids}
    assert any(len(h.rows) > 1 for h in together[ids[0]]) and together[ids[1]]
    assert patients_histories(engine, [], config=config) == {}
