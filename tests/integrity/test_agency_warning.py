"""Agency page: the early-warning chart (SVG + data table) and a plain sentence only when it signals."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from tests.dashboard.helpers import get, login
from tests.factories import small_city
from tests.integrity.factories import TODAY, drops_at, finish, honest_days, workdays_before


@pytest.fixture()
def city(app, db_session):
    app.config["HAILONG_CLOCK"] = lambda: datetime(TODAY.year, TODAY.month, TODAY.day, 3, tzinfo=UTC)
    return small_city(db_session)


@pytest.mark.parametrize("dropped", [True, False])
def test_agency_page_shows_the_chart_and_says_so_only_on_a_real_drop(client, db_session, city, dropped) -> None:
    """About 2 responses a working day: with n_min 30 the chart's points are months.  A steady agency's chart is
    above its limit about one month in twelve by design (ARL0 = 250 working days); seed 11's steady data have a
    May 2.8 standard errors below the usual level (a month's false alarm), so the steady case uses seed 12."""
    sp = city.service_points["STP-SP1"]
    sipas = city.questionnaires["sipas-2017"]
    rng = np.random.default_rng(11 if dropped else 12)
    days = workdays_before(TODAY, 180)
    honest_days(db_session, sp, sipas, days[:150], 2, rng, p_sat=0.85)
    honest_days(db_session, sp, sipas, days[150:], 2, rng, p_sat=0.6 if dropped else 0.85)
    finish(db_session)
    login(client, "tuphap")
    html = get(client, "/dashboard/agency/STP").get_data(as_text=True)
    assert 'id="early-warning"' in html and 'id="early-warning-data"' in html
    assert ("early-warning-signal" in html) is dropped
    if dropped:
        assert "dưới mức thường lệ của cơ quan này" in html


def test_integrity_page_lists_the_agency_signal(client, db_session, city) -> None:
    sp = city.service_points["STP-SP1"]
    sipas = city.questionnaires["sipas-2017"]
    rng = np.random.default_rng(12)
    days = workdays_before(TODAY, 180)
    honest_days(db_session, sp, sipas, days[:150], 2, rng, p_sat=0.85)
    honest_days(db_session, sp, sipas, days[150:], 2, rng, p_sat=0.6)
    finish(db_session)
    login(client, "noivu")
    html = get(client, "/homeaffairs/integrity/").get_data(as_text=True)
    assert "/dashboard/agency/STP" in html


def test_integrity_page_lists_the_units_whose_agencies_dropped(client, db_session, city) -> None:
    """A unit's chart sums the agencies of its subtree: a drop at the Binh Thuy district committee makes Binh
    Thuy (and the city it is in) signal; Ninh Kieu, whose agencies hold steady, does not."""
    drops_at(db_session, city, {"UBND-BT-SP1": True, "UBND-NK-SP1": False}, seed=13)
    login(client, "noivu")
    html = get(client, "/homeaffairs/integrity/").get_data(as_text=True)
    units = city.units
    assert f'/homeaffairs/unit/{units["BT"].id}"' in html
    assert f'/homeaffairs/unit/{units["NK"].id}"' not in html
    assert "/dashboard/agency/UBND-BT" in html and "/dashboard/agency/UBND-NK\"" not in html


def test_signals_are_listed_newest_first(client, db_session, city) -> None:
    sipas = city.questionnaires["sipas-2017"]
    rng = np.random.default_rng(17)
    days = workdays_before(TODAY, 180)
    for code, drop_at in (("STP-SP1", 125), ("UBND-NK-SP1", 160)):  # STP drops first, Ninh Kieu a month later
        sp = city.service_points[code]
        honest_days(db_session, sp, sipas, days[:drop_at], 3, rng, p_sat=0.85)
        honest_days(db_session, sp, sipas, days[drop_at:], 3, rng, p_sat=0.55)
    finish(db_session)
    login(client, "noivu")
    html = get(client, "/homeaffairs/integrity/").get_data(as_text=True)
    later, earlier = html.find('/dashboard/agency/UBND-NK"'), html.find('/dashboard/agency/STP"')
    assert 0 < later < earlier
