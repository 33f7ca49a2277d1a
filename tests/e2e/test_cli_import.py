"""The CLI as clinic staff use it: exact messages, exit codes, and nothing written on bad input."""

import os

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from monitor.cli.main import main
from tests.conftest import write_csv

PATIENTS = "mrn,name,sex,birth_date,enrolled_on\nA1,Ann Example,F,1990-05-01,2024-01-10\n"
EPISODES = "mrn,joint,side,onset_date,diagnosed_on\nA1,hip,left,2024-01-01,2024-01-10\n"


def cli(db_url, *args):
    return CliRunner().invoke(main, ["--db", db_url, *args], catch_exceptions=False)


def snapshot(db_url):
    """Row counts of every table: the database 'as it was'."""
    from sqlmodel import SQLModel

    from monitor.store import make_engine

    engine = make_engine(db_url)
    with engine.connect() as conn:
        out = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in SQLModel.metadata.tables}
    engine.dispose()
    return out


@pytest.fixture
def loaded(db_url, tmp_path):
    write_csv(tmp_path / "patients.csv", PATIENTS)
    write_csv(tmp_path / "episodes.csv", EPISODES)
    result = cli(db_url, "import", str(tmp_path / "patients.csv"), str(tmp_path / "episodes.csv"))
    assert result.exit_code == 0, result.output
    return db_url


BAD = [
    ("scans", "mrn,scan_date,site,side,bmd\nA1,1980-01-01,total_hip,left,0.9\n",
     "scans.csv, line 2, column 'scan_date': scan_date 1980-01-01 is before the patient's birth date 1990-05-01"),
    ("scans", "mrn,scan_date,site,side,bmd\nA1,2099-01-01,total_hip,left,0.9\n",
     "scans.csv, line 2, column 'scan_date': date 2099-01-01 is in the future"),
    ("scans", "mrn,scan_date,site,side,bmd\nA1,2024-02-01,total_hip,left,0.19\n",
     "scans.csv, line 2, column 'bmd': expected a number between 0.2 and 2 g/cm², got '0.19'"),
    ("scans", "mrn,scan_date,site,side,bmd\nA1,2024-02-01,total_hip,left,2.01\n",
     "column 'bmd': expected a number between 0.2 and 2 g/cm², got '2.01'"),
    ("scans", "mrn,scan_date,site,side,bmd,t_score\nA1,2024-02-01,total_hip,left,0.9,-7.5\n",
     "scans.csv, line 2, column 't_score': expected a number between -7 and 7, got '-7.5'"),
    ("scans", "mrn,scan_date,site,side,bmd\nA1,2024-02-01,hip,left,0.9\n",
     "column 'site': expected one of femoral_neck, total_hip, lumbar_spine, got 'hip'"),
    ("scans", "mrn,scan_date,site,side,bmd\nQ7,2024-02-01,total_hip,left,0.9\n",
     "scans.csv, line 2, column 'mrn': unknown MRN 'Q7': import the patient first"),
    ("scans", "mrn,scan_date,site,side,bmd\nA1,2024-02-01,total_hip,,0.9\n",
     "column 'side': total_hip needs a side: left or right"),
    ("scans", "mrn,scan_date,site,side,bmd\nA1,2024-02-01,lumbar_spine,left,0.9\n",
     "column 'side': the lumbar spine has no side; leave it blank"),
    ("scans", "mrn,scan_date,site,side,bmd\nA1,01/02/2024,total_hip,left,0.9\n",
     "scans.csv, line 2, column 'scan_date': dates must be YYYY-MM-DD; this file has dates like NN/NN/YYYY"),
    ("scans", "mrn,scan_date,site,side,bmd\nA1,2024-02-30,total_hip,left,0.9\n",
     "column 'scan_date': expected a date YYYY-MM-DD, got '2024-02-30'"),
    ("scans", "mrn,scan_date,site,side,bmd,colour\nA1,2024-02-01,total_hip,left,0.9,red\n",
     "scans.csv, line 1: unknown column(s) 'colour'; scans.csv takes: mrn, scan_date, scanner, site, side, bmd, t_score, z_score"),
    ("scans", "mrn,scan_date,site,side\nA1,2024-02-01,total_hip,left\n",
     "scans.csv, line 1: missing required column(s): bmd"),
    ("scans", "mrn,scan_date,site,side,bmd\nA1,2024-02-01,total_hip,left,0.9,extra\n",
     "scans.csv, line 2: expected 5 values as in the header, found 6"),
    ("scans", "mrn,scan_date,site,side,bmd\nA1,2024-02-01,total_hip,left,0.9\nA1,2024-02-01,total_hip,left,0.8\n",
     "scans.csv, line 3: same record (mrn, scan_date, site, side) as line 2 but with other values; keep one"),
    ("episodes", "mrn,joint,side,onset_date,resolved_on\nA1,hip,left,2024-03-01,2024-02-01\n",
     "episodes.csv, line 2, column 'resolved_on': resolved_on 2024-02-01 is before onset_date 2024-03-01"),
    ("episodes", "mrn,joint,side,onset_date,fracture\nA1,hip,left,2024-03-01,maybe\n",
     "column 'fracture': expected yes or no, got 'maybe'"),
    ("episodes", "mrn,joint,side,onset_date\nA1,elbow,left,2024-03-01\n",
     "column 'joint': expected one of hip, knee, ankle, foot, got 'elbow'"),
    ("patients", "mrn,sex,birth_date,risk_factors\nA2,F,1980-01-01,smoking;vampirism\n",
     "column 'risk_factors': unknown risk factor code(s) vampirism"),
    ("patients", "mrn,sex,birth_date\nA2,Q,1980-01-01\n",
     "column 'sex': expected one of F, M, X, got 'Q'"),
    ("patients", "mrn,sex,birth_date\n,F,1980-01-01\n",
     "patients.csv, line 2, column 'mrn': a value is required here"),
    ("patients", "mrn,sex,birth_date,status\nA2,F,1980-01-01,gone\n",
     "column 'status': expected one of active, discharged, deceased, opted_out, transferred, got 'gone'"),
    ("patients", "",
     "patients.csv, line 1: the file is empty; expected a header row"),
]


