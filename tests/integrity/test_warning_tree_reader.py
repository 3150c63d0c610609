"""A unit's early-warning chart against the chart of an agency of its subtree (a known gap, docs/integrity.md
"Points of pooled days": bounded, not closed).

Each chart pools its own days to n_min responses, so where an agency holds most of its unit's responses both
charts have a point per day, and the unit's point minus the agency's is the rest of the subtree on that day —
one or two responses of a ward, a group below n_min.  An independent reader (tests/integrity/
test_warning_reader.py: only the printed data tables, the published formula, the usual level and SD) inverts
both tables and subtracts, point by point over the same days.  The printed warning measure's two decimals bound
what it reads: at most 0.005·(2 − λ)/λ·σ0·(√n_unit + √n_agency)/n_rest — for one response beside daily points
(λ 0.1) of about ten, ±0.6·σ0 (±0.2 at the demo's per-response SD of 0.35; this fixture's SD is about 0.08, and
the reader got 19 of 19 such days to within 0.03, median 0.008); beside points of a hundred, ±1.9·σ0."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from survey.results import cache
from survey.results.integrity import agency_charts, daily_scores, unit_chart
from tests.dashboard.helpers import get, login
from tests.factories import small_city
from tests.integrity.factories import TODAY, finish, honest_days, workdays_before
from tests.integrity.test_warning_disclosure import _section
from tests.integrity.test_warning_reader import read

N_MIN = 6


@pytest.fixture()
def city(app, db_session):
    """Ninh Kieu's committee: about 8 SIPAS responses a working day, 85% satisfied, 40% over the last 60 working
    days (so both charts' measures are above 0 and every point can be inverted); Tan An ward's committee, in the
    same district: about one a day (20 a month, so its own figures are shown)."""
    app.config["HAILONG_CLOCK"] = lambda: datetime(TODAY.year, TODAY.month, TODAY.day, 3, tzinfo=UTC)
    app.config["HAILONG_N_MIN"] = N_MIN
    cache.clear()
    city = small_city(db_session)
    rng = np.random.default_rng(41)
    sipas = city.questionnaires["sipas-2017"]
    days = workdays_before(TODAY, 330)
    honest_days(db_session, city.service_points["UBND-NK-SP1"], sipas, days[:270], 8, rng, p_sat=0.85)
    honest_days(db_session, city.service_points["UBND-NK-SP1"], sipas, days[270:], 8, rng, p_sat=0.4)
    honest_days(db_session, city.service_points["UBND-NK-TA-SP1"], sipas, days, 1, rng, p_sat=0.6)
    finish(db_session)
    yield city
    cache.clear()


@pytest.mark.xfail(strict=True, reason="known gap, bounded: docs/integrity.md (a unit's and an agency's points)")
def test_a_unit_point_minus_an_agency_point_gives_no_group_below_n_min(app, client, db_session, city) -> None:
    sipas = (city.questionnaires["sipas-2017"].id,)
    nk, agency = city.units["NK"].id, city.agencies["UBND-NK"].id
    login(client, "noivu")
    unit_part = _section(get(client, f"/homeaffairs/unit/{nk}").get_data(as_text=True))
    agency_part = _section(get(client, "/dashboard/agency/UBND-NK").get_data(as_text=True))
    u = unit_chart(db_session, TODAY, nk, n_min=N_MIN, version_ids=sipas)
    a = agency_charts(db_session, TODAY, [agency], n_min=N_MIN, version_ids=sipas)[agency]
    assert u is not None and u["limit"] is not None
    units = {tuple(d): (n, m) for d, n, m in read(unit_part, u["lam"], u["baseline"], u["sd"])}
    agencies = {tuple(d): (n, m) for d, n, m in read(agency_part, a["lam"], a["baseline"], a["sd"])}
    both = [days for days in units if days in agencies]
    assert len(both) >= 20  # most points of both charts cover the same days
    ward = city.agencies["UBND-NK-TA"].id
    errors = []
    for days in both:
        (nu, mu), (na, ma) = units[days], agencies[days]
        rest = nu - na
        if 0 < rest < N_MIN:
            truth = daily_scores(db_session, days[0], days[-1], [ward])
            assert int(truth["n"].sum()) == rest  # the reader has the ward's count right
            errors.append(abs((nu * mu - na * ma) / rest - float(truth["total"].sum()) / rest))
    read_close = [e for e in errors if e < 0.1]
    # measured (7 Dec 2026): 19 of the ward's days (1-3 responses) read back, median error 0.008
    assert not read_close, f"{len(read_close)} of {len(errors)} small groups read to within 0.1 (median " \
                           f"{np.median(errors):.3f})"


def test_the_reader_reads_the_charts_points(app, client, db_session, city) -> None:
    """The reader is competent: it reads each chart's own points (≥ n_min responses) to within 0.03."""
    sipas = (city.questionnaires["sipas-2017"].id,)
    nk = city.units["NK"].id
    login(client, "noivu")
    part = _section(get(client, f"/homeaffairs/unit/{nk}").get_data(as_text=True))
    u = unit_chart(db_session, TODAY, nk, n_min=N_MIN, version_ids=sipas)
    assert u is not None
    subtree = [city.agencies["UBND-NK"].id, city.agencies["UBND-NK-TA"].id]
    errors = []
    for days, n, mean in read(part, u["lam"], u["baseline"], u["sd"]):
        truth = daily_scores(db_session, days[0], days[-1], subtree)
        assert int(truth["n"].sum()) == n >= N_MIN
        errors.append(abs(mean - float(truth["total"].sum()) / n))
    assert errors and np.median(errors) < 0.03
