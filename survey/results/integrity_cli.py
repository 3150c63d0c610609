"""`flask --app wsgi integrity scan`: the periodic integrity scan (run it nightly, e.g. from cron)."""

from __future__ import annotations

from datetime import date, timedelta

import click
from flask.cli import AppGroup

from survey.extensions import db

integrity_cli = AppGroup("integrity", help="Integrity scan of responses (flags for Home Affairs' review).")


@integrity_cli.command("scan")
@click.option("--days", type=click.IntRange(1, 400), default=3, show_default=True,
              help="Working days to scan, ending with --until (late kiosk uploads are picked up on rescans).")
@click.option("--until", "until", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last local day to scan (default: yesterday).")
def scan_cli(days: int, until: object) -> None:
    """Scan recent days and store a flag for each service point × day that looks stuffed."""
    from survey.results.integrity import run_scan
    from survey.results.periods import now

    last = until.date() if until is not None else now().date() - timedelta(days=1)  # type: ignore[attr-defined]
    chosen: list[date] = []
    d = last
    while len(chosen) < days:
        if d.weekday() < 5 or days == 1:
            chosen.append(d)
        d -= timedelta(days=1)
    session = db.session
    count = run_scan(session, sorted(chosen))
    session.commit()
    click.echo(f"scanned {len(chosen)} day(s) from {min(chosen).isoformat()} to {max(chosen).isoformat()}: "
               f"{count} flagged service point-day(s)")


@integrity_cli.command("hours")
@click.argument("service_point")
@click.argument("hours", required=False, default="")
def hours_cli(service_point: str, hours: str) -> None:
    """Set a service point's opening hours, e.g. "Mon-Sat 07:30-11:30,13:30-17:00" (empty: office hours)."""
    from sqlalchemy import select

    from survey.org.models import ServicePoint
    from survey.results.integrity import set_opening_hours

    session = db.session
    sp = session.scalar(select(ServicePoint).where(ServicePoint.code == service_point))
    if sp is None:
        raise click.UsageError(f"unknown service point {service_point!r}")
    try:
        set_opening_hours(session, sp, hours)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    session.commit()
    click.echo(f"{sp.code}: opening hours {sp.opening_hours or 'office hours (Mon-Fri 07:30-11:30,13:30-17:00)'}")
