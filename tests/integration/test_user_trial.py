"""What a new user met in a fresh clone: every one pinned so it does not come back."""

from __future__ import annotations

from datetime import date

from click.testing import CliRunner

from monitor.cli.main import main
from monitor.config import Config
from monitor.reports.clinic_summary import summarise
from monitor.reports.due_list import due_list_blocks
from monitor.services.evaluation import evaluate_db
from tests.integration import test_reports

demo_engine = test_reports.demo_engine  # the demo database fixture, shared with the report tests


def test_a_mistyped_file_name_is_not_found(tmp_path, monkeypatch):
    """`monitor import scan.csv` for a file that is not there says so (it said 'cannot tell what it holds')."""
    monkeypatch.chdir(tmp_path)
    CliRunner().invoke(main, ["init"])
    result = CliRunner().invoke(main, ["import", "scan.csv"])
    assert (result.exit_code, result.stderr) == (1, "Error: scan.csv: file not found\n")
    (tmp_path / "patients").mkdir()
    result = CliRunner().invoke(main, ["import", "patients"])
    assert (result.exit_code, result.stderr) == (1, "Error: patients: is a folder, expected a CSV file\n")


def test_an_empty_header_cell_is_named_by_its_column(tmp_path, monkeypatch):
    """A spreadsheet's trailing empty column: the error names the column, not a name pandas made up."""
    monkeypatch.chdir(tmp_path)
    CliRunner().invoke(main, ["init"])
    (tmp_path / "patients.csv").write_text("mrn,sex,birth_date,\nP1,F,1980-01-01,\n")
    result = CliRunner().invoke(main, ["import", "patients.csv"])
    assert result.exit_code == 2
    assert result.stderr == ("Error: patients.csv, line 1: column 4 has no name in the header (an empty column "
                             "left by a spreadsheet?): delete that column or give it a name\n")


def test_flag_titles_wrap_within_their_column_never_cut():
    """The clinic list's flags column wraps a long title onto more lines; it never cuts a word."""
    from monitor.reports.annex import SIZE_PT
    from monitor.reports.due_list import _flag_lines
    from monitor.reports.pages import text_width_pt

    title = "Pregnancy-associated TOH: highest risk of displaced femoral neck fracture"
    lines = _flag_lines([(True, title), (False, "TOH at the other hip")], 120.0)
    assert " ".join(t.strip() for t, _ in lines).split() == f"▲ URGENT: {title} ● TOH at the other hip".split()
    assert [bold for _, bold in lines] == [True] * (len(lines) - 1) + [False]
    assert all(text_width_pt(t, size=SIZE_PT, bold=b) <= 120.0 for t, b in lines)


def test_the_clinic_report_list_shows_every_serious_flag(demo_engine):
    """An urgent flag hidden by a cut column is a hidden sign (pregnancy_toh_fractu… was shown); flags read as
    the annex's titles, urgent ones marked in words, on the listed patient's row."""
    evaluation = evaluate_db(demo_engine, as_of=date(2026, 11, 20), config=Config())
    rows: dict[str, str] = {}
    mrn = ""
    for block in due_list_blocks(summarise(evaluation, Config(), limit=500)):
        if block.kind == "row" and not block.is_header:
            mrn = block.cells[0] or mrn
            rows[mrn] = rows.get(mrn, "") + " " + block.cells[-1].strip()
    sched = evaluation.schedule
    listed = sched.loc[sched["status"].isin(("due", "overdue"))]
    assert set(rows) == set(listed["mrn"])
    flags = evaluation.flags
    serious = flags.loc[flags["severity"].isin(("urgent", "warn")) & flags["patient_id"].isin(listed["patient_id"])]
    assert (serious["severity"] == "urgent").any()
    mrn_of = listed.set_index("patient_id")["mrn"]
    for patient_id, severity, title in zip(serious["patient_id"], serious["severity"], serious["title"].astype(str)):
        text = " ".join(rows[mrn_of[patient_id]].split())
        assert (f"▲ URGENT: {title}" if severity == "urgent" else f"● {title}") in text
