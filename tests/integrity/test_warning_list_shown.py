"""Integrity page, early-warning list: a node is listed as signalling from the points its own page charts, never
from a month the linked protection hides (survey/results/protection.py; the chart's cut is 8d00953).  Before, the
list decided on every point, so "signalling" beside an agency whose every shown point is in control told the
viewer that its hidden month had dropped."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import numpy as np
import pytest

from survey.results import cache
from survey.results.integrity import agency_charts, charted_until, daily_scores
from tests.dashboard.helpers import get, login
from tests.factories import small_city
from tests.integrity.factories import TODAY, add_response, finish, honest_days, workdays_before

URL = "/homeaffairs/integrity/"
N_MIN = 6
MAY = date(2024, 5, 1)


def _city(app, db_session, drop_from: date):
    """The Department of Justice: about 2 responses a working day for 180 days, 85% satisfied, 15% from
    `drop_from`; a few June responses at the Binh Thuy committee (fewer than n_min), so the Department's June is
    hidden to protect them (its page shows figures up to May)."""
    app.config["HAILONG_CLOCK"] = lambda: datetime(TODAY.year, TODAY.month, TODAY.day, 3, tzinfo=UTC)
    app.config["HAILONG_N_MIN"] = N_MIN
    cache.clear()
    city = small_city(db_session)
    rng = np.random.default_rng(21)
    days = workdays_before(TODAY, 180)
    sp, sipas = city.service_points["STP-SP1"], city.questionnaires["sipas-2017"]
    honest_days(db_session, sp, sipas, [d for d in days if d < drop_from], 2, rng, p_sat=0.85)
    honest_days(db_session, sp, sipas, [d for d in days if d >= drop_from], 2, rng, p_sat=0.15)
    for day in workdays_before(TODAY, 3):  # three responses at Binh Thuy, one a day in June
        add_response(db_session, city.service_points["UBND-BT-SP1"], sipas, datetime(day.year, day.month, day.day, 9),
                     False, rng)
    finish(db_session)
    bt = daily_scores(db_session, date(2024, 6, 1), TODAY, [city.agencies["UBND-BT"].id])
    assert bt["n"].sum() == 3
    return city


def _listed_agencies(client) -> list[str]:
    login(client, "noivu")
    html = get(client, URL).get_data(as_text=True)
    return re.findall(r'<tr class="signal-agency"><th scope="row"><a href="/dashboard/agency/([^"]+)"', html)


@pytest.fixture(autouse=True)
def _clean_cache():
    yield
    cache.clear()


def test_a_hidden_month_alone_does_not_list_the_agency(app, client, db_session) -> None:
    """The drop is in June only: the chart signals on its June points, the page charts none of them (June is
    hidden), so every shown point is in control and the list must not say "signalling" (it did on main)."""
    city = _city(app, db_session, date(2024, 6, 1))
    agency_id = city.agencies["STP"].id
    whole = agency_charts(db_session, TODAY, [agency_id], n_min=N_MIN)[agency_id]
    assert whole["signalling"] and any(p["first"].month == 6 for p in whole["points"])  # June alone signals
    assert not charted_until(whole, MAY)["signalling"]  # the points up to May: in control
    login(client, "noivu")
    page = get(client, "/dashboard/agency/STP").get_data(as_text=True)
    assert "<svg" in page and 'class="early-warning-signal"' not in page  # charted, no drop said
    assert "STP" not in _listed_agencies(client)


def test_an_agency_whose_shown_points_signal_is_still_listed(app, client, db_session) -> None:
    """The drop starts in April: the points up to May already signal, so the list names the Department although
    its June is hidden."""
    city = _city(app, db_session, date(2024, 4, 1))
    agency_id = city.agencies["STP"].id
    whole = agency_charts(db_session, TODAY, [agency_id], n_min=N_MIN)[agency_id]
    assert charted_until(whole, MAY)["signalling"]
    login(client, "noivu")
    assert 'class="early-warning-signal"' in get(client, "/dashboard/agency/STP").get_data(as_text=True)
    assert "STP" in _listed_agencies(client)
