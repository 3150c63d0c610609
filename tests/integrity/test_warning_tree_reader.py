"""A unit's early-warning chart beside the chart of an agency of its subtree, or of a unit below it: no difference
of their points may give a group under n_min away (docs/integrity.md, "Points across the organisation tree").

Until 7 Dec 2026 each chart pooled its own days to n_min responses, so where an agency held most of its unit's
responses both charts had a point per day, and the unit's point minus the agency's was the rest of the subtree
on that day — one or two responses of a ward, a group below n_min.  An independent reader (tests/integrity/
test_warning_reader.py: only the printed data tables, the published formula, the usual level and SD) parses
both tables, takes every point of the larger chart that the smaller chart's points tile exactly, subtracts,
and inverts the warning measures: on this fixture (per-response SD about 0.08) it read 19 of 19 ward days of 1–3
responses to within 0.03 (median 0.008).  Now a unit's points are pooled across the tree
(`analysis.control.pool_tree`): every difference the reader can form is 0 or at least n_min responses."""

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
from tests.integrity.test_warning_reader import CELL, ROW, _days, _number, read

N_MIN = 6


def _committee_and_a_quiet_agency(app, db_session, seed: int, quiet: str):
    """Ninh Kieu's committee: about 8 SIPAS responses a working day, 85% satisfied, 40% over the last 60 working
    days (so the charts' measures are above 0 and their points can be inverted); the `quiet` service point's
    agency: about one a day (20 a month, so its own figures are shown)."""
    app.config["HAILONG_CLOCK"] = lambda: datetime(TODAY.year, TODAY.month, TODAY.day, 3, tzinfo=UTC)
    app.config["HAILONG_N_MIN"] = N_MIN
    cache.clear()
    city = small_city(db_session)
    rng = np.random.default_rng(seed)
    sipas = city.questionnaires["sipas-2017"]
    days = workdays_before(TODAY, 330)
    honest_days(db_session, city.service_points["UBND-NK-SP1"], sipas, days[:270], 8, rng, p_sat=0.85)
    honest_days(db_session, city.service_points["UBND-NK-SP1"], sipas, days[270:], 8, rng, p_sat=0.4)
    honest_days(db_session, city.service_points[quiet], sipas, days, 1, rng, p_sat=0.6)
    finish(db_session)
    return city


@pytest.fixture()
def city(app, db_session):
    """The quiet agency: Tan An ward's committee, in Ninh Kieu district."""
    yield _committee_and_a_quiet_agency(app, db_session, 41, "UBND-NK-TA-SP1")
    cache.clear()


def _rows(part: str) -> dict[tuple, int]:
    """Every row of a chart's data table: its calendar days → n."""
    return {tuple(_days(label)): int(_number(CELL.findall(cells)[0]) or 0) for label, cells in ROW.findall(part)}


def differences(big: str, small: str, big_chart: dict, small_chart: dict) -> list[tuple[tuple, int, float | None]]:
    """(days, n, mean score or None) of the larger chart's point minus the smaller chart's points, for every point
    of `big` that points of `small` tile exactly (the reader cannot split a point): the rest of the larger
    node's subtree over those days.  The mean where every point involved can be inverted."""
    means = {tuple(d): m for d, _n, m in read(big, big_chart["lam"], big_chart["baseline"], big_chart["sd"])}
    small_means = {tuple(d): m for d, _n, m in read(small, small_chart["lam"], small_chart["baseline"],
                                                     small_chart["sd"])}
    theirs = _rows(small)
    out = []
    for days, n in _rows(big).items():
        inside = [d for d in theirs if set(d) <= set(days)]
        if any(set(d) & set(days) for d in theirs if d not in inside) or not inside:
            continue  # a point of the smaller chart straddles it, or none falls in it
        if sorted(x for d in inside for x in d) != list(days):
            continue
        rest = n - sum(theirs[d] for d in inside)
        known = days in means and all(d in small_means for d in inside)
        total = n * means[days] - sum(theirs[d] * small_means[d] for d in inside) if known else None
        out.append((days, rest, None if total is None or rest == 0 else total / rest))
    return out


