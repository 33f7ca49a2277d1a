"""Small hand-written cohorts for rule tests: one line per record, defaults for the rest."""

from __future__ import annotations

import pandas as pd

from monitor.rules.cohort import Cohort


def patient(pid=1, *, mrn=None, sex="M", birth="1970-01-01", enrolled=None, status="active", risks=""):
    return dict(patient_id=pid, mrn=mrn or f"P{pid}", name=f"Patient {pid}", sex=sex, birth_date=birth,
                enrolled_on=enrolled, status=status, risk_factors=risks)


def episode(pid=1, onset="2022-01-10", *, joint="hip", side="left", diagnosed=None, resolved=None,
            pregnancy=False, fracture=False):
    return dict(patient_id=pid, joint=joint, side=side, onset_date=onset, diagnosed_on=diagnosed,
                resolved_on=resolved, pregnancy_associated=pregnancy, fracture=fracture)


def scan(pid=1, day="2022-03-01", *, sites=(("total_hip", "left"), ("femoral_neck", "left"),
                                           ("total_hip", "right"), ("femoral_neck", "right")),
         scanner="hologic", bmd=0.9, t=-1.0, z=-0.5):
    """All measurements of one scan; a dict {(site, side): (bmd, t, z)} gives values per site."""
    rows = []
    if isinstance(sites, dict):
        for (site, side), values in sites.items():
            b, tt, zz = values if isinstance(values, tuple) else (values, t, z)
            rows.append(dict(patient_id=pid, scan_date=day, scanner=scanner, site=site, side=side,
                             bmd_g_cm2=b, t_score=tt, z_score=zz))
        return rows
    for site, side in sites:
        rows.append(dict(patient_id=pid, scan_date=day, scanner=scanner, site=site, side=side,
                         bmd_g_cm2=bmd, t_score=t, z_score=z))
    return rows


def cohort(patients=None, episodes=(), scans=(), **others) -> Cohort:
    """A cohort from lists of dicts; `scans` may hold lists (one per scan) or dicts."""
    flat = []
    for s in scans:
        flat.extend(s if isinstance(s, list) else [s])
    frames = {
        "patients": pd.DataFrame(patients if patients is not None else [patient()]),
        "episodes": pd.DataFrame(list(episodes)) if episodes else None,
        "scans": pd.DataFrame(flat) if flat else None,
    }
    for kind, rows in others.items():
        frames[kind] = pd.DataFrame(list(rows)) if rows else None
    return Cohort.from_frames(**{k: v for k, v in frames.items() if v is not None})