@pytest.mark.parametrize("kind, content, message", BAD, ids=[f"{i}-{b[2][:40]}" for i, b in enumerate(BAD)])
def test_bad_input_is_refused_and_nothing_written(loaded, tmp_path, kind, content, message):
    """Impossible values are rejected with file, line and column, never silently fixed or half-written."""
    before = snapshot(loaded)
    path = tmp_path / f"{kind}.csv"
    path.write_text(content, encoding="utf-8")
    result = cli(loaded, "import", str(path))
    assert result.exit_code == 2  # a rejected import
    assert message in result.stderr
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.output
    assert snapshot(loaded) == before


def test_not_utf8_is_refused(loaded, tmp_path):
    """A spreadsheet saved in a legacy encoding gets a clear message, not a crash."""
    path = tmp_path / "patients.csv"
    path.write_bytes("mrn,name,sex,birth_date\nA3,Jos\xe9,M,1980-01-01\n".encode("latin-1"))
    result = cli(loaded, "import", str(path))
    assert result.exit_code == 2
    assert "patients.csv, line 2: not UTF-8 text" in result.stderr


def test_import_reports_counts_and_reimport_changes_nothing(db_url, tmp_path):
    """Staff see what an import did; running it twice is harmless."""
    write_csv(tmp_path / "patients.csv", PATIENTS)
    first = cli(db_url, "import", str(tmp_path / "patients.csv"))
    assert first.output == "patients.csv: imported 1 row(s): 1 new, 0 updated, 0 unchanged\n"
    second = cli(db_url, "import", str(tmp_path / "patients.csv"))
    assert second.output == "patients.csv: imported 1 row(s): 0 new, 0 updated, 1 unchanged\n"


def test_keep_valid_cli(loaded, tmp_path):
    """--keep-valid imports the good rows and names the rejects file."""
    path = write_csv(tmp_path / "scans.csv", "mrn,scan_date,site,side,bmd\nA1,2024-02-01,total_hip,left,0.9\n"
                                              "A1,2024-02-01,total_hip,right,9\n")
    result = cli(loaded, "import", "--keep-valid", "--rejects-dir", str(tmp_path), str(path))
    assert result.exit_code == 3, result.output  # INTERFACE v2: some rows rejected, so a scheduled import notices
    assert result.stdout == (f"scans.csv: imported 1 row(s): 1 new, 0 updated, 0 unchanged; 1 rejected -> "
                             f"{tmp_path / 'scans.rejects.csv'}\n")


def test_dry_run_cli(loaded, tmp_path):
    """--dry-run shows the problems and writes nothing."""
    before = snapshot(loaded)
    path = write_csv(tmp_path / "scans.csv", "mrn,scan_date,site,side,bmd\nA1,2024-02-01,total_hip,left,0.9\n")
    result = cli(loaded, "import", "--dry-run", str(path))
    assert result.exit_code == 0
    assert result.output.endswith("Dry run: nothing was written.\n")
    assert snapshot(loaded) == before


def test_missing_file(loaded, tmp_path):
    """A mistyped file name is a clear error."""
    result = cli(loaded, "import", str(tmp_path / "scans.csv"))
    assert result.exit_code == 1 and "scans.csv: file not found" in result.stderr


