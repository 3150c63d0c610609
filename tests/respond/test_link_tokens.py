"""Receipt tokens /r/<token>: answered once, then refused; expired, revoked and unknown links explained."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from survey.database import utcnow
from survey.extensions import db
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond import invitations as inv
from survey.respond.models import Invitation, InvitationBatch, Response
from tests.factories import small_city
from tests.respond.linkkit import answer_everything, form_page, fresh_clients, response_count, stored


@pytest.fixture
def city(db_session):
    return small_city(db_session)


@pytest.fixture
def client(app):
    return fresh_clients(app)


def _batch(city, n=3, days=30, instrument=None, sp="UBND-NK-SP1"):
    created = inv.create_batch(db.session, city.service_points[sp], n, days, instrument=instrument)
    db.session.commit()
    return created


def test_token_is_answered_once_and_the_response_records_the_invitation(client, city):
    created = _batch(city)
    token = created.tokens[0]
    qv = city.questionnaires["sipas-2017"]
    q, item_ids = questionnaire_for(db.session, qv.id)
    html, fields = form_page(client, f"/r/{token}")
    assert city.service_points["UBND-NK-SP1"].name_vi in html
    data, expected = answer_everything(q, seed=2)
    resp = client.post(f"/r/{token}", data={**fields, **data})
    assert resp.status_code == 303
    response = db.session.scalar(select(Response))
    invitation = db.session.scalar(select(Invitation).where(Invitation.token_hash == inv.hash_token(token)))
    assert response.channel == "qr" and response.invitation_id == invitation.id
    assert invitation.used_at is not None
    assert stored(db.session, response, q, item_ids) == expected
    # the second use is refused with an explanation, in Vietnamese by default …
    again = client.get(f"/r/{token}")
    assert again.status_code == 410
    assert "Đường dẫn khảo sát này đã được sử dụng" in again.get_data(as_text=True)
    # … and in English after the language switch
    client.get("/lang/en")
    assert "This survey link has already been used" in client.get(f"/r/{token}").get_data(as_text=True)
    # the other tokens of the batch still work, on the phones of the citizens who hold them (this phone has
    # answered for the service point: the poster's per-phone limit, tests/respond/test_receipt_stuffing.py)
    assert fresh_clients(client.application).get(f"/r/{created.tokens[1]}").status_code == 200


def test_double_submit_of_a_token_form_shows_thanks_and_stores_once(client, city):
    token = _batch(city).tokens[0]
    _html, fields = form_page(client, f"/r/{token}")
    data = {**fields, "OVERALL.SAT": "4"}
    assert client.post(f"/r/{token}", data=data).status_code == 303
    second = client.post(f"/r/{token}", data=data)
    assert second.status_code == 303 and second.headers["Location"].startswith("/thanks")
    assert response_count(db.session) == 1


def test_a_second_phone_with_the_same_receipt_is_refused(app, client, city):
    token = _batch(city).tokens[0]
    _html, first = form_page(client, f"/r/{token}")
    other_client = app.test_client()
    _html, second = form_page(other_client, f"/r/{token}")  # both opened the form before either answered
    assert client.post(f"/r/{token}", data={**first, "OVERALL.SAT": "5"}).status_code == 303
    late = other_client.post(f"/r/{token}", data={**second, "OVERALL.SAT": "1"})
    assert late.status_code == 410
    assert "đã được sử dụng" in late.get_data(as_text=True)
    assert response_count(db.session) == 1


def test_claim_is_conditional(city):
    created = _batch(city, n=1)
    invitation = db.session.scalar(select(Invitation).where(Invitation.batch_id == created.batch.id))
    assert inv.claim(db.session, invitation.id) is True
    assert inv.claim(db.session, invitation.id) is False
    db.session.rollback()
    assert inv.claim(db.session, invitation.id) is True  # rolled back: still unused


def test_invalid_answers_leave_the_token_usable(client, city):
    token = _batch(city).tokens[0]
    _html, fields = form_page(client, f"/r/{token}")
    bad = client.post(f"/r/{token}", data={**fields, "OVERALL.SAT": "6"})
    assert bad.status_code == 422
    assert "Mức đánh giá không hợp lệ" in bad.get_data(as_text=True)
    assert response_count(db.session) == 0
    assert db.session.scalar(select(Invitation.used_at).where(Invitation.token_hash == inv.hash_token(token))) is None
    assert client.post(f"/r/{token}", data={**fields, "OVERALL.SAT": "3"}).status_code == 303


def test_no_csrf_token_refuses_and_keeps_the_token(client, city):
    token = _batch(city).tokens[0]
    _html, fields = form_page(client, f"/r/{token}")
    resp = client.post(f"/r/{token}", data={"client_id": fields["client_id"], "OVERALL.SAT": "3"})
    assert resp.status_code == 400
    assert response_count(db.session) == 0
    assert client.get(f"/r/{token}").status_code == 200


def test_expired_token_explains_until_when_it_was_valid(client, city):
    created = _batch(city, days=1)
    batch = db.session.get(InvitationBatch, created.batch.id)
    batch.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    resp = client.get(f"/r/{created.tokens[0]}")
    assert resp.status_code == 410
    html = resp.get_data(as_text=True)
    assert "Đường dẫn khảo sát này đã hết hạn" in html
    assert batch.expires_at.astimezone(__import__("survey.i18n").i18n.LOCAL_TZ).strftime("%d/%m/%Y") in html
    assert "<form" not in html.split("<main", 1)[1]


def test_revoked_token_is_refused_even_with_a_form_already_open(client, city):
    created = _batch(city)
    token = created.tokens[0]
    _html, fields = form_page(client, f"/r/{token}")
    inv.revoke_batch(db.session, db.session.get(InvitationBatch, created.batch.id))
    db.session.commit()
    resp = client.post(f"/r/{token}", data={**fields, "OVERALL.SAT": "5"})
    assert resp.status_code == 410
    assert "Đường dẫn khảo sát này đã bị thu hồi" in resp.get_data(as_text=True)
    assert response_count(db.session) == 0


@pytest.mark.parametrize("token", ["nonsense", "A" * 32, "x" * 300])
def test_unknown_token_gets_a_friendly_page(client, city, token):
    resp = client.get(f"/r/{token}")
    assert resp.status_code == 404
    html = resp.get_data(as_text=True)
    assert "Đường dẫn khảo sát này không hợp lệ" in html
    assert "Trang này không tồn tại" not in html  # not the generic error page


def test_batch_instrument_overrides_the_service_point_default(client, city):
    token = _batch(city, instrument="counter-quick").tokens[0]
    qv = city.questionnaires["counter-quick"]
    q, _ = questionnaire_for(db.session, qv.id)
    html, fields = form_page(client, f"/r/{token}")
    assert q.title.vi in html
    data, _expected = answer_everything(q)
    assert client.post(f"/r/{token}", data={**fields, **data}).status_code == 303
    assert db.session.scalar(select(Response.questionnaire_version_id)) == qv.id


def test_two_phones_racing_with_one_receipt_store_one_response(app, city):
    """Both check the token as valid, then claim and store at the same moment on separate connections."""
    import threading

    from sqlalchemy.orm import Session

    from survey.respond.store import Submission

    created = _batch(city, n=1)
    qv_id = city.questionnaires["sipas-2017"].id
    sp_id = city.service_points["UBND-NK-SP1"].id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def phone(value: int) -> None:
        with Session(db.engine) as session:
            check = inv.check_token(session, created.tokens[0])
            assert check.status == inv.VALID
            sub = Submission(service_point_id=sp_id, questionnaire_version_id=qv_id, answers={"OVERALL.SAT": value},
                             channel="qr", invitation_id=check.invitation.id)
            barrier.wait()
            response, _created = inv.store_invited_response(session, sub)
            outcomes.append("refused" if response is None else "stored")

    threads = [threading.Thread(target=phone, args=(v,)) for v in (2, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["refused", "stored"]
    assert response_count(db.session) == 1


def test_rejected_submission_rolls_back_the_claim(city):
    from survey.respond.store import Submission, SubmissionError

    created = _batch(city, n=1)
    check = inv.check_token(db.session, created.tokens[0])
    sub = Submission(service_point_id=city.service_points["UBND-NK-SP1"].id,
                     questionnaire_version_id=city.questionnaires["sipas-2017"].id,
                     answers={"OVERALL.SAT": 9}, channel="qr", invitation_id=check.invitation.id)
    with pytest.raises(SubmissionError):
        inv.store_invited_response(db.session, sub)
    assert inv.check_token(db.session, created.tokens[0]).status == inv.VALID
    assert response_count(db.session) == 0
