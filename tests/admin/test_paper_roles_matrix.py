"""Role × route matrix for the second half of the admin pages (questionnaires, service volumes, paper import):
anonymous users go to the login, only administrators may use them — Home Affairs may read the Decision 766
ratio page (read-only), nothing else."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.admin.adminkit import csrf_token, forget_user, get, login, text
from tests.factories import small_city

MODULES = {"survey.admin.questionnaires_views", "survey.admin.questionnaires_preview",
           "survey.admin.questionnaires_assign", "survey.admin.volumes_views", "survey.admin.paper_views"}
HOME_AFFAIRS_MAY_READ = {"admin.volumes"}
ARGS = {"lang": "vi"}


def routes(app: Flask, qv_id: int = 1) -> list[tuple[str, str, set[str]]]:
    """(endpoint, url, methods) of every route of these modules; ids point at questionnaire version `qv_id`."""
    out = []
    for rule in app.url_map.iter_rules():
        if app.view_functions[rule.endpoint].__module__ not in MODULES:
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = url.replace(f"<int:{arg}>", str(qv_id)).replace(f"<{arg}>", ARGS.get(arg, "1"))
        out.append((rule.endpoint, url, set(rule.methods or ()) & {"GET", "POST"}))
    return sorted(out)


def test_the_matrix_covers_every_page(app):
    endpoints = {e for e, _u, _m in routes(app)}
    assert {"admin.questionnaires", "admin.questionnaire_upload", "admin.questionnaire_publish",
            "admin.questionnaire_retire", "admin.questionnaire_assign", "admin.questionnaire_preview_kiosk",
            "admin.questionnaire_preview_phone", "admin.volumes", "admin.volumes_grid", "admin.volumes_import",
            "admin.volumes_import_commit", "admin.paper", "admin.paper_commit", "admin.paper_template"} <= endpoints


def test_anonymous_users_are_sent_to_the_login(client, db_session):
    small_city(db_session)
    for _endpoint, url, methods in routes(client.application):
        if "GET" in methods:
            resp = get(client, url)
            assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"], url


@pytest.mark.parametrize("username", ["tuphap", "ninhkieu", "noivu"])
def test_non_admins_get_403(client, db_session, username):
    small_city(db_session)
    login(client, username)
    forget_user()
    token = csrf_token(text(client.get("/")))
    for endpoint, url, methods in routes(client.application):
        readable = username == "noivu" and endpoint in HOME_AFFAIRS_MAY_READ
        if "GET" in methods:
            status = get(client, url).status_code
            assert (status == 200) if readable else (status == 403), (username, url, status)
        if "POST" in methods:
            forget_user()
            resp = client.post(url, data={"csrf_token": token, "confirm": "y", "scope": "agency", "agency": "1",
                                          "link_instrument": "sipas-2017"})
            assert resp.status_code == 403, (username, url, resp.status_code)


def test_admin_reaches_every_page(client, db_session):
    city = small_city(db_session)
    login(client, "admin")
    for _endpoint, url, methods in routes(client.application, city.questionnaires["sipas-2017"].id):
        if "GET" in methods:
            assert get(client, url).status_code in (200, 302), url


def test_home_affairs_sees_the_volumes_section_but_not_the_others(client, db_session):
    small_city(db_session)
    login(client, "noivu")
    page = text(get(client, "/admin/"))
    assert "/admin/volumes" in page
    assert "/admin/paper" not in page and "/admin/questionnaires" not in page
