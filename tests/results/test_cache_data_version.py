"""The results cache reads the data's version once per request, and a new response still changes the figures
(issue 14 §4).

Every cached result is keyed by the data's version (newest response, tally and tree revisions).  A page asks
for tens of results; each used to read the newest response again.  Now a warm page reads it once, and the
next request sees a response stored in between.
"""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import event

from survey.demo.users import DEMO_USERS
from survey.extensions import db
from survey.respond.store import Submission, store_response
from survey.results import Selection, cache, indices
from tests.dashboard.helpers import get, signed_in
from tests.results.factories import city_with_responses

HOME_AFFAIRS = next(u for u in DEMO_USERS if u.role == "home_affairs")
AGENCY_VIEWER = next(u for u in DEMO_USERS if u.role == "agency_viewer")
# the data-version read: the newest response (survey/results/cache.py:_read_version)
NEWEST = re.compile(r"FROM response ORDER BY response\.id DESC", re.I)


@pytest.fixture(autouse=True)
def _empty_cache(request):
    cache.clear()
    request.addfinalizer(cache.clear)


def _statements(client, url: str) -> list[str]:
    """The SQL statements one request to `url` runs."""
    seen: list[str] = []

    def record(conn, cursor, statement, *_rest):
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert get(client, url).status_code == 200, url
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


@pytest.mark.demo_db(responses=4000)
@pytest.mark.parametrize(("user", "url"), [(AGENCY_VIEWER, "/dashboard/"), (HOME_AFFAIRS, "/homeaffairs/")])
def test_a_warm_page_reads_the_data_version_once(app, client, user, url):
    signed_in(client, user.username, user.password)
    page = get(client, url)
    if page.status_code == 302:  # an agency viewer's dashboard is their agency's page
        url = page.headers["Location"]
    first = _statements(client, url)
    warm = _statements(client, url)
    assert len([s for s in first if NEWEST.search(s)]) == 1
    assert len([s for s in warm if NEWEST.search(s)]) == 1, warm


def _store(session, data, sp_code: str) -> None:
    store_response(session, Submission(
        service_point_id=data.city.service_points[sp_code].id, questionnaire_version_id=data.qv_id,
        answers={"C.ATT": 1, "C.HANDLING": 2}, channel="paper", client_id=str(uuid.uuid4()),
        submitted_at=data.months[0]))


def _overall_n(session, sel) -> int:
    table = indices(session, sel).table
    return int(table.loc[table["measure"] == "OVERALL", "n"].iloc[0])


def test_a_response_stored_between_two_requests_is_in_the_second(app, db_session):
    data = city_with_responses(db_session, per_point=20, months=1, comments=False)
    sel = Selection.of(data.qv_id)
    with app.test_request_context():
        before = _overall_n(db_session, sel)
    with app.test_request_context():
        assert _overall_n(db_session, sel) == before  # warm: the same version
        _store(db_session, data, "UBND-NK-TA-SP1")
        # the request read the version before the data: its figures stay those of its start ...
        assert _overall_n(db_session, sel) == before
        cache.data_changed()  # ... unless it says it changed the data itself (publication)
        assert _overall_n(db_session, sel) == before + 1
    _store(db_session, data, "UBND-NK-TA-SP1")
    with app.test_request_context():
        assert _overall_n(db_session, sel) == before + 2
