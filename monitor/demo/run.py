"""`monitor demo`: the bundled synthetic cohort in a fresh database, every job run on it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from monitor.config import Config

DEMO_DIR = Path(__file__).resolve().parents[2] / "data" / "demo"
DEMO_MANIFEST = Path(__file__).resolve().parent / "demo_cohort.json"
DEMO_KINDS = ("patients", "episodes", "scans", "mri", "pregnancies", "symptoms", "assessments", "treatments")


def demo_manifest() -> dict:
    """How the bundled cohort is made: patients, seed and the day its history ends."""
    return json.loads(DEMO_MANIFEST.read_text(encoding="utf-8"))


def demo_files(folder: Path, output: Path) -> tuple[list[Path], date]:
    """The bundled CSVs; if the package was installed without them, regenerate them exactly."""
    manifest = demo_manifest()
    end = date.fromisoformat(manifest["end_on"])
    files = [folder / f"{k}.csv" for k in DEMO_KINDS]
    if all(f.is_file() for f in files):
        return files, end
    from monitor.demo.synth import generate, write_cohort

    target = output / "cohort"
    target.mkdir(exist_ok=True)
    write_cohort(generate(manifest["patients"], seed=manifest["seed"], end_on=end), target)
    return [target / f"{k}.csv" for k in DEMO_KINDS], end


# The demo's showcases, in the order they are picked: a label and the flag codes that qualify.
SHOWCASES = (
    ("migratory", ("migratory_pattern",)),
    ("pregnancy with breastfeeding", ("pregnancy_toh_fracture_risk", "pregnancy_hip_pain_mri")),
    ("scanner change", ("scanner_changed",)),
    ("young adult", ("low_for_age",)),
    ("on treatment", ("on_bone_treatment",)),
)


def showcase_patients(evaluation) -> list[int]:
    """The demo's most instructive patients, one per showcase (SHOWCASES), each the flag-richest not
    yet chosen: migratory; a pregnancy flag with breastfeeding recorded; a scanner change; a young
    adult (Z-scores, low for age) with no pregnancy; on bone treatment."""
    flags = evaluation.flags
    richness = flags.groupby("patient_id").size()
    preg = evaluation.cohort.pregnancies
    pregnant = set(preg["patient_id"])
    breastfed = set(preg.loc[preg["breastfeeding_until"].notna() | preg["breastfeeding_ongoing"].fillna(False)
                             .astype(bool), "patient_id"])
    chosen: list[int] = []
    for label, codes in SHOWCASES:
        ids = set(flags.loc[flags["code"].isin(codes), "patient_id"]) - set(chosen)
        if label == "pregnancy with breastfeeding":
            ids = (ids & breastfed) or ids
        if label == "young adult":
            ids = (ids - pregnant) or ids
        ranked = sorted(ids, key=lambda pid: (-richness[pid], pid))
        if ranked:
            chosen.append(int(ranked[0]))
    return chosen


def run_demo(output: Path, *, as_of: date | None, config: Config, echo=print) -> None:
    from monitor.rules.evaluation import EXPORT_COLUMNS, flag_rows
    from monitor.services.evaluation import evaluate_db
    from monitor.services.exports import due_list, export_overdue, write_patient_reports
    from monitor import store
    from monitor.services.importing import import_files

    from monitor.formats.files import private_folder

    output = private_folder(Path(output))
    db_path = output / "monitor.db"
    for suffix in ("", "-wal", "-shm"):
        p = Path(f"{db_path}{suffix}")
        if p.exists():
            p.unlink()
    files, end_on = demo_files(DEMO_DIR, output)
    as_of = as_of or end_on
    url = f"sqlite:///{db_path}"
    engine = store.make_engine(url)
    store.init_db(engine)
    report = import_files(engine, files, today=max(as_of, end_on), actor="demo",
                          risk_codes=config.schedule.risk_factor_codes)
    imported = ", ".join(f"{r.inserted} {r.kind}" for r in report.files)
    echo(f"Database: {db_path}  ({imported})")

    evaluation = evaluate_db(engine, as_of=as_of, config=config)
    sched = evaluation.schedule
    counts = sched["status"].value_counts()
    echo(f"Surveillance on {as_of.isoformat()} ({len(sched)} active patients): "
         + ", ".join(f"{s} {int(counts.get(s, 0))}" for s in ("not_due", "due_soon", "due", "overdue")))
    from dataclasses import replace
    from datetime import datetime, timezone

    from monitor.jobs.nightly import NIGHTLY, run_job

    demo_config = replace(config, jobs=replace(config.jobs, outbox=str(output / "outbox"), smtp_host=None))
    result = run_job(engine, NIGHTLY, slot_on=as_of, as_of=as_of, config=demo_config,
                     now_utc=datetime.now(timezone.utc), trigger="manual", actor="demo")
    echo(f"Nightly run: {result.counts.get('new', 0)} reminders to work; outbox: "
         + ", ".join(str(f) for f in result.files))
    # The lists are written after the nightly run, so they carry each patient's reminder state.
    due_path = output / "due.csv"
    rows = due_list(engine, evaluation, config=config)
    from monitor.formats.files import write_private_frame

    write_private_frame(due_path, rows.assign(name=rows["name"].fillna(""))[EXPORT_COLUMNS])
    echo(f"Due list (every active patient): {due_path}")
    overdue_path = output / "overdue.csv"
    n = export_overdue(engine, overdue_path, evaluation=evaluation, by="demo", config=config)
    echo(f"Overdue-surveillance export ({n} due or overdue): {overdue_path}")
    flags = evaluation.flags
    if len(flags):
        from monitor.rules.flag_frames import severity_rank

        by_code = flags.groupby(["severity", "code"])["patient_id"].nunique().reset_index(name="patients")
        by_code = by_code.assign(rank=-severity_rank(by_code["severity"])).sort_values(["rank", "code"])
        echo(f"Flags: {len(flags)} on {flags['patient_id'].nunique()} patients (code: patients)")
        for row in by_code.itertuples():
            echo(f"  {row.severity:6} {row.code:36} {row.patients}")
        urgent = flag_rows(evaluation.flags, evaluation.cohort.patients, min_severity="urgent")
        if len(urgent):
            echo("Patients with urgent flags:")
            for mrn, group in urgent.groupby("mrn", sort=True):
                echo(f"  {mrn}: {', '.join(sorted(set(group['code'])))}")
        echo(f"Details: monitor --db {url} flags --severity warn --as-of {as_of.isoformat()}")


    from monitor.reports.clinic import write_clinic_report

    reports = output / "reports"
    ids = showcase_patients(evaluation)
    written = write_patient_reports(engine, evaluation, ids, reports, fmt="pdf", config=config, by="demo")
    written += write_patient_reports(engine, evaluation, ids, reports, fmt="png", config=config, by="demo")
    from monitor.reports.clinic import LIST_LIMIT
    from monitor.reports.clinic_summary import summarise
    from monitor.services.reminders import reminder_summary

    summary = summarise(evaluation, config, reminder_summary(engine, evaluation, config=config), limit=LIST_LIMIT)
    clinic = write_clinic_report(summary, reports / f"clinic-report-{as_of.isoformat()}.pdf", config=config)
    echo(f"Reports: {clinic} and {len(written)} patient files in {reports} "
         f"({', '.join(label for label, _ in SHOWCASES)})")
    echo(f"Try: monitor --db {url} due --status overdue --as-of {as_of.isoformat()}")
    _demo_account(engine, url, as_of, echo)


def _demo_account(engine, url: str, as_of: date, echo) -> None:
    """A clinician account `demo` in the demo database only, its random password printed once."""
    from datetime import datetime, timezone

    from monitor.services.accounts import add_account, new_password

    password = new_password()
    add_account(engine, "demo", role="clinician", password=password, actor="demo", now=datetime.now(timezone.utc))
    echo(f"In a browser: monitor --db {url} serve --as-of {as_of.isoformat()}  then open http://127.0.0.1:8000/")
    echo(f"  and sign in as demo with the password {password} (shown once; this demo database only)")
