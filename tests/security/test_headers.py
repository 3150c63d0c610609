"""Issue 11 §6 (headers): a strict CSP without inline script, no Referer (tokens travel in URLs), nosniff,
no framing, HSTS and Secure cookies in production, and no-store on staff pages and every download."""

from __future__ import annotations

import re

import pytest
from flask import g

from survey import create_app
from tests.dashboard.hakit import login
from tests.factories import PASSWORD, small_city

PUBLIC = ["/", "/auth/login", "/s/STP-SP1", "/s/STP-SP1/poster", "/kiosk/enrol", "/r/unknown-token-0123456789"]
STAFF = ["/dashboard/", "/dashboard/agency/STP", "/dashboard/agency/STP/comments", "/homeaffairs/",
         "/admin/", "/admin/tree", "/admin/users", "/admin/paper", "/admin/tree/import"]
DOWNLOADS = ["/dashboard/?format=csv", "/dashboard/agency/STP/comments?format=xlsx", "/admin/tree/export.csv",
             "/admin/tree/export.yaml"]


@pytest.fixture
def city(db_session):
    city = small_city(db_session)
    city.service_points["STP-SP1"].link_instrument = "counter-quick"
    db_session.commit()
    return city


def _csp(resp) -> dict[str, str]:
    return {part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2]
            for part in resp.headers["Content-Security-Policy"].split(";") if part.strip()}


def _no_inline_code(html: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script> (CSP would block it)"
    assert not re.search(r"<[^>]+\sstyle=", html), "inline style attribute"
    assert not re.search(r"<[^>]+\son[a-z]+=", html), "inline event handler"


def test_every_page_has_the_headers_and_no_inline_code(client, city):
    pages = {url: client.get(url) for url in PUBLIC}
    login(client, "admin")
    pages.update({url: client.get(url) for url in STAFF})
    for url, resp in pages.items():
        assert resp.status_code in (200, 403, 404), (url, resp.status_code)
        csp = _csp(resp)
        assert csp["script-src"] == "'self'" and "unsafe" not in resp.headers["Content-Security-Policy"], url
        assert csp["default-src"] == "'self'" and csp["style-src"] == "'self'", url
        assert csp["frame-ancestors"] == "'none'" and resp.headers["X-Frame-Options"] == "DENY", url
        assert resp.headers["Referrer-Policy"] == "no-referrer", url
        assert resp.headers["X-Content-Type-Options"] == "nosniff", url
        assert "Strict-Transport-Security" not in resp.headers  # not in development
        if resp.mimetype == "text/html":
            _no_inline_code(resp.get_data(as_text=True))


def test_staff_pages_and_downloads_are_not_stored(client, city):
    public = client.get("/s/STP-SP1")
    assert "no-store" not in public.headers.get("Cache-Control", "")  # the citizen's form may be cached
    assert "no-store" in client.get("/auth/login").headers["Cache-Control"]
    login(client, "admin")
    for url in STAFF + DOWNLOADS:
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert resp.headers["Cache-Control"] == "no-store", url
    with client.get("/static/css/app.css") as static:
        assert "no-store" not in static.headers.get("Cache-Control", "")


@pytest.fixture
def production(app, database_url):
    """The same database served as in production (HAILONG_PRODUCTION), over HTTPS."""
    prod = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "p" * 48,
                       "HAILONG_PRODUCTION": True, "SESSION_COOKIE_SECURE": True, "REMEMBER_COOKIE_SECURE": True,
                       "RATELIMIT_STORAGE_URI": "memory://"})
    prod.test_client_class = type(app.test_client())
    return prod.test_client()


def test_production_sends_hsts_and_every_cookie_is_secure(production, city):
    https = {"base_url": "https://localhost"}
    set_cookies: list[str] = []

    def get(url: str, **kw):
        resp = production.get(url, **https, **kw)
        set_cookies.extend(resp.headers.getlist("Set-Cookie"))
        return resp

    home = get("/")
    assert home.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    get("/lang/en")  # language cookie
    get("/text-size/large")  # text size cookie
    get("/s/STP-SP1")  # phone device cookie
    page = get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    g.pop("csrf_token", None)
    resp = production.post("/auth/login", data={"csrf_token": token.group(1), "username": "admin",
                                                 "password": PASSWORD, "remember": "y"}, **https)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]  # forms work without a Referer
    set_cookies.extend(resp.headers.getlist("Set-Cookie"))
    names = {c.split("=", 1)[0] for c in set_cookies}
    assert {"hl_lang", "hl_text", "hl_device", "session"} <= names
    for cookie in set_cookies:
        assert any(p.strip().lower() == "secure" for p in cookie.split(";")[1:]), cookie
