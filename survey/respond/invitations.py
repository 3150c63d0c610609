"""Single-use receipt tokens (invitations): create and revoke batches, check and claim a token, count usage.

A token is 192 random bits (`secrets.token_urlsafe(24)`) printed once, on paper; the database keeps only its
SHA-256, so neither a database dump nor an administrator can print it again or tie it to a citizen.  A token
is claimed by a conditional UPDATE (… WHERE used_at IS NULL) in the same transaction as the response, so two
phones racing with one receipt store one response.  The functions here are shared by the CLI and the admin
web pages; creating and revoking are written to the audit log in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from survey.audit import record
from survey.database import utcnow, write_retrying
from survey.errors import N_, DomainError, register
from survey.i18n import local_datetime
from survey.org.models import ServicePoint
from survey.respond.models import Invitation, InvitationBatch, Response
from survey.respond.store import Submission, SubmissionError, store_response

MAX_BATCH = 10_000
MAX_DAYS = 366

register({"invitation_service_point_inactive": N_("This service point is not active.")})


class InvitationError(DomainError):
    """A batch that cannot be made now (survey/errors.py); the ranges are programming errors (ValueError)."""


# Token states a citizen may meet; anything but "valid" gets an explanatory page.
VALID, UNKNOWN, USED, EXPIRED, REVOKED = "valid", "unknown", "used", "expired", "revoked"


def new_token() -> str:
    """192 random bits, URL-safe, never starting with "-": the invitation CSV neutralises cells that start
    with "-" (spreadsheet formula injection), which would change a printed token (1 token in 64)."""
    while True:
        token = secrets.token_urlsafe(24)
        if not token.startswith("-"):
            return token


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def invitation_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/r/{token}"


def service_point_link(base_url: str, code: str) -> str:
    """The multi-use poster link of a service point."""
    return f"{base_url.rstrip('/')}/s/{quote(code, safe='')}"


@dataclass(frozen=True)
class CreatedBatch:
    batch: InvitationBatch
    tokens: list[str]  # the only copy of the plain tokens: print them, then discard


def create_batch(session: Session, service_point: ServicePoint, count: int, expires_days: int, *,
                 instrument: str | None = None, created_by_id: int | None = None,
                 now: datetime | None = None) -> CreatedBatch:
    """Add a batch of `count` fresh tokens valid for `expires_days` days (flushed and audited, not committed)."""
    if not 1 <= count <= MAX_BATCH:
        raise ValueError(f"count must be between 1 and {MAX_BATCH}")
    if not 1 <= expires_days <= MAX_DAYS:
        raise ValueError(f"expiry must be between 1 and {MAX_DAYS} days")
    if not service_point.active:
        raise InvitationError("invitation_service_point_inactive", "service_point", code=service_point.code)
    now = now or utcnow()
    batch = InvitationBatch(service_point_id=service_point.id, instrument=instrument, size=count, created_at=now,
                            expires_at=now + timedelta(days=expires_days), created_by_id=created_by_id)
    session.add(batch)
    session.flush()
    tokens = [new_token() for _ in range(count)]
    # Stored in hash order, not print order, so row ids say nothing about a receipt's position on the sheet.
    session.add_all(Invitation(batch_id=batch.id, token_hash=h) for h in sorted(hash_token(t) for t in tokens))
    session.flush()
    record(session, "invitations.create", "invitation_batch", batch.id,
           after={"service_point": service_point.code, "size": count, "expires_at": batch.expires_at.isoformat(),
                  "instrument": instrument})
    return CreatedBatch(batch, tokens)


def revoke_batch(session: Session, batch: InvitationBatch, *, now: datetime | None = None) -> bool:
    """Revoke every unused token of the batch; False when it was already revoked (audited, not committed)."""
    if batch.revoked_at is not None:
        return False
    batch.revoked_at = now or utcnow()
    record(session, "invitations.revoke", "invitation_batch", batch.id, before={"revoked_at": None},
           after={"revoked_at": batch.revoked_at.isoformat()})
    session.flush()
    return True


@dataclass(frozen=True)
class BatchUsage:
    batch: InvitationBatch
    service_point_code: str
    size: int
    used: int

    @property
    def unused(self) -> int:
        return self.size - self.used

    def status(self, now: datetime | None = None) -> str:
        if self.batch.revoked_at is not None:
            return REVOKED
        return EXPIRED if (now or utcnow()) >= self.batch.expires_at else VALID


def usage_counts(session: Session, service_point_id: int | None = None) -> list[BatchUsage]:
    """Every batch (newest first) with how many of its tokens have been answered."""
    used = func.sum(case((Invitation.used_at.is_not(None), 1), else_=0))
    stmt = (select(InvitationBatch, ServicePoint.code, func.count(Invitation.id), used)
            .join(ServicePoint, ServicePoint.id == InvitationBatch.service_point_id)
            .outerjoin(Invitation, Invitation.batch_id == InvitationBatch.id)
            .group_by(InvitationBatch.id, ServicePoint.code)
            .order_by(InvitationBatch.created_at.desc(), InvitationBatch.id.desc()))
    if service_point_id is not None:
        stmt = stmt.where(InvitationBatch.service_point_id == service_point_id)
    return [BatchUsage(b, code, int(n), int(u or 0)) for b, code, n, u in session.execute(stmt)]


@dataclass(frozen=True)
class TokenCheck:
    status: str
    invitation: Invitation | None = None
    batch: InvitationBatch | None = None


def check_token(session: Session, token: str, *, now: datetime | None = None) -> TokenCheck:
    """What a token is worth right now: valid, unknown, used, expired or revoked."""
    if not token or len(token) > 128:
        return TokenCheck(UNKNOWN)
    invitation = session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    if invitation is None:
        return TokenCheck(UNKNOWN)
    batch = invitation.batch
    if invitation.used_at is not None:
        return TokenCheck(USED, invitation, batch)
    if batch.revoked_at is not None:
        return TokenCheck(REVOKED, invitation, batch)
    if (now or utcnow()) >= batch.expires_at:
        return TokenCheck(EXPIRED, invitation, batch)
    return TokenCheck(VALID, invitation, batch)


def claim(session: Session, invitation_id: int, *, now: datetime | None = None) -> bool:
    """Mark the invitation used unless someone already did; True when this transaction claimed it.

    Conditional UPDATE: under concurrency the second transaction waits for the first (PostgreSQL row lock,
    SQLite database lock) and then matches no row.  Commit or roll back together with the response.
    """
    result = session.execute(
        update(Invitation)
        .where(Invitation.id == invitation_id, Invitation.used_at.is_(None))
        .values(used_at=now or utcnow()))
    return result.rowcount == 1  # type: ignore[attr-defined]


def store_invited_response(session: Session, sub: Submission) -> tuple[Response | None, bool]:
    """Claim `sub.invitation_id` and store the response in one transaction, committed together.

    Returns (response, True) when stored, (None, False) when the token was used meanwhile, and the earlier
    response with False for a resubmitted client id.  Raises SubmissionError with nothing written (the
    token stays usable).  Ends the caller's open (read) transaction first, so that on SQLite the write
    starts a fresh transaction that waits for a concurrent writer instead of failing on a stale snapshot.
    """
    invitation_id = sub.invitation_id
    assert invitation_id is not None

    def claim_and_store() -> tuple[Response | None, bool]:
        if not claim(session, invitation_id):
            session.rollback()
            return None, False
        response, created = store_response(session, sub, commit=False)
        if created:
            session.commit()
        else:
            session.rollback()
        return response, created

    try:
        return write_retrying(session, claim_and_store)
    except SubmissionError:
        session.rollback()
        raise


# ---------------------------------------------------------------- CLI: flask --app wsgi invitations …

invitations_cli = AppGroup("invitations", help="Single-use receipt tokens (QR links) and service-point posters.")


def _service_point(session: Session, code: str) -> ServicePoint:
    sp = session.scalar(select(ServicePoint).where(ServicePoint.code == code))
    if sp is None:
        raise click.ClickException(f"no service point with code {code!r}")
    return sp


@invitations_cli.command("create")
@click.option("--service-point", "sp_code", required=True, help="Service point code.")
@click.option("--count", type=click.IntRange(1, MAX_BATCH), required=True, help="Number of tokens.")
@click.option("--expires", "days", type=click.IntRange(1, MAX_DAYS), required=True, help="Valid for DAYS days.")
@click.option("--instrument", default=None, help="Questionnaire id (default: the service point's link questionnaire).")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("invitations"),
              show_default=True)
def create_command(sp_code: str, count: int, days: int, instrument: str | None, output_dir: Path) -> None:
    """Create COUNT tokens; write a CSV of links and printable QR sheets (SVG pages + one HTML)."""
    from survey.extensions import db
    from survey.questionnaire_versions.service import latest_published
    from survey.respond.link_qr import write_batch_files

    session = db.session
    sp = _service_point(session, sp_code)
    wanted = instrument or sp.link_instrument
    if latest_published(session, wanted) is None:
        raise click.ClickException(f"questionnaire {wanted!r} has no published version; load it first")
    try:
        created = create_batch(session, sp, count, days, instrument=instrument)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    base = current_app.config["HAILONG_PUBLIC_URL"]
    files = write_batch_files(output_dir, batch_id=created.batch.id, service_point_code=sp.code,
                              service_point_name=sp.name_vi,
                              urls=[invitation_link(base, t) for t in created.tokens], tokens=created.tokens,
                              expires_at=created.batch.expires_at)
    session.commit()  # only after the files exist: no tokens in the database that nobody can print
    click.echo(f"batch {created.batch.id}: {count} token{'' if count == 1 else 's'} for {sp.code}, valid until "
               f"{local_datetime(created.batch.expires_at)} (Asia/Ho_Chi_Minh)")
    click.echo(f"links: {files.csv}")
    click.echo(f"print: {files.html} ({len(files.svgs)} page(s), also as SVG)")
    click.echo("The CSV holds the only copy of the tokens: delete it once the sheets are printed.")


@invitations_cli.command("list")
@click.option("--service-point", "sp_code", default=None)
def list_command(sp_code: str | None) -> None:
    """Batches with their size, answered count and status."""
    from survey.extensions import db

    sp_id = _service_point(db.session, sp_code).id if sp_code else None
    now = utcnow()
    for u in usage_counts(db.session, sp_id):
        click.echo(f"{u.batch.id}\t{u.service_point_code}\t{u.used}/{u.size} answered\t{u.status(now)}\t"
                   f"expires {u.batch.expires_at.isoformat(timespec='minutes')}")


@invitations_cli.command("revoke")
@click.argument("batch_id", type=int)
def revoke_command(batch_id: int) -> None:
    """Revoke a batch: its unused tokens then show a 'withdrawn' page."""
    from survey.extensions import db

    batch = db.session.get(InvitationBatch, batch_id)
    if batch is None:
        raise click.ClickException(f"no invitation batch {batch_id}")
    changed = revoke_batch(db.session, batch)
    db.session.commit()
    click.echo(f"batch {batch_id} revoked" if changed else f"batch {batch_id} was already revoked")


@invitations_cli.command("poster")
@click.option("--service-point", "sp_code", required=True)
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("invitations"),
              show_default=True)
def poster_command(sp_code: str, output_dir: Path) -> None:
    """Write the A4 QR poster (multi-use link /s/CODE) of a service point as SVG."""
    from survey.extensions import db
    from survey.respond.link_qr import poster_svg

    sp = _service_point(db.session, sp_code)
    url = service_point_link(current_app.config["HAILONG_PUBLIC_URL"], sp.code)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"poster-{sp.code}.svg"
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + poster_svg(url, sp.name_vi), encoding="utf-8")
    click.echo(f"poster: {path} ({url})")
