"""Sessions expire, login attempts are throttled, cookies carry secure flags in production."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from survey.config import Settings
from tests.dashboard.helpers import forget_user, login
from tests.factories import small_city


@pytest.fixture
def city(db_session):
    return small_city(db_session)


def test_session_expires_after_its_lifetime(app, client, city):
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=1)
    assert login(client, "noivu").status_code == 302
    forget_user()
    assert client.get("/dashboard/").status_code == 200
    time.sleep(2.2)
    forget_user()
    resp = client.get("/dashboard/")
    assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"]


def test_default_lifetime_is_bounded_and_cookie_is_not_forever(client, city):
    assert 0 < Settings().to_flask()["PERMANENT_SESSION_LIFETIME"] <= 12 * 3600
    resp = login(client, "noivu")
    cookie = resp.headers["Set-Cookie"]
    assert "Expires=" in cookie  # permanent session with the configured lifetime, not a browser-life cookie


def test_repeated_failures_are_throttled_from_that_address(client, city):
    """(Accounts are no longer locked: tests/auth/test_login_throttle.py shows others still get in.)"""
    for _ in range(5):
        resp = login(client, "noivu", "wrong password")
        assert resp.status_code == 200 and "/dashboard" not in resp.headers.get("Location", "")
    resp = login(client, "noivu")  # right password, but this client must wait a while
    assert resp.status_code == 429
    forget_user()
    assert client.get("/dashboard/").status_code == 302


def test_login_posts_are_rate_limited_per_username(client, city):
    codes = [login(client, "nobody-here", "x").status_code for _ in range(32)]
    assert codes[0] == 200 and codes[-1] == 429


def test_production_cookies_are_secure_httponly_samesite(app, client, city):
    flags = Settings(production=True, secret_key="s" * 32).to_flask()
    assert flags["SESSION_COOKIE_SECURE"] and flags["SESSION_COOKIE_HTTPONLY"]
    assert flags["SESSION_COOKIE_SAMESITE"] == "Lax" and flags["REMEMBER_COOKIE_SECURE"]
    app.config.update({k: v for k, v in flags.items() if k.startswith(("SESSION_COOKIE", "REMEMBER_COOKIE"))})
    resp = login(client, "noivu")
    cookie = resp.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert not Settings(production=False).to_flask()["SESSION_COOKIE_SECURE"]
