"""What the agency pages and the comment pages share: the blueprint, the staff roles, month parameters, the
scoped agency look-up and the export switch.  Kept apart so that neither page module imports the other.

The blueprint also installs, app-wide, the page every staff page shows for a URL parameter it cannot use
(survey/dashboard/params.py: Home Affairs, the report and the topics page raise the same refusal)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort
from flask_login import current_user
from sqlalchemy import select

from survey.auth import roles
from survey.auth.scope import can_see_agency
from survey.dashboard import params
from survey.extensions import db
from survey.org.models import Agency

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
bp.app_errorhandler(params.BadParameter)(params.refusal_page)

STAFF = roles.STAFF


def month_text(d: date | None) -> str | None:
    """A month as the `from`/`to` query parameters write it (`2022-07`)."""
    return None if d is None else f"{d.year}-{d.month:02d}"


def agency_or_404(code: str) -> Agency:
    """An agency the current user may see; any other code is 404, like one that does not exist."""
    agency = db.session.scalar(select(Agency).where(Agency.code == code))
    if agency is None or not can_see_agency(current_user, agency.id):
        abort(404)
    return agency


def wants_export() -> str | None:
    """`?format=csv|xlsx` → that format; no parameter → None (the page); anything else is a 400 page (never a
    file of another kind)."""
    return params.choice("format", ("csv", "xlsx")) or None
