"""Role × route matrix for the Home Affairs pages, exports and the period report, including guessed ids in
URLs and export parameters: agency viewers are refused everything, unit managers see only their subtree."""

from __future__ import annotations

import pytest

from tests.dashboard.hakit import login
from tests.results.factories import city_with_responses

MISSING = 999_999


@pytest.fixture
def city(app, db_session):
    app.config.update(HAILONG_BOOTSTRAP_B=20, HAILONG_N_MIN=5)
    return city_with_responses(db_session, per_point=12, comments=False).city


def _routes(city) -> dict[str, str]:
    u, a = city.units, city.agencies
    return {
        "index": "/homeaffairs/",
        "index-agency": "/homeaffairs/?level=agency",
        "unit-own": f"/homeaffairs/unit/{u['NK'].id}",
        "unit-own-child": f"/homeaffairs/unit/{u['NK-TA'].id}",
        "unit-other": f"/homeaffairs/unit/{u['BT'].id}",
        "unit-root": f"/homeaffairs/unit/{u['CT'].id}",
        "unit-missing": f"/homeaffairs/unit/{MISSING}",
        "agency-own": f"/homeaffairs/agency/{a['UBND-NK'].id}",
        "agency-other": f"/homeaffairs/agency/{a['UBND-BT'].id}",
        "agency-city": f"/homeaffairs/agency/{a['STP'].id}",
        "agency-missing": f"/homeaffairs/agency/{MISSING}",
        "csv": "/homeaffairs/export.csv?table=estimates&level=agency",
        "xlsx": "/homeaffairs/export.xlsx?level=agency",
        "csv-unit-own": f"/homeaffairs/export.csv?view=unit&unit_id={u['NK'].id}&table=estimates",
        "csv-unit-other": f"/homeaffairs/export.csv?view=unit&unit_id={u['BT'].id}&table=estimates",
        "xlsx-agency-other": f"/homeaffairs/export.xlsx?view=agency&agency_id={a['UBND-BT'].id}",
        "csv-agency-missing": f"/homeaffairs/export.csv?view=agency&agency_id={MISSING}&table=estimates",
        "report": "/homeaffairs/report/",
        "report-xlsx": "/homeaffairs/report/report.xlsx",
    }


EVERYTHING = {"unit-missing": 404, "agency-missing": 404, "csv-agency-missing": 404}
MANAGER = {"index": 200, "index-agency": 200, "unit-own": 200, "unit-own-child": 200, "agency-own": 200,
           "csv": 200, "xlsx": 200, "csv-unit-own": 200, "report": 200, "report-xlsx": 200}


@pytest.mark.parametrize("username", ["admin", "noivu", "ninhkieu", "tuphap", None])
def test_role_route_matrix(client, city, username):
    if username:
        login(client, username)
    for name, url in _routes(city).items():
        status = client.get(url).status_code
        if username is None:
            expected = 302  # to the login page
        elif username == "tuphap":
            expected = 403
        elif username == "ninhkieu":
            expected = MANAGER.get(name, 403)
        else:
            expected = EVERYTHING.get(name, 200)
        assert status == expected, (username, name, url, status)


def test_unit_manager_sees_only_its_subtree(client, city):
    login(client, "ninhkieu")
    outside = [city.agencies["UBND-BT"].name_vi, city.agencies["STP"].name_vi, city.units["BT"].name_vi]
    inside = city.agencies["UBND-NK"].name_vi
    for url in ("/homeaffairs/?level=agency", "/homeaffairs/?level=district", "/homeaffairs/?level=commune",
                "/homeaffairs/report/"):
        html = client.get(url).get_data(as_text=True)
        for name in outside:
            assert name not in html, (url, name)
    html = client.get("/homeaffairs/?level=agency").get_data(as_text=True)
    assert inside in html
    report = client.get("/homeaffairs/report/").get_data(as_text=True)
    assert f'<p class="lead report-scope">{city.units["NK"].name_vi}</p>' in report
    csv = client.get("/homeaffairs/export.csv?table=estimates&level=agency").get_data(as_text=True)
    assert inside in csv and not any(name in csv for name in outside)


