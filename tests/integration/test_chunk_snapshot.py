"""Evaluation workers read their own chunks, and every chunk of a pass still sees one state of
the database: on PostgreSQL the workers import the pass's exported snapshot; on SQLite a commit
during the pass is noticed (data_version) and the pass is read again in one transaction."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from monitor.config import parse_config
from monitor.services.list_streams import list_text, spool_due
from monitor.store import make_engine
from tests.conftest import DEMO, cli_as

AS_OF = date(2026, 11, 20)
CONFIG = parse_config({"scale": {"chunk_patients": 45, "evaluation_workers": 2}})
COLUMNS = ["mrn", "status", "due_date", "days_overdue"]


def due_text(engine, progress=None) -> str:
    out = spool_due(engine, as_of=AS_OF, config=CONFIG, statuses=(), fmt="csv", columns=COLUMNS, progress=progress)
    try:
        return "".join(list_text(out))
    finally:
        out.close()


def discharge_last(url: str) -> None:
    """Another connection commits a change the due list shows: the last patient is discharged."""
    other = make_engine(url)
    with other.begin() as conn:
        conn.execute(text("UPDATE patient SET status = 'discharged' WHERE id = (SELECT max(id) FROM patient)"))
    other.dispose()


def test_a_commit_during_a_pass_never_mixes_two_states(db_url):
    result = cli_as("importer", db_url, "import", *map(str, sorted(DEMO.glob("*.csv"))))
    assert result.exit_code == 0, result.output
    engine = make_engine(db_url)
    before = due_text(engine)
    messages = []

    def progress(message):
        messages.append(message)
        if message.startswith("evaluating chunk 3 of"):
            discharge_last(db_url)  # while the workers read chunks 1-3

    during = due_text(engine, progress)
    after = due_text(engine)
    engine.dispose()
    assert before != after and before.count("\n") == after.count("\n") + 1  # the change shows in the list
    passes = messages.count(messages[0])
    if db_url.startswith("postgresql"):
        assert during == before and passes == 1  # every worker read the pass's snapshot: the change is not in it
    else:
        assert during == after and passes == 2  # the pass saw the commit, and was read again in one transaction
        assert "the database changed while it was read: reading it again in one transaction" in messages


def test_a_pass_nothing_changes_is_read_once_by_the_workers(db_url, monkeypatch):
    result = cli_as("importer", db_url, "import", *map(str, sorted(DEMO.glob("*.csv"))))
    assert result.exit_code == 0, result.output
    engine = make_engine(db_url)
    here = []
    import monitor.services.chunks as chunks

    original = chunks.read_inputs
    monkeypatch.setattr(chunks, "read_inputs", lambda *a: here.append(1) or original(*a))
    messages = []
    workers = due_text(engine, messages.append)
    engine.dispose()
    assert messages.count(messages[0]) == 1 and len(messages) >= 7
    assert here == []  # not one chunk read in this process: the workers read them
    assert workers.count("\n") > 250
