"""`monitor synth` writes files the import takes whole: no two rows of one record."""

from __future__ import annotations

from datetime import date

from monitor.demo import synth

KEY = ["mrn", "reported_on", "complaint", "side"]


def test_two_reports_of_one_complaint_on_one_day_are_one_symptom(monkeypatch):
    """A pregnancy's report and an episode's can fall on the same day for the same hip (twice in a
    million patients, with other values: the import refused the files); the first is kept."""
    real = synth._one_patient

    def with_a_second_report(rng, i, end_on, rows, seed):
        real(rng, i, end_on, rows, seed)
        mine = [r for r in rows["symptoms"] if r[0] == f"TOH-{i:06d}"]
        if mine:
            first = mine[0]
            rows["symptoms"].append((*first[:4], "no" if first[4] == "yes" else "yes", first[5]))

    monkeypatch.setattr(synth, "_one_patient", with_a_second_report)
    symptoms = synth.generate(40, seed=3, end_on=date(2026, 11, 26))["symptoms"]
    assert len(symptoms) and not symptoms.duplicated(KEY).any()
    monkeypatch.setattr(synth, "_one_patient", real)
    plain = synth.generate(40, seed=3, end_on=date(2026, 11, 26))["symptoms"]
    assert symptoms.equals(plain)  # the first of each record is the one kept