def test_menu_shows_home_affairs_entries_only_to_allowed_roles(client, city):
    login(client, "tuphap")
    assert "/homeaffairs/" not in client.get("/").get_data(as_text=True)
    client.post("/auth/logout")
    client2 = client.application.test_client()
    login(client2, "noivu")
    html = client2.get("/").get_data(as_text=True)
    assert 'href="/homeaffairs/"' in html and 'href="/homeaffairs/report/"' in html


def test_commune_manager_never_sees_its_district_as_a_row_or_a_link(client, db_session, city):
    from survey.auth.models import User
    from survey.auth.passwords import hash_password
    from tests.factories import PASSWORD

    tan_an, nk = city.units["NK-TA"], city.units["NK"]
    db_session.add(User(username="tanan", display_name="tanan", password_hash=hash_password(PASSWORD),
                        role="unit_manager", unit_id=tan_an.id))
    db_session.commit()
    login(client, "tanan")
    for url in ("/homeaffairs/", "/homeaffairs/?level=district", f"/homeaffairs/unit/{tan_an.id}",
                "/homeaffairs/report/"):
        resp = client.get(url)
        assert resp.status_code == 200, url
        html = resp.get_data(as_text=True)
        assert f"/homeaffairs/unit/{nk.id}?" not in html and f'/homeaffairs/unit/{nk.id}"' not in html, url
        assert city.agencies["UBND-NK"].name_vi not in html, url
        assert f">{nk.name_vi}<" not in html, url
        assert 'value="district"' not in html, url
    assert client.get(f"/homeaffairs/unit/{nk.id}").status_code == 403
    assert city.agencies["UBND-NK-TA"].name_vi in client.get("/homeaffairs/").get_data(as_text=True)


def test_no_responses_yet_is_a_page_not_an_error(client, db_session):
    from tests.factories import small_city

    small_city(db_session)
    login(client, "noivu")
    for url in ("/homeaffairs/", "/homeaffairs/?level=agency", "/homeaffairs/report/"):
        resp = client.get(url)
        assert resp.status_code == 200 and "Chưa có phiếu nào cho lựa chọn này." in resp.get_data(as_text=True)
    for url in ("/homeaffairs/export.csv", "/homeaffairs/export.xlsx", "/homeaffairs/report/report.pdf",
                "/homeaffairs/report/report.xlsx"):
        assert client.get(url).status_code == 404, url


@pytest.mark.parametrize("query,status", [
    ("?period=garbage", 400), ("?measure=NOPE", 400), ("?questionnaire=424242", 404), ("?channel=fax", 400),
    ("?top_k=0", 400), ("?level=planet", 400), ("?period=2020-13", 400),
])
def test_odd_filter_values_are_refused_not_ignored(client, city, query, status):
    """Until December 2026 these fell back to the defaults without a word (tests/security/test_bad_parameters.py
    checks the message)."""
    login(client, "noivu")
    name = query[1:].partition("=")[0]
    for page in ("/homeaffairs/", "/homeaffairs/report/"):
        resp = client.get(page + query)
        assert resp.status_code == status, page
        assert f"{name}=" in resp.get_data(as_text=True), page


@pytest.mark.parametrize("url,status", [
    ("/homeaffairs/export.csv?table=nonsense", 404),
    ("/homeaffairs/export.csv?view=planet", 400),
    ("/homeaffairs/export.csv?view=unit", 400),
    ("/homeaffairs/export.csv?view=agency&agency_id=abc", 400),
    ("/homeaffairs/export.pdf", 404),
])
def test_bad_export_parameters_are_refused(client, city, url, status):
    login(client, "noivu")
    assert client.get(url).status_code == status
