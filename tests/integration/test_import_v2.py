"""INTERFACE v2 import columns: `breastfeeding_until` (a date or `ongoing`) and `fracture_on`."""

import pandas as pd
import pytest

from monitor.errors import ImportRejected
from monitor.store import load_cohort
from tests.conftest import write_csv
from tests.integration.test_import import PATIENTS, run


def files(tmp_path, pregnancies=None, episodes=None):
    out = [write_csv(tmp_path / "patients.csv", PATIENTS)]
    if pregnancies:
        out.append(write_csv(tmp_path / "pregnancies.csv", pregnancies))
    if episodes:
        out.append(write_csv(tmp_path / "episodes.csv", episodes))
    return out


def test_breastfeeding_until_date_or_ongoing(engine, tmp_path):
    """Breastfeeding decides whether a bone drug may be prompted: both forms are stored."""
    run(engine, files(tmp_path, pregnancies="""
        mrn,expected_delivery,delivered_on,breastfeeding_until
        A1,2026-03-01,2026-03-01,ongoing
        A1,2024-03-01,2024-02-20,2024-09-30
        A1,2022-03-01,2022-03-01,
        """))
    p = load_cohort(engine).pregnancies.sort_values("expected_delivery")
    assert [str(d.date()) if d == d else None for d in p["breastfeeding_until"]] == [None, "2024-09-30", None]
    assert [None if v is pd.NA else bool(v) for v in p["breastfeeding_ongoing"]] == [None, False, True]


def test_ongoing_then_a_weaning_date_and_a_blank_keeps_it(engine, tmp_path):
    """Re-import with the weaning date replaces `ongoing`; a later blank cell keeps what is stored."""
    head = "mrn,expected_delivery,delivered_on,breastfeeding_until\n"
    run(engine, files(tmp_path, pregnancies=head + "A1,2026-03-01,2026-03-01,ONGOING\n"))
    run(engine, files(tmp_path, pregnancies=head + "A1,2026-03-01,2026-03-01,2026-08-31\n"))
    run(engine, files(tmp_path, pregnancies=head + "A1,2026-03-01,2026-03-01,\n"))
    p = load_cohort(engine).pregnancies.iloc[0]
    assert str(p["breastfeeding_until"].date()) == "2026-08-31" and not bool(p["breastfeeding_ongoing"])


def test_fracture_on_is_stored_and_implies_a_fracture(engine, tmp_path):
    """A fracture date with a blank fracture cell records the fracture (it changes the referral)."""
    run(engine, files(tmp_path, episodes="""
        mrn,joint,side,onset_date,fracture,fracture_on
        A1,hip,left,2026-01-01,,2026-02-01
        """))
    e = load_cohort(engine).episodes.iloc[0]
    assert bool(e["fracture"]) and str(e["fracture_on"].date()) == "2026-02-01"


@pytest.mark.parametrize("kind, content, message", [
    ("pregnancies", "mrn,expected_delivery,delivered_on,breastfeeding_until\nA1,2026-03-01,2026-03-01,soon\n",
     "pregnancies.csv, line 2, column 'breastfeeding_until': expected a date YYYY-MM-DD or 'ongoing', got 'soon'"),
    ("pregnancies", "mrn,expected_delivery,delivered_on,breastfeeding_until\nA1,2026-03-01,2026-03-01,2026-02-01\n",
     "pregnancies.csv, line 2, column 'breastfeeding_until': breastfeeding_until 2026-02-01 is before delivered_on "
     "2026-03-01"),
    ("pregnancies", "mrn,expected_delivery,delivered_on,breastfeeding_until\nA1,2026-03-01,2026-03-01,2026-11-31\n",
     "pregnancies.csv, line 2, column 'breastfeeding_until': expected a date YYYY-MM-DD or 'ongoing'"),
    ("episodes", "mrn,joint,side,onset_date,fracture,fracture_on\nA1,hip,left,2026-01-01,no,2026-02-01\n",
     "episodes.csv, line 2, column 'fracture': fracture is 'no' but fracture_on gives a date"),
    ("episodes", "mrn,joint,side,onset_date,fracture,fracture_on\nA1,hip,left,2026-01-01,yes,2025-12-01\n",
     "episodes.csv, line 2, column 'fracture_on': fracture_on 2025-12-01 is before onset_date 2026-01-01"),
    ("episodes", "mrn,joint,side,onset_date,fracture,fracture_on\nA1,hip,left,2026-01-01,yes,2027-01-01\n",
     "episodes.csv, line 2, column 'fracture_on': date 2027-01-01 is in the future"),
])
def test_v2_columns_are_validated_with_file_line_and_column(engine, tmp_path, kind, content, message):
    """A bad breastfeeding or fracture date is rejected with where it is, and nothing is written."""
    paths = files(tmp_path, **{kind: content})
    with pytest.raises(ImportRejected) as err:
        run(engine, paths)
    assert message in str(err.value)
    assert load_cohort(engine).counts()["patients"] == 0
