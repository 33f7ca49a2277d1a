"""The synthetic cohort's contact details: fictional, plausible, consistent, seeded."""

from datetime import date

from monitor.demo.synth import generate


def patients(n=400, seed=3):
    return generate(n, seed=seed, end_on=date(2026, 1, 1))["patients"]


def test_contact_details_are_fictional_and_each_preference_has_its_means():
    """Demo data must never reach a real person, and must pass the importer's own checks."""
    p = patients()
    phones, emails = p["phone"][p["phone"] != ""], p["email"][p["email"] != ""]
    assert phones.str.fullmatch(r"\+44 7700 900\d{3}").all()  # Ofcom's drama range
    assert emails.str.endswith("@example.org").all()
    assert p["address"][p["address"] != ""].str.contains(";").all()
    assert set(p["preferred_contact"]) <= {"", "phone", "email", "letter", "none"}
    assert {"phone", "email", "letter", "none"} <= set(p["preferred_contact"])
    for preferred, column in (("phone", "phone"), ("email", "email"), ("letter", "address")):
        assert (p.loc[p["preferred_contact"] == preferred, column] != "").all(), preferred
    languages = p["language"].value_counts()
    assert languages.idxmax() == "en" and languages["en"] > len(p) * 0.7 and len(languages) > 3


def test_contacts_are_seeded_and_leave_the_clinical_values_alone():
    """Same seed, same details; the contact stream does not shift anyone's clinical history."""
    a, b, c = patients(seed=3), patients(seed=3), patients(seed=4)
    assert a.equals(b) and not a["phone"].equals(c["phone"])
    clinical = ["mrn", "name", "sex", "birth_date", "enrolled_on", "status", "risk_factors", "postmenopausal"]
    assert patients(n=50)[clinical].equals(a[clinical].iloc[:50])
