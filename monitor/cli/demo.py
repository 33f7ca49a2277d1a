"""`monitor synth` and `monitor demo`: a synthetic cohort, and every job run on it."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.context import (
    as_of_option,
    parse_date,
    pass_app,
    progress_factory,
)


@click.command()
@click.option("--patients", "n_patients", type=click.IntRange(1, 2_000_000), default=300, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--end", "end_on", metavar="YYYY-MM-DD", help="Last day of the synthetic history (default: today).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the CSV files (created if missing).")
@pass_app
def synth(app, n_patients, seed, end_on, output):
    """Write a synthetic TOH cohort as import CSVs of every kind (deterministic for a seed).

    \b
    Example:
      monitor synth --patients 10000 --seed 1 -o cohort
    """
    from monitor.demo.synth import generate, write_cohort

    end = parse_date(end_on, "--end") if end_on else app.as_of(None)
    output.mkdir(parents=True, exist_ok=True)
    frames = generate(n_patients, seed=seed, end_on=end, progress=progress_factory("Generating"))
    counts = write_cohort(frames, output)
    click.echo(f"Wrote {output}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@click.command()
@click.option("-o", "--output", default="demo-output", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Folder for the demo's database and files.")
@as_of_option
@pass_app
def demo(app, output, as_of):
    """Load the bundled synthetic cohort into a fresh database and run every job on it.

    The evaluation date defaults to the day the bundled cohort ends, so the demo reads the same
    whenever it is run.

    \b
    Example:
      monitor demo
      monitor --db sqlite:///demo-output/monitor.db due --status overdue --as-of 2026-11-20
    """
    from monitor.demo.run import run_demo

    run_demo(output, as_of=as_of, config=app.config, echo=click.echo)
