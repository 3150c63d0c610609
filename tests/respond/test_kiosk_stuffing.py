"""A kiosk credential stores only what its kiosk can offer (attacker pass, helper H, session 12).

A kiosk page shows one questionnaire: its service point's `kiosk_instrument` (survey/respond/kiosk.py).  The
credential of a counter-quick kiosk stored 30 all-best answers to the official SIPAS questionnaire, all counted,
up to 360 an hour.  Now another questionnaire is refused (400, nothing stored) — unless the service point's kiosks
counted answers to it this month or last (its kiosk questionnaire changed while a kiosk's offline queue held
answers to the previous one): those are stored held, out of every figure until reviewed.  Every way a kiosk
response is stored agrees: the full path (a kiosk's first response in a process), the hinted claim, and on
PostgreSQL the one-call way and the WSGI lane.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from survey.extensions import db
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond import api
from survey.respond.models import Response
from tests.factories import small_city
from tests.respond.kiosk_factories import auth, valid_answers
from tests.respond.kiosk_factories import enrolled_kiosk as enrolled_now
from tests.respond.linkkit import counted, stored_with
from tests.results.factories import DEFAULT_NOW, clock_at, fix_clock

URL = "/api/v1/responses"


@pytest.fixture
def city(app, db_session):
    fix_clock(app, DEFAULT_NOW)
    app.config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 0
    return small_city(db_session)


def _body(city, instrument: str, *, ago: timedelta = timedelta(minutes=5)) -> dict[str, Any]:
    """An all-best answer to `instrument`'s published version, made `ago` before the fixed "now"."""
    qv = city.questionnaires[instrument]
    q, _ids = questionnaire_for(db.session, qv.id)
    return {"client_id": str(uuid.uuid4()), "questionnaire": qv.instrument, "version": qv.version,
            "submitted_at": (DEFAULT_NOW - ago).isoformat(), "language": "vi",
            "answers": valid_answers(q)}


def enrolled_kiosk(session, code: str):
    """A kiosk enrolled the day before "now" (its answers may be stated up to then: test_kiosk_backfill.py)."""
    from flask import current_app

    with clock_at(current_app, DEFAULT_NOW - timedelta(days=1)):
        return enrolled_now(session, code)


def _counted() -> int:
    return counted(db.session)


def _stored(status=...) -> int:
    return stored_with(db.session, status)


def _seen(resp) -> tuple[int, Any]:
    return resp.status_code, resp.get_json()


def test_a_counter_quick_kiosk_cannot_store_sipas_answers(app, client, city):
    _kiosk, credential = enrolled_kiosk(db.session, "STP-SP1")
    assert client.post(URL, json=_body(city, "counter-quick"), headers=auth(credential)).status_code == 201
    # known to the process now: the hinted claim, and on PostgreSQL the one-call way and the lane, come first
    answers = [client.post(URL, json=_body(city, "sipas-2017"), headers=auth(credential)) for _ in range(30)]
    assert {a.status_code for a in answers} == {400}
    assert answers[0].get_json()["errors"] == {
        "questionnaire": "Điểm phục vụ của máy đánh giá này không dùng phiếu khảo sát sipas-2017: các máy đánh giá "
                         "ở đây hiển thị phiếu khảo sát counter-quick."}
    assert _stored() == 1 and _counted() == 1
    english = client.post(URL, json={**_body(city, "sipas-2017"), "language": "en"}, headers=auth(credential))
    assert english.status_code == 400 and english.get_json()["errors"]["questionnaire"] == (
        "This kiosk's service point does not offer questionnaire sipas-2017: its kiosks show counter-quick.")
    # a refusal does not use up the kiosk's minimum interval: its own questionnaire goes in at once
    app.config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 10
    fresh = enrolled_kiosk(db.session, "STP-SP1")[1]
    assert client.post(URL, json=_body(city, "sipas-2017"), headers=auth(fresh)).status_code == 400
    assert client.post(URL, json=_body(city, "counter-quick"), headers=auth(fresh)).status_code == 201
    assert _counted() == 2


def test_every_path_gives_the_same_answer_to_another_questionnaire(app, client, city):
    """A kiosk's first response (the full path) and a known kiosk's (hinted claim; PostgreSQL: one call, lane on
    and off) get the same 400 with the same body."""
    first = enrolled_kiosk(db.session, "STP-SP1")[1]
    known = enrolled_kiosk(db.session, "STP-SP1")[1]
    assert client.post(URL, json=_body(city, "counter-quick"), headers=auth(known)).status_code == 201
    body = _body(city, "sipas-2017")
    full = client.post(URL, json=body, headers=auth(first))
    lane_on = client.post(URL, json=body, headers=auth(known))
    app.config["HAILONG_KIOSK_LANE"] = False
    lane_off = client.post(URL, json=body, headers=auth(known))
    assert _seen(full) == _seen(lane_on) == _seen(lane_off)
    assert full.status_code == 400 and _stored() == 1


def test_answers_queued_before_the_kiosk_questionnaire_changed_are_held(app, client, city):
    sp = city.service_points["STP-SP1"]
    _kiosk, credential = enrolled_kiosk(db.session, sp.code)
    assert client.post(URL, json=_body(city, "counter-quick"), headers=auth(credential)).status_code == 201
    sp.kiosk_instrument = "sipas-2017"  # the administrator changes the kiosk questionnaire …
    db.session.commit()
    queued = [_body(city, "counter-quick", ago=timedelta(hours=h)) for h in (3, 2)]  # … while these were queued
    for body in queued:
        answer = client.post(URL, json=body, headers=auth(credential))
        assert answer.status_code == 201 and answer.get_json() == {"id": body["client_id"], "status": "created"}
    assert _stored("held") == 2 and _counted() == 1
    reasons = set(db.session.scalars(select(Response.review_reason).where(Response.review_status == "held")))
    assert reasons == {api.NOT_SHOWN_REASON.format(instrument="counter-quick", shown="sipas-2017")}
    # what the kiosk shows now counts
    assert client.post(URL, json=_body(city, "sipas-2017"), headers=auth(credential)).status_code == 201
    assert _counted() == 2
    # a service point whose kiosks never showed SIPAS still refuses it
    other = enrolled_kiosk(db.session, "UBND-NK-SP1")[1]
    assert client.post(URL, json=_body(city, "sipas-2017"), headers=auth(other)).status_code == 400
    # and a resend of a response stored before the change is still recognised
    again = client.post(URL, json=queued[0], headers=auth(credential))
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"

