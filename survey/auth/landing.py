"""Where a member of staff starts after logging in: their own work, not the public unit tree."""

from __future__ import annotations

from flask import url_for

from survey.auth.models import User


def landing_url(user: User) -> str:
    """Agency viewers: their agency's page; unit managers and Home Affairs: the comparison of the units
    they oversee (scoped); administrators: the administration page."""
    if user.role == "agency_viewer" and user.agency is not None:
        return url_for("dashboard.agency", code=user.agency.code)
    if user.role in ("unit_manager", "home_affairs"):
        return url_for("homeaffairs.index")
    if user.role == "admin":
        return url_for("admin.index")
    return url_for("dashboard.index")
