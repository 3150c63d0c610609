"""Kiosk life cycle: register, enrol a device with a one-time code, authenticate, heartbeat, revoke, list.

The CLI today and the administration pages later call these functions, so every rule lives here once.
Secrets are never stored: the enrolment code and the device credential are kept as SHA-256 digests (both
are random, so a plain digest is enough — nothing to salt against a dictionary), and the clear values are
shown exactly once.  Administrative actions are written to the audit log in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from survey.audit import record
from survey.database import utcnow
from survey.errors import N_, DomainError, register
from survey.org.models import Kiosk, ServicePoint

# Human-typeable: no 0/O, 1/I/L, 5/S, 8/B look-alikes; 8 characters ≈ 40 bits, shown as XXXX-XXXX.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY234679"
CODE_LENGTH = 8
ENROLMENT_TTL = timedelta(hours=24)
STALE_AFTER = timedelta(hours=1)


register({
    "unknown_service_point": N_("This service point does not exist."),
    "inactive_service_point": N_("This service point is retired: kiosks cannot be added to it."),
    "unknown_kiosk": N_("This kiosk does not exist."),
    "kiosk_revoked": N_("This kiosk is revoked; enrol a new kiosk instead."),
    "enrolment_unknown": N_("This code is not valid. Check it and try again."),
    "enrolment_used": N_("This code has already been used. Ask an administrator for a new one."),
    "enrolment_expired": N_("This code has expired. Ask an administrator for a new one."),
    "enrolment_revoked": N_("This kiosk has been revoked. Ask an administrator to register it again."),
    "enrolment_empty": N_("Type the enrolment code an administrator gave you (it looks like XXXX-XXXX)."),
})


class KioskError(DomainError):
    """A kiosk operation that cannot be done (survey/errors.py); `reason` is the code's older name."""

    @property
    def reason(self) -> str:
        return self.code


@dataclass(frozen=True)
class Enrolment:
    kiosk: Kiosk
    code: str  # the clear one-time code (only ever returned here)
    expires_at: datetime


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def normalise_code(raw: str) -> str:
    """What the person typed → canonical code: case, spaces and dashes do not matter."""
    return "".join(ch for ch in raw.upper() if ch.isalnum())


def format_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _next_kiosk_code(session: Session, sp: ServicePoint) -> str:
    prefix = sp.code[:24]
    taken = set(session.scalars(select(Kiosk.code).where(Kiosk.code.like(f"{prefix}-K%"))))
    n = 1
    while f"{prefix}-K{n}" in taken:
        n += 1
    return f"{prefix}-K{n}"


def _issue_code(kiosk: Kiosk, now: datetime, ttl: timedelta) -> Enrolment:
    code = _new_code()
    kiosk.enrolment_code_hash = digest(code)
    kiosk.enrolment_expires_at = now + ttl
    return Enrolment(kiosk, format_code(code), now + ttl)


def register_kiosk(session: Session, service_point_code: str, name: str | None = None, *,
                   ttl: timedelta = ENROLMENT_TTL) -> Enrolment:
    """A new kiosk at a service point and its one-time enrolment code.  Does not commit."""
    sp = session.scalar(select(ServicePoint).where(ServicePoint.code == service_point_code))
    if sp is None:
        raise KioskError("unknown_service_point", "service_point", code=service_point_code)
    if not sp.active:
        raise KioskError("inactive_service_point", "service_point", code=service_point_code)
    kiosk = Kiosk(code=_next_kiosk_code(session, sp), name=name or sp.name_vi, service_point_id=sp.id,
                  queue_length=0)
    session.add(kiosk)
    enrolment = _issue_code(kiosk, utcnow(), ttl)
    session.flush()
    record(session, "kiosk.registered", "kiosk", kiosk.code,
           after={"service_point": sp.code, "name": kiosk.name, "code_expires_at": enrolment.expires_at.isoformat()})
    return enrolment


def get_kiosk(session: Session, kiosk_code: str) -> Kiosk:
    kiosk = session.scalar(select(Kiosk).where(Kiosk.code == kiosk_code))
    if kiosk is None:
        raise KioskError("unknown_kiosk", code=kiosk_code)
    return kiosk


