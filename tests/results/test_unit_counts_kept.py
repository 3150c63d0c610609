"""The default-period unit counts (Home Affairs pages) read only the months that received responses.

Every new response used to reload every `response_tally` row of the questionnaire (~120 k nationally at 1 M,
~12% of a live national request, benchmarks/README.md "session 11, second wave").  Each month's rows are now
kept under the month's count: the counts must equal one sum over every tally row, before and after new responses.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from sqlalchemy import select

from survey.respond.models import ResponseTally
from survey.results import cache, closed_months
from survey.results.comparison import _count_units, _label_of
from survey.results.tree import level_codes, placements
from tests.results.factories import city_with_responses
from tests.results.test_month_pass import _answer


@pytest.fixture
def data(request, db_session):
    cache.clear()
    request.addfinalizer(cache.clear)
    return city_with_responses(db_session, per_point=8, months=3, comments=False)


def _reference(session, version_id, kind, channel, agency_ids, levels):
    """Every tally row summed in plain Python (independent of the pandas path)."""
    places = placements(session)
    out: dict[str, dict[str, dict[str, int]]] = {lv: defaultdict(lambda: defaultdict(int)) for lv in levels}
    for row in session.scalars(select(ResponseTally).where(ResponseTally.questionnaire_version_id == version_id)):
        place = places.get(row.service_point_id)
        if place is None or (channel and row.channel != channel) or (
                agency_ids is not None and place.agency_id not in agency_ids):
            continue
        for lv in levels:
            code = place.agency if lv == "agency" else place.levels.get(lv, "")
            if code:
                out[lv][_label_of(row.period, kind)][code] += row.count
    return {lv: {label: dict(codes) for label, codes in per.items()} for lv, per in out.items()}


def _units(app, session, data, kind, channel="", agency_ids=None):
    with app.test_request_context():
        levels = [*level_codes(session)[1:], "agency"]
        got = _count_units(session, data.qv_id, kind, channel, agency_ids, levels)
        assert got == _reference(session, data.qv_id, kind, channel, agency_ids, levels)
        return got


@pytest.mark.parametrize("kind", ["month", "quarter", "year"])
def test_unit_counts_equal_a_sum_of_every_tally_row(app, db_session, data, kind):
    nk = {a.id for code, a in data.city.agencies.items() if code.startswith("UBND-NK")}
    for channel in ("", "paper", "kiosk"):
        for scope in (None, nk):
            _units(app, db_session, data, kind, channel, scope)


def test_a_live_request_reads_only_the_month_that_changed(app, db_session, data, monkeypatch):
    before = _units(app, db_session, data, "month")
    newest = max(data.months)
    for sp in sorted(data.city.service_points.values(), key=lambda p: p.code)[:3]:
        _answer(db_session, data, sp, newest)
    kept: list[object] = []
    real_get = closed_months.get

    def get(key):
        found = real_get(key)
        if key[0] == "unit-counts-month" and found is not None:
            kept.append(key[5])
        return found

    monkeypatch.setattr(closed_months, "get", get)
    after = _units(app, db_session, data, "month")  # equal to the sum of every tally row (in _units)
    month = newest.date().replace(day=1)
    assert sorted(kept) == sorted(m.date().replace(day=1) for m in data.months if m != newest)
    assert month not in kept, "the changed month was reused"
    label = f"{month.year}-{month.month:02d}"
    assert sum(after["agency"][label].values()) == sum(before["agency"][label].values()) + 3
