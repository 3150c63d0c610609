"""The protection's organisation tree (parents of ~17,000 nodes nationally) is kept per tree revision.

A live national request used to rebuild it twice (once per period) from the placements: ~0.9 s of a 5 s request
on the 30 k national tree (benchmarks/README.md, "session 11, second wave").  A new response must not rebuild it;
an organisation edit must, at once, and a live page must equal a build from empty caches.
"""

from __future__ import annotations

import pytest

from survey.org import service as org
from survey.results import Selection, cache, protection
from survey.results.comparison import Period
from survey.results.tree import level_codes, placements
from tests.results.factories import city_with_responses
from tests.results.test_month_pass import _answer, _assert_same, _page_figures


@pytest.fixture
def data(request, db_session):
    cache.clear()
    request.addfinalizer(cache.clear)
    return city_with_responses(db_session, per_point=8, months=3, comments=False)


def _builds(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = protection._build_org_tree

    def counted(places, levels):
        calls.append(1)
        return real(places, levels)

    monkeypatch.setattr(protection, "_build_org_tree", counted)
    return calls


def test_a_live_page_reuses_the_tree_and_equals_a_fresh_build(app, db_session, data, monkeypatch):
    sel = Selection.of(data.qv_id)
    month = data.months[0]
    period = Period.parse(f"{month.year}-{month.month:02d}")
    builds = _builds(monkeypatch)
    before = _page_figures(app, db_session, sel, period)
    assert len(builds) == 1, "built more than once in one request"
    for sp in sorted(data.city.service_points.values(), key=lambda p: p.code)[:3]:
        _answer(db_session, data, sp, month)
    live = _page_figures(app, db_session, sel, period)
    assert len(builds) == 1, "a live request rebuilt the tree"
    assert live != before, "the new responses changed the page"
    cache.clear()
    fresh = _page_figures(app, db_session, sel, period)
    assert len(builds) == 2
    for a, b in zip(live, fresh, strict=True):
        _assert_same(a, b)


def test_the_kept_tree_equals_one_built_from_the_placements(app, db_session, data):
    with app.test_request_context():
        kept = protection._org_tree(db_session)
    with app.test_request_context():
        assert protection._org_tree(db_session) is kept
        assert kept == protection._build_org_tree(placements(db_session), level_codes(db_session))


def test_moving_an_agency_rebuilds_the_tree_at_once(app, db_session, data):
    agency = data.city.agencies["UBND-NK-TA"]
    with app.test_request_context():
        before = protection._org_tree(db_session)[0]
    assert before[("agency", agency.code)] == ("commune", "NK-TA")
    org.update_agency(db_session, agency, unit=data.city.units["BT-BT"])
    db_session.commit()
    with app.test_request_context():
        after = protection._org_tree(db_session)
    assert after[0][("agency", agency.code)] == ("commune", "BT-BT")
    assert after == protection._build_org_tree(*_fresh(app, db_session))


def _fresh(app, session):
    cache.clear()
    with app.test_request_context():
        return placements(session), level_codes(session)
