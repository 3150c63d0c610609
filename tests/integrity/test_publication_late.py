"""Late responses and review decisions (issue 16 §3): a response received for a published month stays out of
the count tables through every review decision until a revision; a response stored while the publication was
being made (above its cut-off) is set apart too; the count tables always equal a recount."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from survey.audit.models import AuditEvent
from survey.respond import quarantine
from survey.respond.models import Response
from survey.respond.store import Submission, local_period, rebuild_tallies, store_response
from survey.results import Selection, cache, indices
from survey.results import publication as pub
from survey.results.integrity import run_scan
from survey.results.integrity_models import IntegrityFlag
from tests.dashboard.publication_checks import tallies_equal_recount
from tests.factories import small_city
from tests.integrity.factories import TODAY, burst, finish, honest_days, workdays_before
from tests.results.factories import city_with_responses


@pytest.fixture
def data(db_session):
    cache.clear()
    yield city_with_responses(db_session, per_point=6, months=2, comments=False)
    cache.clear()


def _store(db_session, data, when) -> Response:
    sp = data.city.service_points["STP-SP1"]
    r, _ = store_response(db_session, Submission(service_point_id=sp.id, questionnaire_version_id=data.qv_id,
                                                 answers={"C.ATT": 1, "C.HANDLING": 1}, channel="paper",
                                                 client_id=str(uuid.uuid4()), submitted_at=when))
    return r


def _publish(db_session, data, month, at=None, reason: str = "") -> pub.PublishedPeriod:
    built: list[int] = []

    def build() -> pub.Documents:  # what the report would be rendered from: the count tables at that moment
        built.append(_overall_n(db_session, data, month))
        return {lang: (f"<p>{lang}</p>", b"xlsx", "<p>pdf</p>") for lang in ("vi", "en")}

    label = f"{month.year}-{month.month:02d}"
    p = pub.publish(db_session, questionnaire_version_id=data.qv_id, label=label, start=month, end=month,
                    measure="OVERALL", build=build, at=at or pub.cutoff(db_session), user_id=None, reason=reason)
    assert built == [p.responses]  # the documents saw exactly the published responses
    return p


def _overall_n(db_session, data, month) -> int:
    cache.clear()
    table = indices(db_session, Selection.of(data.qv_id, period_from=month, period_to=month)).table
    return int(table.loc[table["measure"] == "C.ATT", "n"].iloc[0])


def _status(db_session, rid: int) -> str | None:
    db_session.expire_all()
    return db_session.get(Response, rid).review_status


def test_a_late_response_stays_out_through_review_decisions_until_a_revision(db_session, data):
    month = local_period(data.months[0])
    first = _publish(db_session, data, month)
    n_published = _overall_n(db_session, data, month)
    late = _store(db_session, data, data.months[0] - timedelta(hours=1))
    assert _status(db_session, late.id) == quarantine.LATE
    assert pub.late_responses(db_session, first) == 1
    tallies_equal_recount(db_session)
    assert _overall_n(db_session, data, month) == n_published

    # a flag on it: dismissing never brings it in, confirming excludes it, reversing holds it
    quarantine.dismiss(db_session, [late.id], "looked fine")
    assert _status(db_session, late.id) == quarantine.LATE
    quarantine.confirm(db_session, [late.id], "staff answered it")
    assert _status(db_session, late.id) == quarantine.EXCLUDED
    quarantine.reverse(db_session, [late.id], "wrong flag")
    assert _status(db_session, late.id) == quarantine.HELD
    quarantine.release(db_session, [late.id], "checked: a citizen")
    assert _status(db_session, late.id) == quarantine.LATE
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "response.release")).one()
    assert event.after["statuses"] == {"late": 1}
    tallies_equal_recount(db_session)
    rebuild_tallies(db_session)  # a rebuild from answer rows leaves it out as well
    db_session.commit()
    tallies_equal_recount(db_session)
    assert _overall_n(db_session, data, month) == n_published

    second = _publish(db_session, data, month, reason="a late paper form")
    assert second.revision == 2 and second.responses == first.responses + 1
    assert _status(db_session, late.id) is None
    assert pub.late_responses(db_session, second) == 0 and pub.revised_in(db_session, second) == 1
    assert _overall_n(db_session, data, month) == n_published + 1
    tallies_equal_recount(db_session)
    # a counted response of a published month that is dismissed after a flag stays counted
    quarantine.dismiss(db_session, [late.id], "fine")
    assert _status(db_session, late.id) is None


def test_a_response_stored_while_publishing_is_set_apart(db_session, data):
    month = local_period(data.months[0])
    at = pub.cutoff(db_session)  # the cut-off is taken first …
    during = _store(db_session, data, data.months[0] - timedelta(hours=2))  # … a kiosk sends one meanwhile
    assert _status(db_session, during.id) is None
    n_at_cutoff = _overall_n(db_session, data, month) - 1
    p = _publish(db_session, data, month, at=at)
    assert _status(db_session, during.id) == quarantine.LATE
    assert p.cutoff_response_id < during.id and pub.late_responses(db_session, p) == 1
    assert _overall_n(db_session, data, month) == n_at_cutoff
    tallies_equal_recount(db_session)


def test_another_month_is_not_affected(db_session, data):
    published, other = local_period(data.months[0]), local_period(data.months[1])
    _publish(db_session, data, published)
    before = _overall_n(db_session, data, other)
    r = _store(db_session, data, data.months[1])
    assert _status(db_session, r.id) is None
    assert _overall_n(db_session, data, other) == before + 1


def test_a_flood_into_a_published_month_is_flagged_and_confirming_it_keeps_it_out(db_session):
    """Late responses are scanned like any arrival: a burst that reaches a published month is flagged, and
    confirming the flag excludes it (it never entered the figures)."""
    city = small_city(db_session)
    sp, sipas = city.service_points["STP-SP1"], city.questionnaires["sipas-2017"]
    rng = np.random.default_rng(3)
    days = workdays_before(TODAY, 30)
    honest_days(db_session, sp, sipas, days, 3, rng)
    finish(db_session)
    at = pub.cutoff(db_session)  # published before the flood's responses are taken into account …
    stuffed = burst(db_session, sp, sipas, days[-1], 20, rng)
    finish(db_session)
    month = local_period(datetime(days[-1].year, days[-1].month, days[-1].day, 5, tzinfo=UTC))
    label = f"{month.year}-{month.month:02d}"
    pub.publish(db_session, questionnaire_version_id=sipas.id, label=label, start=month, end=month,
                measure="OVERALL", build=lambda: {lang: ("", b"", "") for lang in ("vi", "en")}, at=at, user_id=None)
    assert {_status(db_session, i) for i in stuffed} == {quarantine.LATE}  # … so they are late
    assert run_scan(db_session, days[-3:]) == 1
    flag = db_session.scalar(select(IntegrityFlag))
    assert set(stuffed) <= set(flag.response_ids)
    quarantine.confirm(db_session, flag.response_ids, "a flood")
    assert {_status(db_session, i) for i in stuffed} == {quarantine.EXCLUDED}
    tallies_equal_recount(db_session)


def test_a_publication_waits_for_responses_being_stored(db_session, data):
    """PostgreSQL: a response being stored (its month looked up, not yet committed) holds the publication
    lock shared, so a publication cannot commit in between and leave it counted above its cut-off."""
    engine = db_session.get_bind()
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: the publication's transaction excludes every store")
    storing = Session(bind=engine.engine if hasattr(engine, "engine") else engine)
    try:
        assert quarantine.month_cutoff(storing, data.qv_id, local_period(data.months[0])) is None
        db_session.execute(text("SET LOCAL lock_timeout = '300ms'"))
        with pytest.raises(OperationalError):
            quarantine.lock_publications(db_session, exclusive=True)
        db_session.rollback()
        storing.commit()  # the response is stored: the publication may go ahead
        db_session.execute(text("SET LOCAL lock_timeout = '300ms'"))
        quarantine.lock_publications(db_session, exclusive=True)
        db_session.rollback()
    finally:
        storing.close()
