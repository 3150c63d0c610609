"""The staff navigation menu as data: each domain adds its entries (one line each), the base template shows
those the current user's role may use."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from survey.auth import roles


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # a lazy string
    roles: tuple[str, ...]


ALL_STAFF = roles.STAFF

NAV: list[NavItem] = [
    # dashboards, admin etc. append here, e.g. NavItem("dashboard.index", _l("Dashboard"), ALL_STAFF)
    NavItem("dashboard.index", _l("Agency dashboards"), ALL_STAFF),
    NavItem("homeaffairs.index", _l("Compare units"), roles.COMPARES_UNITS),
    NavItem("report.period", _l("Period report"), roles.COMPARES_UNITS),
    NavItem("integrity.index", _l("Integrity"), roles.REVIEWS_INTEGRITY),
    NavItem("admin.index", _l("Administration"), roles.READS_ADMINISTRATION),
]


def visible_nav() -> list[tuple[str, str]]:
    if not current_user or not current_user.is_authenticated:
        return []
    out = []
    for item in NAV:
        if current_user.role in item.roles:
            try:
                out.append((url_for(item.endpoint), str(item.label)))
            except Exception:
                continue
    return out


def init_app(app: Flask) -> None:
    app.jinja_env.globals["visible_nav"] = visible_nav

