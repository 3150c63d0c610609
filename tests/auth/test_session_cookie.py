"""The session cookie is sent back only when the session changed, so a late answer to an earlier request
cannot put back an older session (it did: a favicon request answered after the login page removed the
login form's CSRF token and the login failed with "Yêu cầu không hợp lệ" — seen in a browser test in CI)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from werkzeug.http import parse_cookie

from survey import guard
from tests.dashboard.helpers import forget_user, get, page_token
from tests.factories import PASSWORD, small_city


@pytest.fixture
def city(db_session):
    return small_city(db_session)


def _session_sent(resp) -> str | None:
    """The session cookie a response asks the browser to store, if any."""
    for header in resp.headers.getlist("Set-Cookie"):
        if header.startswith("session="):
            return parse_cookie(header.split(";", 1)[0])["session"]
    return None


def test_a_late_answer_to_an_earlier_request_does_not_undo_the_login_form(app, city):
    browser = app.test_client()
    browser.get("/lang/vi")
    get(browser, "/")
    before_login_page = browser.get_cookie("session").value
    token = page_token(browser, "/auth/login")
    # the home page's favicon request, sent with the cookie of that time, is answered after the login page
    late = app.test_client()
    late.set_cookie("session", before_login_page)
    forget_user()
    stored = _session_sent(late.get("/favicon.ico"))
    if stored is not None:  # the browser applies whatever the late answer says
        browser.set_cookie("session", stored)
    forget_user()
    resp = browser.post("/auth/login", data={"username": "noivu", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]


def test_unchanged_pages_send_no_cookie_and_changes_do(app, city):
    browser = app.test_client()
    assert _session_sent(browser.get("/lang/vi")) is not None  # the language is remembered
    assert _session_sent(get(browser, "/")) is None
    assert _session_sent(get(browser, "/auth/login")) is not None  # the form's CSRF token is new
    assert _session_sent(get(browser, "/auth/login")) is None
    assert _session_sent(get(browser, "/lang/en")) is not None


def test_a_signed_in_session_still_slides_its_expiry(app, city, monkeypatch: pytest.MonkeyPatch):
    browser: FlaskClient = app.test_client()
    token = page_token(browser, "/auth/login")
    assert browser.post("/auth/login", data={"username": "noivu", "password": PASSWORD,
                                             "csrf_token": token}).status_code == 302
    get(browser, "/dashboard/")
    assert _session_sent(get(browser, "/dashboard/")) is None  # just signed: nothing to refresh
    monkeypatch.setattr(guard._SessionCookies, "REFRESH_AFTER", timedelta(0))
    refreshed = _session_sent(get(browser, "/dashboard/"))
    assert refreshed is not None
    browser.set_cookie("session", refreshed)
    assert get(browser, "/dashboard/").status_code == 200  # the refreshed cookie still signs in
