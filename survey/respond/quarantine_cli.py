"""`flask --app wsgi quarantine …`: review responses set aside from the figures from the command line.

Responses held automatically (e.g. over a QR poster's hourly ceiling, docs/security.md §2) wait here for a
decision as well as on the Integrity page: `list` shows them by service point, month and reason; `release`
counts them again, `exclude` excludes them after review, `hold` sets counted ones aside.  Every decision
needs a reason and is audited (actor "cli"); nothing is deleted.  `list --status late` shows the responses
received after their period was published (docs/integrity.md): they enter the figures only with a revision
Home Affairs issues, so no decision here counts them (a release leaves them late).
"""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from survey.extensions import db
from survey.org.models import ServicePoint
from survey.respond import quarantine as q
from survey.respond.models import Response

quarantine_cli = AppGroup("quarantine", help="Responses set aside from the figures: list, release, exclude, hold.")


@quarantine_cli.command("list")
@click.option("--status", type=click.Choice((*q.STATUSES, q.LATE)), default=q.HELD, show_default=True,
              help="held (awaiting review), excluded (after review) or late (received after publication)")
def list_cmd(status: str) -> None:
    """Responses with STATUS per service point, month and reason."""
    rows = db.session.execute(
        select(ServicePoint.code, Response.period, Response.review_reason, func.count(), func.min(Response.id),
               func.max(Response.id))
        .join(ServicePoint, ServicePoint.id == Response.service_point_id)
        .where(Response.review_status == status)
        .group_by(ServicePoint.code, Response.period, Response.review_reason)
        .order_by(ServicePoint.code, Response.period)).all()
    if not rows:
        click.echo(f"no {status} responses")
        return
    if status == q.LATE:
        click.echo("received after their period was published: counted only when Home Affairs issues a revision")
    for code, period, reason, n, lo, hi in rows:
        click.echo(f"{code}\t{period:%Y-%m}\t{n}\tids {lo}-{hi}\t{reason or ''}")


def _targets(ids: tuple[int, ...], service_point: str | None, status: str | None) -> list[int]:
    stmt = select(Response.id)
    if ids:
        stmt = stmt.where(Response.id.in_(ids))
    if service_point:
        sp = db.session.scalar(select(ServicePoint).where(ServicePoint.code == service_point))
        if sp is None:
            raise click.BadParameter(f"unknown service point {service_point!r}", param_hint="--service-point")
        stmt = stmt.where(Response.service_point_id == sp.id)
    if status:
        stmt = stmt.where(Response.review_status == status)
    if not (ids or service_point):
        raise click.UsageError("name response ids or --service-point")
    found = list(db.session.scalars(stmt))
    if ids and len(found) != len(set(ids)):
        raise click.BadParameter(f"unknown response ids: {sorted(set(ids) - set(found))}")
    return found


def _decide(action: str, ids: tuple[int, ...], service_point: str | None, status: str | None, reason: str) -> None:
    targets = _targets(ids, service_point, status)
    try:
        changed = getattr(q, action)(db.session, targets, reason)
    except q.QuarantineError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{action}: {changed} of {len(targets)} responses changed")


def _decision(action: str, help_text: str) -> click.Command:
    @quarantine_cli.command(action, help=help_text)
    @click.argument("ids", nargs=-1, type=int)
    @click.option("--service-point", help="every response of this service point (with --status: only those)")
    @click.option("--status", type=click.Choice(q.STATUSES), help="only responses with this status")
    @click.option("--reason", required=True, help="why (kept in the audit log)")
    def command(ids: tuple[int, ...], service_point: str | None, status: str | None, reason: str) -> None:
        _decide(action, ids, service_point, status, reason)

    return command


release_cmd = _decision("release", "Count responses again.")
exclude_cmd = _decision("exclude", "Exclude responses after review.")
hold_cmd = _decision("hold", "Set responses aside until reviewed.")
