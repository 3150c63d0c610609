"""A write that changes what a page shows is in the next page's figures, even when it adds no response and moves
no count (issue 14 §4: the results cache is keyed by the data's version, so every write that changes a figure
must change that version or clear the request's memo).

Review decisions move responses between "held" (set aside, awaiting review) and "excluded" (after review)
without touching the count tables; the pages still count both (coverage: "n responses excluded after review",
"n responses set aside, awaiting review").  Before, such a decision left the data version as it was, so the
agency page kept saying the responses awaited review after Home Affairs had excluded them."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from survey.respond import quarantine
from survey.respond.models import AnswerTally, MomentTally, ResponseTally
from survey.respond.store import rebuild_tallies
from survey.results import Selection, cache
from tests.dashboard.hakit import login, use_language
from tests.dashboard.test_review_coverage import REASON, _agency_ids
from tests.results.factories import add_volumes, city_with_responses
from tests.results.test_cache_data_version import _overall_n

HELD = "3 responses set aside, awaiting review."
EXCLUDED = "3 responses excluded after review."


@pytest.fixture
def data(app, db_session):
    app.config.update(HAILONG_BOOTSTRAP_B=40, HAILONG_RESULTS_CACHE=True)
    cache.clear()
    d = city_with_responses(db_session, per_point=20, comments=False)
    add_volumes(db_session, d)
    yield d
    cache.clear()


def _agency_page(client) -> str:
    return " ".join(client.get("/dashboard/agency/STP").get_data(as_text=True).split())


def test_a_review_decision_on_held_responses_is_on_the_next_page(client, db_session, data):
    ids = _agency_ids(db_session, data, "STP")[:3]
    quarantine.hold(db_session, ids, REASON)  # counted -> held (the counts move)
    login(client, "tuphap")
    use_language(client, "en")
    page = _agency_page(client)
    assert HELD in page and EXCLUDED not in page
    quarantine.confirm(db_session, ids, REASON)  # held -> excluded: no count moves
    page = _agency_page(client)
    assert EXCLUDED in page and HELD not in page, "the page still says the responses await review"
    quarantine.reverse(db_session, ids, REASON)  # excluded -> held again, awaiting a new decision
    page = _agency_page(client)
    assert HELD in page and EXCLUDED not in page


def test_count_tables_rebuilt_without_a_new_response_are_in_the_next_figures(app, db_session, data):
    """`rebuild_tallies` repairs the count tables (survey/respond/store.py): the figures must follow the repaired
    tables, though no response was added.  Before, the wrong figures stayed cached until the next response."""
    sel = Selection.of(data.qv_id)
    true_n = _overall_n(db_session, sel)
    sp = data.city.service_points["STP-SP1"].id
    for table in (ResponseTally, AnswerTally, MomentTally):  # damaged tables: one service point's counts lost
        db_session.execute(delete(table).where(table.service_point_id == sp))
    quarantine.bump_revision(db_session)  # (so the damage itself is seen: the test is about the repair)
    db_session.commit()
    assert _overall_n(db_session, sel) < true_n
    rebuild_tallies(db_session)
    db_session.commit()
    assert _overall_n(db_session, sel) == true_n, "the figures still count the damaged tables"
