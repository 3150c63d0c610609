"""Helpers for the admin page tests: log in through the real form, post forms with a fresh CSRF token,
read audit events."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from survey.audit.models import AuditEvent
from tests.dashboard.helpers import csrf_token, forget_user, get, login  # noqa: F401


def post_form(client: FlaskClient, form_url: str, data: dict[str, Any], *, to: str | None = None,
              follow: bool = False, **kw: Any):
    """GET `form_url` (for its CSRF token), then POST `data` to `to` (default: the same URL)."""
    forget_user()
    page = client.get(form_url)
    assert page.status_code == 200, (form_url, page.status_code)
    token = csrf_token(page.get_data(as_text=True))
    forget_user()
    return client.post(to or form_url, data={**data, "csrf_token": token}, follow_redirects=follow, **kw)


def as_user(client: FlaskClient, username: str, lang: str = "en") -> FlaskClient:
    """Logged in as a factory user, with the page language chosen."""
    assert login(client, username).status_code == 302
    forget_user()
    client.get(f"/lang/{lang}")
    return client


def as_admin(client: FlaskClient, lang: str = "en") -> FlaskClient:
    return as_user(client, "admin", lang)


def events(session, action: str | None = None) -> list[AuditEvent]:
    session.expire_all()
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return list(session.scalars(stmt))


def text(resp) -> str:
    return resp.get_data(as_text=True)
