"""store_response: validated whole, stored once, counted in the same transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from survey.respond.models import Answer, AnswerTally, Comment, Response, ResponseTally
from survey.respond.store import Submission, SubmissionError, local_period, rebuild_tallies, store_response
from tests.factories import small_city
from tests.results.factories import DEFAULT_NOW, fix_clock


def _count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def _tallies(session):
    answers = sorted(session.execute(select(AnswerTally.item_id, AnswerTally.value, AnswerTally.count)).all())
    responses = sorted(session.execute(select(ResponseTally.service_point_id, ResponseTally.count)).all())
    return answers, responses


@pytest.fixture
def city(app, db_session):
    """The small city at a fixed "now" (DEFAULT_NOW): a run crossing a month boundary would split the counts."""
    fix_clock(app, DEFAULT_NOW)
    return small_city(db_session)


def _counter_submission(city, **kw):
    qv = city.questionnaires["counter-quick"]
    answers = {"C.ATT": 3, "C.HANDLING": 2}
    base = dict(service_point_id=city.service_points["STP-SP1"].id, questionnaire_version_id=qv.id,
                answers=answers, channel="kiosk")
    base.update(kw)
    return Submission(**base)


def questionnaire_for_session(city, instrument):
    from survey.extensions import db
    from survey.questionnaire_versions.service import questionnaire_for

    return questionnaire_for(db.session, city.questionnaires[instrument].id)


def _valid_answers(q):
    """A complete valid answer set for any questionnaire: best level / first option / a comment."""
    answers = {}
    for item in q.items():
        if item.type == "text":
            answers[item.code] = "Cán bộ nhiệt tình <b>cảm ơn</b>"
        elif item.type == "choice" and item.multiple:
            answers[item.code] = [item.options[0].value]
        else:
            answers[item.code] = max(item.values)
    return answers


def test_every_shipped_questionnaire_stores_and_counts(db_session, city):
    for instrument in ("counter-quick", "sipas-2017", "papi-services"):
        q, item_ids = questionnaire_for_session(city, instrument)
        answers = _valid_answers(q)
        response, created = store_response(db_session, Submission(
            service_point_id=city.service_points["STP-SP1"].id,
            questionnaire_version_id=city.questionnaires[instrument].id, answers=answers, channel="qr"))
        assert created
        stored = db_session.scalars(select(Answer).where(Answer.response_id == response.id)).all()
        scored = [c for c, v in answers.items() if q.item(c).type != "text"]
        assert {a.item_id for a in stored} == {item_ids[c] for c in scored}
    assert _count(db_session, Response) == 3
    assert _count(db_session, Comment) == 3
    # the maintained count tables equal a recount from the answers
    maintained = _tallies(db_session)
    rebuild_tallies(db_session)
    assert _tallies(db_session) == maintained
    assert sum(c for _, c in maintained[1]) == 3


def test_resubmission_with_same_client_id_is_stored_once(db_session, city):
    client_id = str(uuid.uuid4())
    first, created = store_response(db_session, _counter_submission(city, client_id=client_id))
    again, created_again = store_response(db_session, _counter_submission(city, client_id=client_id.upper()))
    assert created and not created_again
    assert again.id == first.id
    assert _count(db_session, Response) == 1
    assert sum(c for *_, c in _tallies(db_session)[0]) == 2


def test_unknown_item_rejects_the_whole_response(db_session, city):
    with pytest.raises(SubmissionError) as err:
        store_response(db_session, _counter_submission(city, answers={"C.ATT": 3, "C.HANDLING": 2, "NOPE": 1}))
    assert "NOPE" in err.value.errors
    assert _count(db_session, Response) == 0
    assert _count(db_session, AnswerTally) == 0


def test_unknown_service_point_is_rejected(db_session, city):
    with pytest.raises(SubmissionError) as err:
        store_response(db_session, _counter_submission(city, service_point_id=99999, language="en"))
    assert err.value.errors["service_point"] == "Unknown service point."
    assert _count(db_session, Response) == 0


def test_value_outside_the_scale_is_rejected_in_the_users_language(db_session, city):
    with pytest.raises(SubmissionError) as err:
        store_response(db_session, _counter_submission(city, answers={"C.ATT": 9, "C.HANDLING": 2}))
    assert "C.ATT" in err.value.errors
    assert _count(db_session, Response) == 0


def test_implausible_timestamp_is_rejected(db_session, city):
    future = DEFAULT_NOW + timedelta(days=2)
    with pytest.raises(SubmissionError) as err:
        store_response(db_session, _counter_submission(city, submitted_at=future))
    assert "submitted_at" in err.value.errors


def test_period_is_the_local_month():
    # 2022-06-30 18:30 UTC is already 1 July in Vietnam (UTC+7)
    assert local_period(datetime(2022, 6, 30, 18, 30, tzinfo=UTC)).isoformat() == "2022-07-01"


def test_no_personal_data_columns_in_responses(db_session):
    columns = {c.name for c in Response.__table__.columns}
    assert not columns & {"ip", "ip_address", "name", "phone", "user_agent", "fingerprint"}
