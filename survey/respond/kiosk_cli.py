"""`flask --app wsgi kiosks …`: register a kiosk and get its one-time code, reissue, revoke, list."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from survey.cli_support import command_writes
from survey.extensions import db
from survey.i18n import local_datetime
from survey.org import kiosk_service as ks
from survey.org.models import Kiosk

kiosks_cli = AppGroup("kiosks", help="Kiosks at service points: enrolment codes, revocation, health.")


def _refusal(exc: BaseException) -> list[str]:
    assert isinstance(exc, ks.KioskError)
    which = f" ({exc.params['code']})" if "code" in exc.params else ""
    return [f"error: {exc}{which}"]


def _print_code(enrolment: ks.Enrolment) -> None:
    k = enrolment.kiosk
    click.echo(f"kiosk {k.code} ({k.name}) at service point {k.service_point.code}")
    click.echo(f"enrolment code: {enrolment.code}")
    click.echo(f"valid until {local_datetime(enrolment.expires_at)} (Asia/Ho_Chi_Minh), usable once.")
    click.echo("On the kiosk, open /kiosk/enrol and type the code.")


@kiosks_cli.command("enrol")
@click.option("--service-point", "service_point", required=True, help="Service point code.")
@click.option("--name", default=None, help="A name staff recognise, e.g. 'Tablet at counter 2'.")
@click.option("--hours", default=24, show_default=True, type=click.IntRange(1, 24 * 14),
              help="How long the enrolment code stays valid.")
def kiosks_enrol(service_point: str, name: str | None, hours: int) -> None:
    """Register a kiosk at a service point and print its one-time enrolment code."""
    from datetime import timedelta

    with command_writes(ks.KioskError, report=_refusal) as session:
        enrolment = ks.register_kiosk(session, service_point, name, ttl=timedelta(hours=hours))
    _print_code(enrolment)


@kiosks_cli.command("reissue")
@click.argument("code")
@click.option("--hours", default=24, show_default=True, type=click.IntRange(1, 24 * 14))
def kiosks_reissue(code: str, hours: int) -> None:
    """Print a new enrolment code for kiosk CODE (e.g. its tablet was replaced or reset)."""
    from datetime import timedelta

    with command_writes(ks.KioskError, report=_refusal) as session:
        enrolment = ks.reissue_code(session, code, ttl=timedelta(hours=hours))
    _print_code(enrolment)


@kiosks_cli.command("revoke")
@click.argument("code")
def kiosks_revoke(code: str) -> None:
    """Revoke kiosk CODE: its device credential stops working immediately."""
    with command_writes(ks.KioskError, report=_refusal) as session:
        kiosk = ks.revoke_kiosk(session, code)
    click.echo(f"kiosk {kiosk.code} revoked")


@kiosks_cli.command("list")
@click.option("--stale", is_flag=True, help="Only enrolled kiosks not seen for an hour.")
def kiosks_list(stale: bool) -> None:
    """List kiosks with their status, last contact, queued responses and software version."""
    rows = ks.list_kiosks(db.session, stale_only=stale)
    if not rows:
        click.echo("no stale kiosks" if stale else "no kiosks")
        return
    click.echo(f"{'code':<20} {'service point':<16} {'status':<9} {'last seen':<17} {'queue':>5}  "
               f"{'failing':<11} version  name")
    for k in rows:
        seen = local_datetime(k.last_seen_at) if k.last_seen_at else "never"
        click.echo(f"{k.code:<20} {k.service_point.code:<16} {ks.status(k):<9} {seen:<17} {k.queue_length:>5}  "
                   f"{failing_text(k):<11} {k.software_version or '-':<8} {k.name}")


def failing_text(kiosk: Kiosk) -> str:
    """`-`, or how many queued responses the server keeps refusing and the latest status, e.g. `2 (HTTP 500)`."""
    if not kiosk.failing_items:
        return "-"
    status = f" (HTTP {kiosk.last_failure_status})" if kiosk.last_failure_status else ""
    return f"{kiosk.failing_items}{status}"
