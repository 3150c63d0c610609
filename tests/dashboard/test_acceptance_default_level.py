"""A unit manager opening the Home Affairs comparison sees figures: the default level is one whose units
have responses in the manager's scope, not a level below which nothing was answered (an empty table)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.dashboard.displaykit import add_responses
from tests.dashboard.hakit import login, use_language
from tests.factories import small_city
from tests.results.factories import DEFAULT_NOW, fix_clock


@pytest.fixture
def city(app, db_session):
    app.config.update(HAILONG_BOOTSTRAP_B=20, HAILONG_N_MIN=30)
    fix_clock(app, DEFAULT_NOW)  # responses two hours old: in the quarter in progress whatever the day
    city = small_city(db_session)
    qv = city.questionnaires["counter-quick"]
    when = DEFAULT_NOW - timedelta(hours=2)
    for code in ("UBND-NK-SP1", "UBND-BT-SP1", "STP-SP1"):  # district and city agencies only: no commune data
        add_responses(db_session, qv.id, city.service_points[code].id, 40, when)
    return city, qv.id, when


def _selected_level(html: str) -> str:
    form = html[html.index('id="f-level"'):]
    return re.search(r'<option value="([^"]+)" selected>', form[:form.index("</select>")]).group(1)


def _unit_rows(html: str) -> list[str]:
    return re.findall(r'data-code="([^"]+)"', html)


def test_manager_without_commune_data_sees_its_agencies(client, city):
    login(client, "ninhkieu")
    use_language(client, "en")
    html = client.get("/homeaffairs/").get_data(as_text=True)
    assert _selected_level(html) == "agency"
    assert _unit_rows(html) == ["UBND-NK"]
    assert "Ninh Kieu People&#39;s Committee" in html
    # the commune level stays available, and is chosen when it has figures
    assert '<option value="commune">' in html


def test_manager_sees_communes_when_they_have_responses(client, db_session, city):
    data, qv_id, when = city
    add_responses(db_session, qv_id, data.service_points["UBND-NK-TA-SP1"].id, 35, when, seed=2)
    login(client, "ninhkieu")
    html = client.get("/homeaffairs/").get_data(as_text=True)
    assert _selected_level(html) == "commune"
    assert _unit_rows(html) == ["NK-TA"]


def test_home_affairs_default_stays_the_first_level_with_data(client, city):
    login(client, "noivu")
    html = client.get("/homeaffairs/").get_data(as_text=True)
    assert _selected_level(html) == "district"
    assert sorted(_unit_rows(html)) == ["BT", "NK"]
