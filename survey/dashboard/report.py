"""The period report (placeholder until the full report lands)."""

from __future__ import annotations

from flask import Blueprint

from survey.auth.scope import roles_required

bp = Blueprint("report", __name__, url_prefix="/homeaffairs/report")


@bp.route("/")
@roles_required("unit_manager", "home_affairs", "admin")
def period() -> str:
    return ""
