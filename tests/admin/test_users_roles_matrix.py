"""Role × route matrix for the admin pages of this half of issue 6: anonymous users are sent to the login,
everyone but administrators gets 403 — except Home Affairs on the read-only pages."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.admin.adminkit import as_user, csrf_token, forget_user, get, login, text
from tests.factories import small_city

MODULES = {"survey.admin.views", "survey.admin.tree_views", "survey.admin.kiosk_views",
           "survey.admin.invitation_views", "survey.admin.user_views", "survey.admin.audit_views",
           "survey.admin.tree_merge_views"}
HOME_AFFAIRS_MAY_READ = {"admin.index", "admin.tree", "admin.tree_export", "admin.kiosks", "admin.audit"}
ARGS = {"fmt": "csv", "kind": "csv"}


def admin_routes(app: Flask) -> list[tuple[str, str, set[str]]]:
    out = []
    for rule in app.url_map.iter_rules():
        if app.view_functions[rule.endpoint].__module__ not in MODULES:
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = url.replace(f"<int:{arg}>", "1").replace(f"<{arg}>", ARGS.get(arg, "1"))
        out.append((rule.endpoint, url, set(rule.methods or ()) & {"GET", "POST"}))
    return sorted(out)


def test_the_matrix_covers_every_page(app):
    endpoints = {e for e, _u, _m in admin_routes(app)}
    assert len(endpoints) >= 30 and endpoints >= HOME_AFFAIRS_MAY_READ


def test_anonymous_users_are_sent_to_the_login(client, db_session):
    small_city(db_session)
    for _endpoint, url, methods in admin_routes(client.application):
        if "GET" in methods:
            resp = get(client, url)
            assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"], url


@pytest.mark.parametrize("username", ["tuphap", "ninhkieu", "noivu"])
def test_non_admins_get_403(client, db_session, username):
    small_city(db_session)
    login(client, username)
    forget_user()
    token = csrf_token(text(client.get("/")))
    for endpoint, url, methods in admin_routes(client.application):
        readable = username == "noivu" and endpoint in HOME_AFFAIRS_MAY_READ
        if "GET" in methods:
            status = get(client, url).status_code
            assert (status != 403) if readable else (status == 403), (username, url, status)
        if "POST" in methods:
            forget_user()
            resp = client.post(url, data={"csrf_token": token, "confirm": "y", "name": "x", "count": "1"})
            assert resp.status_code == 403, (username, url, resp.status_code)


def test_admin_reaches_every_page(client, db_session):
    small_city(db_session)
    login(client, "admin")
    for _endpoint, url, methods in admin_routes(client.application):
        if "GET" in methods:
            assert get(client, url).status_code in (200, 302, 404), url


def test_landing_page_and_menu_entry_by_role(app, client, db_session):
    small_city(db_session)
    as_user(client, "admin")
    html = text(get(client, "/admin/"))
    for href in ("/admin/tree", "/admin/kiosks", "/admin/invitations", "/admin/users", "/admin/audit"):
        assert f'href="{href}"' in html
    assert 'href="/admin/"' in html  # the staff menu entry
    ha = as_user(app.test_client(), "noivu")
    html = text(get(ha, "/admin/"))
    assert 'href="/admin/tree"' in html and 'href="/admin/audit"' in html and 'href="/admin/kiosks"' in html
    assert 'href="/admin/users"' not in html and 'href="/admin/invitations"' not in html
    assert "Home Affairs staff may view" in html
    tree = text(get(ha, "/admin/tree"))
    assert "only administrators can change it" in tree and "Rename/move" not in tree and "New unit" not in tree
    viewer = as_user(app.test_client(), "tuphap", lang="vi")
    assert 'href="/admin/"' not in text(get(viewer, "/"))
    vi_admin = as_user(app.test_client(), "admin", lang="vi")
    assert '<a href="/admin/">Quản trị</a>' in text(get(vi_admin, "/"))
