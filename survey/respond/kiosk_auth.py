"""Which kiosk is asking: the device credential from `Authorization: Kiosk …` or the kiosk's own cookie.

The enrolled browser keeps its credential only in an HttpOnly, SameSite=Strict cookie, so page scripts
(and anything injected into them) can never read it; other clients send the header.  A request that
relies on the cookie must be JSON, which a cross-site form cannot send without a CORS preflight we never
answer — so the cookie cannot be used for cross-site request forgery on the CSRF-exempt API.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from flask import current_app, request
from sqlalchemy import bindparam, select
from werkzeug.wrappers import Response

from survey.extensions import db
from survey.org.kiosk_service import authenticate, digest
from survey.org.models import Kiosk, ServicePoint

COOKIE = "hl_kiosk"
COOKIE_MAX_AGE = 5 * 365 * 24 * 3600


def presented_credential(*, allow_cookie: bool = True) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "kiosk" and value.strip():
        return value.strip()
    if allow_cookie:
        return request.cookies.get(COOKIE) or None
    return None


def current_kiosk(*, api: bool = False) -> Kiosk | None:
    """The authenticated kiosk for this request, or None.

    Memoised per request in the WSGI environ (not `g`, which outlives a request when an app context was
    already pushed, as in tests).
    """
    key = "hailong.kiosk.api" if api else "hailong.kiosk"
    if key not in request.environ:
        credential = presented_credential(allow_cookie=not api or request.is_json)
        request.environ[key] = authenticate(db.session, credential)
    return request.environ[key]


class KioskCaller(NamedTuple):
    """The enrolled kiosk behind an API call: what a submission needs, read in one Core round trip."""

    id: int
    service_point_id: int
    enrolled_at: datetime | None = None  # its FIRST enrolment (kiosk_service.redeem_code keeps it on a new code)


# The same rule as kiosk_service.authenticate (enrolled, not revoked, its service point active), as one
# statement built once: the submission path is the hot one, and an ORM load of the kiosk and its service
# point cost more than the round trip itself.
_CALLER = (select(Kiosk.id, Kiosk.service_point_id, Kiosk.enrolled_at)
           .join(ServicePoint, ServicePoint.id == Kiosk.service_point_id)
           .where(Kiosk.credential_hash == bindparam("digest"), Kiosk.revoked_at.is_(None), ServicePoint.active))


def api_caller() -> KioskCaller | None:
    """The kiosk calling the JSON API (header, or its cookie on a JSON request), or None; memoised per request."""
    key = "hailong.kiosk.caller"
    if key not in request.environ:
        credential = presented_credential(allow_cookie=request.is_json)
        row = (db.session.connection().execute(_CALLER, {"digest": digest(credential)}).first()
               if credential and len(credential) <= 200 else None)
        request.environ[key] = KioskCaller(*row) if row is not None else None
    return request.environ[key]


def set_credential_cookie(resp: Response, credential: str) -> None:
    resp.set_cookie(COOKIE, credential, max_age=COOKIE_MAX_AGE, httponly=True, samesite="Strict",
                    secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")), path="/")
