"""Home Affairs unit page (/homeaffairs/unit/<id>): the unit's early-warning chart — the agency page's chart over
the agencies of the unit's subtree, the one the Integrity page lists — with a sentence saying what it shows."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import pytest

from survey.results import cache
from survey.results.integrity import _city_charts, unit_chart
from tests.dashboard.helpers import get, login
from tests.factories import small_city
from tests.integrity.factories import TODAY, drops_at


@pytest.fixture()
def city(app, db_session):
    """Binh Thuy's committee drops from 85% to 60% satisfied over the last 30 working days; Ninh Kieu's holds."""
    app.config["HAILONG_CLOCK"] = lambda: datetime(TODAY.year, TODAY.month, TODAY.day, 3, tzinfo=UTC)
    cache.clear()
    city = small_city(db_session)
    drops_at(db_session, city, {"UBND-BT-SP1": True, "UBND-NK-SP1": False}, seed=13)
    yield city
    cache.clear()


def _section(html: str) -> str:
    match = re.search(r'<section class="charts early-warning".*?</section>', html, re.S)
    return match.group(0) if match else ""


def test_unit_page_draws_the_units_chart_and_says_what_it_shows(client, db_session, city) -> None:
    login(client, "noivu")
    dropped = _section(get(client, f"/homeaffairs/unit/{city.units['BT'].id}").get_data(as_text=True))
    steady = _section(get(client, f"/homeaffairs/unit/{city.units['NK'].id}").get_data(as_text=True))
    for part in (dropped, steady):  # the agency page's SVG and its data table; nothing inline (strict CSP)
        assert '<svg' in part and 'id="early-warning"' in part and 'id="early-warning-data"' in part
        assert "style=" not in part and "<script" not in part
    assert 'class="early-warning-signal" role="status"' in dropped
    assert "đã giảm xuống dưới mức thường lệ" in dropped  # the page's language (vi by default)
    assert "early-warning-signal" not in steady and "Không có sự sụt giảm" in steady


def test_the_unit_page_charts_what_the_integrity_page_lists(client, db_session, city) -> None:
    """Read for the subtree only, the unit's chart has the same days, counts and statistic as the city-wide
    computation behind the Integrity page's list; the page's data table prints those counts."""
    sipas = (city.questionnaires["sipas-2017"].id,)
    _agencies, units = _city_charts(db_session, TODAY, 30)[sipas[0]]
    for code in ("BT", "NK", "CT"):
        uid = city.units[code].id
        mine, listed = unit_chart(db_session, TODAY, uid, n_min=30, version_ids=sipas), units[uid]
        assert mine is not None
        assert mine["counts"] == listed["counts"] and mine["days"] == listed["days"]
        assert np.allclose(mine["statistic"], listed["statistic"], equal_nan=True)
        assert mine["signalling"] == listed["signalling"] == (code in ("BT", "CT"))
    login(client, "noivu")
    html = _section(get(client, f"/homeaffairs/unit/{city.units['BT'].id}").get_data(as_text=True))
    table = html[html.index('id="early-warning-data"'):]
    printed = [int(n) for n in re.findall(r'<th scope="row">[^<]+</th><td class="num">(\d+)</td>', table)]
    assert printed == units[city.units["BT"].id]["counts"]


def test_a_unit_manager_sees_its_own_units_chart_only(client, db_session, city) -> None:
    login(client, "ninhkieu")
    assert 'id="early-warning"' in get(client, f"/homeaffairs/unit/{city.units['NK'].id}").get_data(as_text=True)
    assert client.get(f"/homeaffairs/unit/{city.units['BT'].id}").status_code == 403
    login(client, "tuphap")
    assert client.get(f"/homeaffairs/unit/{city.units['NK'].id}").status_code == 403
