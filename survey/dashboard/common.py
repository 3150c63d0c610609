"""What the agency pages and the comment pages share: the blueprint, the staff roles, month parameters, the
scoped agency look-up and the export switch.  Kept apart so that neither page module imports the other."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, request
from flask_login import current_user
from sqlalchemy import select

from survey.auth import roles
from survey.auth.scope import can_see_agency
from survey.extensions import db
from survey.org.models import Agency

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

STAFF = roles.STAFF


def month_text(d: date | None) -> str | None:
    """A month as the `from`/`to` query parameters write it (`2022-07`)."""
    return None if d is None else f"{d.year}-{d.month:02d}"


def parse_month(raw: str | None) -> date | None:
    """`2022-07` → 1 July 2022; anything else (hostile input included) → None, i.e. the default period."""
    try:
        y, m = (raw or "").split("-")[:2]
        return date(int(y), int(m), 1)
    except ValueError:
        return None


def agency_or_404(code: str) -> Agency:
    """An agency the current user may see; any other code is 404, like one that does not exist."""
    agency = db.session.scalar(select(Agency).where(Agency.code == code))
    if agency is None or not can_see_agency(current_user, agency.id):
        abort(404)
    return agency


def wants_export() -> str | None:
    """`?format=csv|xlsx` → that format; no parameter → None (the page); anything else is 404."""
    fmt = request.args.get("format")
    if fmt is None:
        return None
    if fmt not in ("csv", "xlsx"):
        abort(404)
    return fmt