def test_uninitialised_database(tmp_path):
    """Using a database before `monitor init` says what to do."""
    (tmp_path / "x.db").touch()
    result = CliRunner().invoke(main, ["--db", f"sqlite:///{tmp_path / 'x.db'}", "due"])
    assert result.exit_code == 1
    assert result.stderr == "Error: the database is not initialised: run `monitor init` first\n"


def test_mistyped_database_path_creates_nothing(tmp_path):
    """A typo in --db must not leave an empty database behind that later commands would use."""
    result = CliRunner().invoke(main, ["--db", f"sqlite:///{tmp_path / 'clinc.db'}", "due"])
    assert result.exit_code == 1
    assert result.stderr == (f"Error: no database at {tmp_path / 'clinc.db'}: check --db, "
                             "or create one with `monitor init`\n")
    assert not (tmp_path / "clinc.db").exists()


def test_init_creates_owner_only_sqlite_file(tmp_path):
    """The database holds patient data: readable by its owner only."""
    db = tmp_path / "clinic.db"
    result = CliRunner().invoke(main, ["--db", f"sqlite:///{db}", "init"])
    assert result.output == "Created a new database.\n"
    assert os.stat(db).st_mode & 0o777 == 0o600
    again = CliRunner().invoke(main, ["--db", f"sqlite:///{db}", "init"])
    assert again.output == "Database is up to date.\n"


@pytest.mark.parametrize("content, message", [
    ('mrn,name,sex,birth_date\nA1,"Ann\nMulti",F,1990-01-01\n\nB2, Bob ,M,1980-13-01\n',
     ["patients.csv, line 2, column 'name': text must not hold control characters",
      "patients.csv, line 5, column 'birth_date': expected a date YYYY-MM-DD, got '1980-13-01'"]),
    ("mrn,name,sex,birth_date\n\n\nA1,Ann,F,1990-01-01\nB2,Bob,M\n",
     ["patients.csv, line 5: expected 4 values as in the header, found 3"]),
    ("mrn,name,sex,birth_date\r\nA1,Ann,F,1990-01-01\r\nB2,Bob,Q,1980-01-01\r\n",
     ["patients.csv, line 3, column 'sex': expected one of F, M, X, got 'Q'"]),
])
def test_line_numbers_survive_blank_lines_crlf_and_multiline_cells(loaded, tmp_path, content, message):
    """The line in the error is the line staff see in their editor."""
    path = tmp_path / "patients.csv"
    path.write_bytes(content.encode("utf-8"))
    result = cli(loaded, "import", str(path))
    assert result.exit_code != 0
    for m in message:
        assert m in result.stderr


def test_blanks_around_cells_are_ignored(loaded, tmp_path):
    """' M ' is M: spreadsheets pad cells; the padding is not data."""
    path = write_csv(tmp_path / "patients.csv", "mrn , sex,birth_date\n A2 , m ,1980-01-01\n")
    assert cli(loaded, "import", str(path)).exit_code == 0
    from monitor.store import load_cohort, make_engine

    p = load_cohort(make_engine(loaded)).patients.set_index("mrn")
    assert p.loc["A2", "sex"] == "M"


def test_semicolon_separated_file_from_a_european_spreadsheet(loaded, tmp_path):
    """Excel in many European locales saves 'CSV' with semicolons: it imports the same way."""
    path = tmp_path / "patients.csv"
    path.write_bytes("\ufeffmrn;name;sex;birth_date\r\nEU1;Eva Example;F;1980-01-01\r\n".encode("utf-8"))
    result = cli(loaded, "import", str(path))
    assert result.output == "patients.csv: imported 1 row(s): 1 new, 0 updated, 0 unchanged\n"


def test_header_names_ignore_letter_case(loaded, tmp_path):
    """A spreadsheet that capitalises its headers (MRN, Birth_Date) holds the same patients (INTERFACE)."""
    path = write_csv(tmp_path / "patients.csv", "MRN,Sex, Birth_Date \nA2,M,1980-01-01\n")
    result = cli(loaded, "import", str(path))
    assert result.output == "patients.csv: imported 1 row(s): 1 new, 0 updated, 0 unchanged\n"


def test_an_overlong_importer_name_is_an_error_not_a_database_crash(loaded, tmp_path):
    """Who imported is kept in the audit log; a name too long for it is refused up front, not half-way."""
    path = write_csv(tmp_path / "patients.csv", PATIENTS)
    result = cli(loaded, "import", "--by", "x" * 65, str(path))
    assert (result.exit_code, result.stderr) == (1, "Error: --by: at most 64 characters, got 65\n")