def reissue_code(session: Session, kiosk_code: str, *, ttl: timedelta = ENROLMENT_TTL) -> Enrolment:
    """A fresh enrolment code (e.g. the tablet was replaced); the old device keeps working until revoked."""
    kiosk = get_kiosk(session, kiosk_code)
    if kiosk.revoked_at is not None:
        raise KioskError("kiosk_revoked", code=kiosk_code)
    enrolment = _issue_code(kiosk, utcnow(), ttl)
    record(session, "kiosk.code_reissued", "kiosk", kiosk.code,
           after={"code_expires_at": enrolment.expires_at.isoformat()})
    return enrolment


def revoke_kiosk(session: Session, kiosk_code: str) -> Kiosk:
    """The device credential and any pending code stop working at once.  Does not commit."""
    kiosk = get_kiosk(session, kiosk_code)
    if kiosk.revoked_at is None:
        kiosk.revoked_at = utcnow()
        kiosk.enrolment_expires_at = None
        record(session, "kiosk.revoked", "kiosk", kiosk.code, after={"revoked_at": kiosk.revoked_at.isoformat()})
    return kiosk


def redeem_code(session: Session, raw_code: str) -> tuple[Kiosk, str]:
    """Exchange a one-time code for a new device credential (returned in clear once).  Does not commit.

    Raises KioskError `enrolment_unknown`, `_used`, `_expired` or `_revoked`.  A used code keeps its digest
    (with no expiry) so that a second attempt is told "already used" rather than "unknown".
    """
    code = normalise_code(raw_code)
    kiosk = session.scalar(select(Kiosk).where(Kiosk.enrolment_code_hash == digest(code))) if code else None
    now = utcnow()
    if kiosk is None:
        raise KioskError("enrolment_unknown", "code")
    if kiosk.revoked_at is not None:
        raise KioskError("enrolment_revoked", "code")
    if kiosk.enrolment_expires_at is None:
        raise KioskError("enrolment_used", "code")
    if kiosk.enrolment_expires_at <= now:
        raise KioskError("enrolment_expired", "code")
    credential = secrets.token_urlsafe(32)
    kiosk.credential_hash = digest(credential)
    kiosk.enrolment_expires_at = None
    # the FIRST enrolment stays (a new code for a replaced tablet keeps it): the API refuses a response stated
    # before it (survey/respond/api.py), so a new kiosk cannot backfill the month before it existed
    kiosk.enrolled_at = kiosk.enrolled_at or now
    kiosk.last_seen_at = now
    event = record(session, "kiosk.enrolled", "kiosk", kiosk.code, after={"enrolled_at": now.isoformat()})
    event.actor = "device"
    return kiosk, credential


def authenticate(session: Session, credential: str | None) -> Kiosk | None:
    """The enrolled, unrevoked kiosk holding `credential`, else None."""
    if not credential or len(credential) > 200:
        return None
    # the service point comes in the same query: every submission needs it (one round trip less)
    kiosk = session.scalar(select(Kiosk).options(joinedload(Kiosk.service_point))
                           .where(Kiosk.credential_hash == digest(credential)))
    if kiosk is None or kiosk.revoked_at is not None or not kiosk.service_point.active:
        return None
    return kiosk


def heartbeat(kiosk: Kiosk, queue_length: int, software_version: str | None,
              failing: tuple[int, int | None] | None = None) -> None:
    """Record a sign of life; `failing` = (queued items the server keeps refusing, latest failure status),
    None to leave the last report as it is."""
    kiosk.last_seen_at = utcnow()
    kiosk.queue_length = queue_length
    if software_version:
        kiosk.software_version = software_version[:64]
    if failing is not None:
        kiosk.failing_items, kiosk.last_failure_status = failing[0], failing[1] if failing[0] else None


def status(kiosk: Kiosk) -> str:
    """`revoked`, `enrolled` or `pending` (registered, waiting for its code to be entered)."""
    if kiosk.revoked_at is not None:
        return "revoked"
    return "enrolled" if kiosk.credential_hash else "pending"


def is_stale(kiosk: Kiosk, now: datetime | None = None) -> bool:
    """An enrolled kiosk not heard from for an hour (switched off, offline, or broken)."""
    now = now or utcnow()
    return status(kiosk) == "enrolled" and (kiosk.last_seen_at is None or kiosk.last_seen_at < now - STALE_AFTER)


def list_kiosks(session: Session, *, stale_only: bool = False, now: datetime | None = None) -> list[Kiosk]:
    kiosks = list(session.scalars(select(Kiosk).order_by(Kiosk.code)))
    return [k for k in kiosks if is_stale(k, now)] if stale_only else kiosks