def _no_small_group(db_session, found: list, rest_of: list[int]) -> None:
    """The reader is competent (it subtracts points and gets the rest's count right) and reads no group of
    1…N_MIN − 1 responses; the message says how well it read those it did read."""
    assert len(found) >= 3  # it finds points to subtract (each chart pooled alone: a point a day)
    errors, small = [], 0
    for days, rest, mean in found:
        truth = daily_scores(db_session, days[0], days[-1], rest_of)
        assert int(truth["n"].sum()) == rest  # the reader has the rest's count right
        if 0 < rest < N_MIN:
            small += 1
            if mean is not None:
                errors.append(abs(mean - float(truth["total"].sum()) / rest))
    # measured (7 Dec 2026), rule of each chart pooled alone: 19 of 19 ward days (1-3 responses) read back to
    # within 0.03, median error 0.008
    assert small == 0, f"{small} groups under n_min, {sum(e < 0.1 for e in errors)} read to within 0.1 " \
                       f"(median {np.median(errors) if errors else float('nan'):.3f})"


def test_a_unit_point_minus_an_agency_point_gives_no_group_below_n_min(app, client, db_session, city) -> None:
    sipas = (city.questionnaires["sipas-2017"].id,)
    nk, agency = city.units["NK"].id, city.agencies["UBND-NK"].id
    login(client, "noivu")
    unit_part = _section(get(client, f"/homeaffairs/unit/{nk}").get_data(as_text=True))
    agency_part = _section(get(client, "/dashboard/agency/UBND-NK").get_data(as_text=True))
    u = unit_chart(db_session, TODAY, nk, n_min=N_MIN, version_ids=sipas)
    a = agency_charts(db_session, TODAY, [agency], n_min=N_MIN, version_ids=sipas)[agency]
    assert u is not None and u["limit"] is not None
    found = differences(unit_part, agency_part, u, a)
    _no_small_group(db_session, found, [city.agencies["UBND-NK-TA"].id])


@pytest.fixture()
def two_districts(app, db_session):
    """The quiet agency: Binh Thuy district's committee, in the other district."""
    yield _committee_and_a_quiet_agency(app, db_session, 43, "UBND-BT-SP1")
    cache.clear()


def test_the_city_page_minus_a_district_page_or_an_agency_page_gives_no_group_below_n_min(
        app, client, db_session, two_districts) -> None:
    """Home Affairs pages at two levels (the city's unit page against Ninh Kieu's), and the city's against the
    agency page of the committee that holds most of its responses: the city minus either is Binh Thuy's one or
    two responses a day where both chart a point a day."""
    city = two_districts
    sipas = (city.questionnaires["sipas-2017"].id,)
    ct, nk, agency = city.units["CT"].id, city.units["NK"].id, city.agencies["UBND-NK"].id
    login(client, "noivu")
    city_part = _section(get(client, f"/homeaffairs/unit/{ct}").get_data(as_text=True))
    c = unit_chart(db_session, TODAY, ct, n_min=N_MIN, version_ids=sipas)
    assert c is not None and c["limit"] is not None
    rest_of = [city.agencies["UBND-BT"].id]
    district_part = _section(get(client, f"/homeaffairs/unit/{nk}").get_data(as_text=True))
    district = unit_chart(db_session, TODAY, nk, n_min=N_MIN, version_ids=sipas)
    _no_small_group(db_session, differences(city_part, district_part, c, district), rest_of)
    agency_part = _section(get(client, "/dashboard/agency/UBND-NK").get_data(as_text=True))
    a = agency_charts(db_session, TODAY, [agency], n_min=N_MIN, version_ids=sipas)[agency]
    _no_small_group(db_session, differences(city_part, agency_part, c, a), rest_of)


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
