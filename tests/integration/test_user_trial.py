"""What a new user met in a fresh clone: every one pinned so it does not come back."""

from __future__ import annotations

from datetime import date

from click.testing import CliRunner

from monitor.cli.main import main
from monitor.config import Config
from monitor.reports.clinic import _pack, list_lines
from monitor.rules.flags import FLAG_CODES
from monitor.services.evaluation import evaluate_db
from tests.integration.test_reports import demo_engine  # noqa: F401 - the module's fixture


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


def test_flag_codes_are_packed_never_cut():
    """The clinic report's flag column wraps codes onto more lines; it never cuts one."""
    codes = ["!pregnancy_toh_fracture_risk", "!fracture_surgical_referral", "contralateral_decline"]
    lines = _pack(codes, 48)
    assert ", ".join(lines).split(", ") == codes and all(len(line) <= 48 for line in lines)


def test_the_clinic_report_list_shows_every_serious_code(demo_engine):  # noqa: F811
    """An urgent flag hidden by a cut column is a hidden sign (pregnancy_toh_fractu… was shown); flags read as words."""
    from monitor.reports.words import word

    evaluation = evaluate_db(demo_engine, as_of=date(2026, 11, 20), config=Config())
    text = "\n".join(list_lines(evaluation, Config())).split("URGENT FLAGS AND UNACKNOWLEDGED WARNINGS")[0]
    listed = evaluation.schedule.loc[evaluation.schedule["status"].isin(("due", "overdue"))]
    for flags in listed["flags"]:
        for code in flags.split(";"):
            if FLAG_CODES.get(code) == "urgent":
                assert f"URGENT {word(code)}" in text
            elif FLAG_CODES.get(code) == "warn":
                assert word(code) in text
