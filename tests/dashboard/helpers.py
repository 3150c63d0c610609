"""Logging in through the real form (CSRF on) and reading pages in tests."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from tests.factories import PASSWORD

CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_token(html: str) -> str:
    m = CSRF.search(html) or re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html)
    if m is None:
        m = re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert m is not None, "no CSRF token in the page"
    return m.group(1)


def forget_user() -> None:
    """The test app context outlives requests; flask-login, flask-wtf and flask-babel cache in `g`."""
    from flask import g

    g.pop("_login_user", None)
    g.pop("csrf_token", None)
    g.pop("_flask_babel", None)  # the request's locale


def login(client: FlaskClient, username: str, password: str = PASSWORD, *, follow: bool = False):
    """The suite's one way to sign in through the login form (CSRF token included); returns the response."""
    forget_user()
    page = client.get("/auth/login")
    token = csrf_token(page.get_data(as_text=True))
    return client.post("/auth/login", data={"username": username, "password": password, "csrf_token": token},
                       follow_redirects=follow)


def signed_in(client: FlaskClient, username: str, password: str = PASSWORD) -> None:
    """`login`, and fail at once when the form refuses (a test then never runs as an anonymous user)."""
    resp = login(client, username, password)
    assert resp.status_code in (302, 303), resp.get_data(as_text=True)[:500]


def page_token(client: FlaskClient, url: str) -> str:
    """A fresh CSRF token for the client's current session (see forget_user)."""
    forget_user()
    return csrf_token(client.get(url).get_data(as_text=True))


def get(client: FlaskClient, url: str, **kw):
    """GET as a fresh request (nothing cached in `g` from the previous one)."""
    forget_user()
    return client.get(url, **kw)


def counted_pdf_store(app: Any, tmp_path: Any, monkeypatch: Any) -> list[int]:
    """The report PDF store in a temporary folder, the clock fixed (2 March 2026), and PDF layouts (renders)
    counted: the returned list gains one entry per render."""
    from datetime import UTC, datetime

    from survey.dashboard import report_pdf

    app.config.update(HAILONG_BOOTSTRAP_B=40, REPORT_PDF_DIR=str(tmp_path / "report-pdf"),
                      HAILONG_CLOCK=lambda: datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
    calls: list[int] = []
    real = report_pdf._render

    def counting(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(report_pdf, "_render", counting)
    return calls
