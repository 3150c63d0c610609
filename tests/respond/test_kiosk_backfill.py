"""A new kiosk cannot backfill the month before it existed (attacker pass, helper H, session 12).

The API takes a response stated up to 31 days ago (an offline queue).  A kiosk enrolled today sent 80 all-satisfied
answers stated over the previous 20 working days, all stored and counted, and no signal saw them (the late-arrival
signal needs responses out of order within one source).  Now a response stated more than 10 minutes before the
kiosk's FIRST enrolment is refused (400, nothing stored), on every path: the full path, the hinted claim, and on
PostgreSQL the one-call way and the WSGI lane.  A new code for the same kiosk (a replaced tablet) keeps the first
enrolment.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from survey.extensions import db
from survey.org import kiosk_service
from survey.org.models import Kiosk
from tests.factories import small_city
from tests.respond.kiosk_factories import auth, enrolled_kiosk
from tests.respond.linkkit import counted, stored_with
from tests.results.factories import DEFAULT_NOW, fix_clock

URL = "/api/v1/responses"
ENROLLED = DEFAULT_NOW  # 7 Dec 2026 03:00 UTC = 10:00 in Vietnam


@pytest.fixture
def city(app, db_session):
    fix_clock(app, ENROLLED)
    app.config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 0
    return small_city(db_session)


def _body(city, stated) -> dict[str, Any]:
    qv = city.questionnaires["counter-quick"]
    return {"client_id": str(uuid.uuid4()), "questionnaire": qv.instrument, "version": qv.version,
            "submitted_at": stated.isoformat(), "language": "vi", "answers": {"C.ATT": 3, "C.HANDLING": 3}}


def _working_days_before(moment, n: int) -> list:
    days, day = [], moment
    while len(days) < n:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days


def test_a_new_kiosk_cannot_backfill_the_month_before_its_enrolment(client, city):
    _kiosk, credential = enrolled_kiosk(db.session, "STP-SP1")
    # the attack: 80 all-satisfied answers stated over the 20 working days before enrolment (4 a day)
    stated = [day.replace(hour=h) for day in _working_days_before(ENROLLED, 20) for h in (1, 3, 6, 8)]
    answers = [client.post(URL, json=_body(city, t), headers=auth(credential)) for t in stated]
    assert {a.status_code for a in answers} == {400}
    assert answers[0].get_json()["errors"] == {
        "submitted_at": "Máy đánh giá này được đăng ký lúc 07/12/2026 10:00: không thể lưu phiếu trả lời được "
                        "thực hiện trước thời điểm đó."}
    assert stored_with(db.session) == 0
    english = client.post(URL, json={**_body(city, ENROLLED - timedelta(days=3)), "language": "en"},
                          headers=auth(credential))
    assert english.get_json()["errors"]["submitted_at"] == (
        "This kiosk was enrolled on 07/12/2026 10:00: a response it made before then cannot be stored.")
    # its own answers go in: a clock up to 10 minutes behind, then after enrolment
    for stated_at in (ENROLLED - timedelta(minutes=9), ENROLLED, ENROLLED + timedelta(minutes=1)):
        assert client.post(URL, json=_body(city, stated_at), headers=auth(credential)).status_code == 201
    # known to the process now (hinted claim; PostgreSQL: one call and the lane): still refused, nothing stored
    for stated_at in (ENROLLED - timedelta(minutes=11), ENROLLED - timedelta(days=25)):
        assert client.post(URL, json=_body(city, stated_at), headers=auth(credential)).status_code == 400
    assert stored_with(db.session) == 3 and counted(db.session) == 3


def test_every_path_gives_the_same_answer_to_a_backfill(app, client, city):
    first = enrolled_kiosk(db.session, "STP-SP1")[1]
    known = enrolled_kiosk(db.session, "STP-SP1")[1]
    assert client.post(URL, json=_body(city, ENROLLED), headers=auth(known)).status_code == 201
    body = _body(city, ENROLLED - timedelta(days=10))
    full = client.post(URL, json=body, headers=auth(first))
    lane_on = client.post(URL, json=body, headers=auth(known))
    app.config["HAILONG_KIOSK_LANE"] = False
    lane_off = client.post(URL, json=body, headers=auth(known))
    seen = [(r.status_code, r.get_json()) for r in (full, lane_on, lane_off)]
    assert seen[0] == seen[1] == seen[2] and seen[0][0] == 400
    assert stored_with(db.session) == 1


def test_a_new_code_for_the_same_kiosk_keeps_its_first_enrolment(app, client, city):
    kiosk, _old = enrolled_kiosk(db.session, "STP-SP1")
    later = ENROLLED + timedelta(days=20)
    fix_clock(app, later)  # the tablet is replaced 20 days later: a new code for the same kiosk
    code = kiosk_service.reissue_code(db.session, kiosk.code).code
    _kiosk, credential = kiosk_service.redeem_code(db.session, code)
    db.session.commit()
    assert db.session.scalar(select(Kiosk.enrolled_at).where(Kiosk.id == kiosk.id)) == ENROLLED
    # answers stated since the first enrolment are the kiosk's own (its queue); before it, still refused
    assert client.post(URL, json=_body(city, ENROLLED + timedelta(days=5)), headers=auth(credential)).status_code == 201
    assert client.post(URL, json=_body(city, ENROLLED - timedelta(days=1)), headers=auth(credential)).status_code == 400
    assert counted(db.session) == 1


def test_a_resend_of_a_stored_response_is_still_recognised(client, city, app):
    """A response stored before is answered 200 whatever its stated time (the kiosk may drop it)."""
    kiosk, credential = enrolled_kiosk(db.session, "STP-SP1")
    body = _body(city, ENROLLED + timedelta(minutes=2))
    assert client.post(URL, json=body, headers=auth(credential)).status_code == 201
    kiosk.enrolled_at = ENROLLED + timedelta(hours=1)  # (as if the kiosk row said otherwise)
    db.session.commit()
    again = client.post(URL, json=body, headers=auth(credential))
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
