"""Where a member of staff starts after logging in: their own work, not the public unit tree."""

from __future__ import annotations

from flask import url_for

from survey.auth.models import User
from survey.auth.roles import Role


def landing_url(user: User) -> str:
    """Agency viewers: their agency's page; unit managers and Home Affairs: the comparison of the units
    they oversee (scoped); administrators: the administration page."""
    if user.role == Role.AGENCY_VIEWER and user.agency is not None:
        return url_for("dashboard.agency", code=user.agency.code)
    if user.role in (Role.UNIT_MANAGER, Role.HOME_AFFAIRS):
        return url_for("homeaffairs.index")
    if user.role == Role.ADMIN:
        return url_for("admin.index")
    return url_for("dashboard.index")
