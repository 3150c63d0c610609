"""`flask --app wsgi demo`: load the Cần Thơ demo city (tree, users, 24 months of synthetic responses)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from sqlalchemy.orm import Session

from survey.cli_support import command_writes
from survey.extensions import db


@click.command("demo")
@click.option("--responses", type=click.IntRange(min=0), default=20000, show_default=True,
              help="Number of synthetic responses.")
@click.option("--structure", type=click.Choice(["2022", "2025"]), default="2022", show_default=True,
              help="2022: city → districts → communes; 2025: city → communes (two tiers).")
@click.option("--seed", type=int, default=2022, show_default=True,
              help="Random seed; the true values in docs/demo-truth-*.csv are for the default seed.")
@click.option("--if-empty", is_flag=True, help="Do nothing (successfully) when the database already has units.")
@click.option("--print-logins", is_flag=True, help="Only print the demo accounts' user names and passwords.")
@click.option("--inject-gaming", is_flag=True,
              help="Also add documented stuffing episodes in the last month (survey/demo/gaming.py) and run the "
                   "integrity scan over that month, so the Integrity page lists them.")
def demo_cli(responses: int, structure: str, seed: int, if_empty: bool, print_logins: bool,
             inject_gaming: bool) -> None:
    """Load the Cần Thơ demo city into an empty database (docs/demo-model.md describes the data)."""
    from survey.demo.load import has_units, load_demo
    from survey.demo.users import login_lines

    session = db.session
    if print_logins:
        lines = login_lines(session)
        if not lines:
            click.echo("no demo accounts in this database (run `flask --app wsgi demo` first)", err=True)
            sys.exit(1)
        click.echo("Demo logins (sign in at /auth/login; change or delete these accounts before real use):")
        for line in lines:
            click.echo(line)
        return
    if current_app.config.get("HAILONG_PRODUCTION"):
        click.echo("error: refusing to load demo data with published passwords in production", err=True)
        sys.exit(1)
    if has_units(session):
        if if_empty:
            click.echo("the database already has an administrative tree; demo not loaded")
            return
        click.echo("error: the database already has an administrative tree; load the demo into an empty "
                   "database (or use --if-empty to skip)", err=True)
        sys.exit(1)
    with command_writes():
        summary = load_demo(session, structure, responses, seed, progress=click.echo)
    click.echo(f"loaded Cần Thơ {summary.structure}: {summary.units} units, {summary.service_points} service points, "
               f"{summary.responses} responses ({summary.answers} answers) in {summary.seconds:.1f} s")
    if inject_gaming:
        _inject(session, structure, seed)


def _inject(session: Session, structure: str, seed: int) -> None:
    """Stuffing episodes on top of the honest demo, then the integrity scan of that month."""
    from datetime import timedelta

    from survey.demo.cantho import structure as get_structure
    from survey.demo.gaming import inject_into_database, working_days
    from survey.results.integrity import run_scan

    episodes = inject_into_database(session, structure, seed)
    month = get_structure(structure).months[-1]
    following = month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)
    flagged = run_scan(session, working_days(month, following - timedelta(days=1)))
    session.commit()
    for ep in episodes:
        click.echo(f"injected {ep.pattern}: {ep.size} responses at {ep.service_point} on {ep.day.isoformat()}")
    click.echo(f"integrity scan of {month:%Y-%m}: {flagged} flagged service point-day(s); see /homeaffairs/integrity/")
