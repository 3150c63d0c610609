"""POST /api/v1/responses and the heartbeat: authentication, validation per field, idempotency, throttling."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from questionnaires.loader import load_file, load_shipped, shipped
from survey.extensions import db
from survey.org import kiosk_service
from survey.org.models import Kiosk
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.models import Answer, AnswerTally, Comment, Response, ResponseTally
from tests.factories import small_city
from tests.respond.kiosk_factories import auth, enrolled_kiosk, payload, valid_answers
from tests.results.factories import DEFAULT_NOW, fix_clock


@pytest.fixture
def city(app, db_session):
    """The small city at a fixed "now" (DEFAULT_NOW): a run crossing a month boundary would split the counts."""
    fix_clock(app, DEFAULT_NOW)
    return small_city(db_session)


@pytest.fixture
def kiosk(db_session, city):
    return enrolled_kiosk(db_session)


@pytest.fixture
def no_interval(app):
    app.config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 0


def _counts(session):
    return {m.__name__: session.scalar(select(func.count()).select_from(m))
            for m in (Response, Answer, Comment, ResponseTally, AnswerTally)}


def _tally_total(session):
    return session.scalar(select(func.coalesce(func.sum(ResponseTally.count), 0)))


def _quick(city, **answers):
    qv = city.questionnaires["counter-quick"]
    return payload(qv.instrument, qv.version, answers or {"C.ATT": 3, "C.HANDLING": 2})


def test_first_submission_is_created_and_a_resend_is_not_stored_again(client, db_session, city, kiosk):
    kiosk_obj, credential = kiosk
    body = _quick(city, **{"C.ATT": 3, "C.HANDLING": 2, "COMMENT": "Tốt <script>alert(1)</script>"})
    first = client.post("/api/v1/responses", json=body, headers=auth(credential))
    assert first.status_code == 201
    assert first.get_json() == {"id": body["client_id"], "status": "created"}
    before = _counts(db_session)
    assert before["Response"] == 1 and before["Comment"] == 1
    again = client.post("/api/v1/responses", json=body, headers=auth(credential))
    assert again.status_code == 200
    assert again.get_json() == {"id": body["client_id"], "status": "duplicate"}
    assert _counts(db_session) == before
    assert _tally_total(db_session) == 1
    stored = db_session.scalar(select(Response))
    assert (stored.channel, stored.kiosk_id, stored.service_point_id) == (
        "kiosk", kiosk_obj.id, city.service_points["STP-SP1"].id)
    tallies = dict(db_session.execute(select(AnswerTally.value, func.sum(AnswerTally.count))
                                      .group_by(AnswerTally.value)).all())
    assert tallies == {3: 1, 2: 1}


def test_a_resend_is_not_throttled_but_a_new_response_is(client, db_session, app, city, kiosk):
    app.config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 30
    _, credential = kiosk
    body = _quick(city)
    assert client.post("/api/v1/responses", json=body, headers=auth(credential)).status_code == 201
    assert client.post("/api/v1/responses", json=body, headers=auth(credential)).status_code == 200
    second = client.post("/api/v1/responses", json=_quick(city), headers=auth(credential))
    assert second.status_code == 429
    retry = int(second.headers["Retry-After"])
    assert 1 <= retry <= 30
    assert second.get_json()["retry_after"] == retry
    assert _counts(db_session)["Response"] == 1
    # once the interval has passed the next citizen's response is accepted
    row = db_session.get(Kiosk, kiosk[0].id)
    row.last_submission_at = row.last_submission_at - timedelta(seconds=31)
    db_session.commit()
    assert client.post("/api/v1/responses", json=_quick(city), headers=auth(credential)).status_code == 201
    assert _counts(db_session)["Response"] == 2


def test_interval_is_per_kiosk_not_per_address(client, db_session, app, city, kiosk):
    app.config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 30
    _, first = kiosk
    _, second = enrolled_kiosk(db_session, "UBND-NK-SP1")
    assert client.post("/api/v1/responses", json=_quick(city), headers=auth(first)).status_code == 201
    assert client.post("/api/v1/responses", json=_quick(city), headers=auth(second)).status_code == 201


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Kiosk not-a-credential"},
                                     {"Authorization": "Bearer x"}])
def test_unknown_credential_is_401_and_nothing_stored(client, db_session, city, kiosk, headers):
    resp = client.post("/api/v1/responses", json=_quick(city), headers=headers)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == "Kiosk"
    assert resp.get_json()["error"] == "unauthorized"
    assert _counts(db_session)["Response"] == 0


def test_revoked_credential_is_401(client, db_session, city, kiosk):
    kiosk_obj, credential = kiosk
    kiosk_service.revoke_kiosk(db_session, kiosk_obj.code)
    db_session.commit()
    resp = client.post("/api/v1/responses", json=_quick(city), headers=auth(credential))
    assert resp.status_code == 401
    assert _counts(db_session)["Response"] == 0


def test_cookie_credential_works_only_for_json(client, db_session, city, kiosk):
    _, credential = kiosk
    client.set_cookie("hl_kiosk", credential)
    assert client.post("/api/v1/responses", json=_quick(city)).status_code == 201
    # a cross-site form post cannot send JSON: with the cookie alone it is not authenticated
    form = client.post("/api/v1/responses", data={"client_id": str(uuid.uuid4())})
    assert form.status_code == 401


BAD_CASES = [
    ("not json", None, "_"),
    ("list body", [], "_"),
    ("client_id", {"client_id": "abc"}, "client_id"),
    ("missing client_id", {"client_id": None}, "client_id"),
    ("unknown questionnaire", {"questionnaire": "nope"}, "questionnaire"),
    ("unknown version", {"version": 99}, "questionnaire"),
    ("version not int", {"version": "1"}, "version"),
    ("naive time", {"submitted_at": "2026-01-01T10:00:00"}, "submitted_at"),
    ("garbage time", {"submitted_at": "yesterday"}, "submitted_at"),
    ("future time", {"submitted_at": (DEFAULT_NOW + timedelta(days=2)).isoformat()}, "submitted_at"),
    ("language", {"language": "fr"}, "language"),
    ("answers not object", {"answers": [1, 2]}, "answers"),
    ("answer of wrong shape", {"answers": {"C.ATT": {"x": 1}}}, "answers"),
    ("required missing", {"answers": {"C.ATT": 3}}, "C.HANDLING"),
    ("level out of range", {"answers": {"C.ATT": 4, "C.HANDLING": 2}}, "C.ATT"),
    ("no opinion not offered", {"answers": {"C.ATT": 0, "C.HANDLING": 2}}, "C.ATT"),
    ("unknown item", {"answers": {"C.ATT": 3, "C.HANDLING": 2, "Q99": 1}}, "Q99"),
    ("comment too long", {"answers": {"C.ATT": 3, "C.HANDLING": 2, "COMMENT": "x" * 501}}, "COMMENT"),
    ("comment not text", {"answers": {"C.ATT": 3, "C.HANDLING": 2, "COMMENT": [1]}}, "COMMENT"),
]


@pytest.mark.parametrize(("case", "change", "field"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_payload_is_400_per_field_and_nothing_stored(client, db_session, city, kiosk, case, change, field):
    _, credential = kiosk
    if change is None:
        resp = client.post("/api/v1/responses", data="{not json", headers={**auth(credential),
                                                                           "Content-Type": "application/json"})
    elif not isinstance(change, dict):
        resp = client.post("/api/v1/responses", json=change, headers=auth(credential))
    else:
        resp = client.post("/api/v1/responses", json={**_quick(city), **change}, headers=auth(credential))
    assert resp.status_code == 400, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["error"] == "invalid"
    assert field in body["errors"], body
    assert all(isinstance(m, str) and m for m in body["errors"].values())
    assert _counts(db_session) == {"Response": 0, "Answer": 0, "Comment": 0, "ResponseTally": 0, "AnswerTally": 0}
    # a rejected payload does not use up the kiosk's interval
    assert db_session.scalar(select(Kiosk.last_submission_at)) is None


def test_error_messages_follow_the_request_language(client, city, kiosk):
    _, credential = kiosk
    body = {**_quick(city), "answers": {"C.ATT": 9}}
    vi = client.post("/api/v1/responses", json=body, headers=auth(credential)).get_json()
    en = client.post("/api/v1/responses", json={**body, "language": "en"}, headers=auth(credential)).get_json()
    assert vi["errors"]["C.HANDLING"] == "Vui lòng chọn một mức đánh giá."
    assert en["errors"]["C.HANDLING"] == "Please choose a rating."
    assert en["message"] != vi["message"]


def test_every_shipped_questionnaire_walks_through_the_api(client, db_session, city, kiosk, no_interval):
    """Each shipped instrument (all items, then only its kiosk items) is stored once and counted once, by a kiosk
    whose service point shows it (a kiosk stores only its own questionnaire: tests/respond/test_kiosk_stuffing.py)."""
    kiosk_obj, credential = kiosk
    expected = 0
    for path in shipped():
        q = load_file(path)
        kiosk_obj.service_point.kiosk_instrument = q.id
        db_session.commit()
        qv = db_session.scalar(select(QuestionnaireVersion).where(QuestionnaireVersion.instrument == q.id,
                                                                  QuestionnaireVersion.version == q.version))
        for items in (q.items(), q.kiosk_items()):
            answers = valid_answers(q, items)
            if any(it.required and it.code not in answers for it in q.items()):
                continue  # a kiosk subset must include the required items
            for language in ("vi", "en"):
                body = payload(q.id, q.version, answers, language=language)
                resp = client.post("/api/v1/responses", json=body, headers=auth(credential))
                assert resp.status_code == 201, (q.id, resp.get_json())
                expected += 1
                stored = db_session.scalar(select(Response).where(Response.client_id == body["client_id"]))
                parsed, item_ids = questionnaire_for(db.session, qv.id)
                rows = db_session.execute(select(Answer.item_id, Answer.value)
                                          .where(Answer.response_id == stored.id)).all()
                want = sorted((item_ids[c], v) for c, val in answers.items() if parsed.item(c).type != "text"
                              for v in (val if isinstance(val, list) else [val]))
                assert sorted(rows) == want
                assert stored.language == language
    assert _counts(db_session)["Response"] == expected
    assert _tally_total(db_session) == expected


def test_heartbeat_records_contact_queue_and_version(client, db_session, city, kiosk):
    kiosk_obj, credential = kiosk
    kiosk_obj.last_seen_at = DEFAULT_NOW - timedelta(hours=3)
    db_session.commit()
    assert kiosk_service.is_stale(kiosk_obj)
    resp = client.post("/api/v1/kiosk/heartbeat", json={"queue_length": 4, "software_version": "1.abc"},
                       headers=auth(credential))
    assert resp.status_code == 200
    assert resp.get_json()["questionnaire"] == {"id": "counter-quick", "version": load_shipped("counter-quick").version}
    db_session.refresh(kiosk_obj)
    assert (kiosk_obj.queue_length, kiosk_obj.software_version) == (4, "1.abc")
    assert not kiosk_service.is_stale(kiosk_obj)


@pytest.mark.parametrize("body", [{"queue_length": -1}, {"queue_length": "3"}, {"software_version": "x" * 65}])
def test_bad_heartbeat_is_400(client, db_session, city, kiosk, body):
    _, credential = kiosk
    resp = client.post("/api/v1/kiosk/heartbeat", json=body, headers=auth(credential))
    assert resp.status_code == 400
    assert set(resp.get_json()["errors"]) <= {"queue_length", "software_version"}


def test_heartbeat_needs_a_credential(client, city):
    assert client.post("/api/v1/kiosk/heartbeat", json={"queue_length": 0}).status_code == 401


def test_api_cap_per_kiosk_is_json_429(client, app, city, kiosk):
    app.config["HAILONG_KIOSK_API_LIMIT"] = "3 per minute"
    _, credential = kiosk
    statuses = [client.post("/api/v1/kiosk/heartbeat", json={}, headers=auth(credential)).status_code
                for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    last = client.post("/api/v1/kiosk/heartbeat", json={}, headers=auth(credential))
    assert last.get_json()["error"] == "too_many_requests"
    assert int(last.headers["Retry-After"]) > 0


def test_oversized_body_is_413_json(client, db_session, city, kiosk):
    _, credential = kiosk
    body = _quick(city, **{"C.ATT": 3, "C.HANDLING": 2, "COMMENT": "x" * 300_000})
    resp = client.post("/api/v1/responses", json=body, headers=auth(credential))
    assert resp.status_code == 413
    assert resp.get_json()["error"] == "request_entity_too_large"
    assert _counts(db_session)["Response"] == 0


def test_concurrent_submissions_from_one_kiosk_one_wins(app, client, db_session, database_url, city, kiosk):
    """Two workers receive two new responses from one kiosk at once: the database lets exactly one in."""
    import threading

    if not database_url.startswith("postgresql"):
        pytest.skip("several workers run on PostgreSQL; SQLite serialises its writers")
    app.config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 30
    _, credential = kiosk
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def submit(body: dict) -> None:
        c = app.test_client()
        barrier.wait()
        statuses.append(c.post("/api/v1/responses", json=body, headers=auth(credential)).status_code)
        db.session.remove()

    # the bodies are dated here, by the app's clock: a thread has no app context (payload would read the real one)
    threads = [threading.Thread(target=submit, args=(_quick(city),)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(statuses) == [201, 429]
    assert _counts(db_session)["Response"] == 1


# A kiosk that has stored a response is remembered by the serving process (its body is then read before the
# database is asked); every change to its right to submit still takes effect on the very next submission.

def _stored_once(client, city, credential):
    assert client.post("/api/v1/responses", json=_quick(city), headers=auth(credential)).status_code == 201


def test_a_known_kiosk_revoked_after_submitting_is_refused_at_once(client, db_session, city, kiosk, no_interval):
    kiosk_obj, credential = kiosk
    _stored_once(client, city, credential)
    kiosk_service.revoke_kiosk(db_session, kiosk_obj.code)
    db_session.commit()
    for body in (_quick(city), {"client_id": "not a uuid"}, _quick(city, **{"C.ATT": 99})):
        resp = client.post("/api/v1/responses", json=body, headers=auth(credential))
        assert resp.status_code == 401 and resp.get_json()["error"] == "unauthorized"
    assert _counts(db_session)["Response"] == 1 and _tally_total(db_session) == 1


def test_a_known_kiosk_whose_service_point_retires_is_refused_at_once(client, db_session, city, kiosk, no_interval):
    from survey.org.service import reactivate_service_point, retire_service_point

    _, credential = kiosk
    _stored_once(client, city, credential)
    point = city.service_points["STP-SP1"]
    retire_service_point(db_session, point)
    db_session.commit()
    assert client.post("/api/v1/responses", json=_quick(city), headers=auth(credential)).status_code == 401
    assert _counts(db_session)["Response"] == 1
    reactivate_service_point(db_session, point)
    db_session.commit()
    _stored_once(client, city, credential)
    assert _counts(db_session)["Response"] == 2 and _tally_total(db_session) == 2


def test_a_known_kiosk_is_refused_a_version_withdrawn_since(client, db_session, city, kiosk, no_interval):
    _, credential = kiosk
    _stored_once(client, city, credential)
    qv = db_session.get(QuestionnaireVersion, city.questionnaires["counter-quick"].id)
    qv.status = "retired"
    db_session.commit()
    resp = client.post("/api/v1/responses", json=_quick(city), headers=auth(credential))
    assert resp.status_code == 400 and "questionnaire" in resp.get_json()["errors"]
    assert _counts(db_session)["Response"] == 1
    qv.status = "published"
    db_session.commit()
    _stored_once(client, city, credential)


def test_a_known_kiosk_is_still_throttled_and_its_resend_still_answered(client, db_session, app, city, kiosk):
    app.config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 30
    _, credential = kiosk
    body = _quick(city)
    assert client.post("/api/v1/responses", json=body, headers=auth(credential)).status_code == 201
    too_soon = client.post("/api/v1/responses", json=_quick(city), headers=auth(credential))
    assert too_soon.status_code == 429 and too_soon.get_json()["error"] == "too_soon"
    again = client.post("/api/v1/responses", json=body, headers=auth(credential))
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    assert _counts(db_session)["Response"] == 1 and _tally_total(db_session) == 1


def test_api_answers_keep_the_security_headers_and_set_no_cookie(client, city, kiosk):
    """The API skips the page-only request hooks (CSRF, sign-in, CSP nonce, cookie session), not the headers."""
    _, credential = kiosk
    for resp in (client.post("/api/v1/responses", json=_quick(city), headers=auth(credential)),
                 client.post("/api/v1/responses", json=_quick(city))):
        assert resp.status_code in (201, 401)
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        assert "Set-Cookie" not in resp.headers
    # pages still get their session and CSRF protection
    page = client.get("/auth/login")
    assert page.status_code == 200 and 'name="csrf_token"' in page.get_data(as_text=True)
    assert client.post("/auth/login", data={"email": "x@example.org", "password": "x"}).status_code == 400


def test_a_known_kiosk_sending_into_a_published_month_is_kept_late(client, db_session, city, kiosk, no_interval):
    from survey.respond import quarantine
    from survey.respond.store import local_period
    from survey.results import publication as pub
    from tests.dashboard.publication_checks import tallies_equal_recount

    _, credential = kiosk
    _stored_once(client, city, credential)
    qv = city.questionnaires["counter-quick"]
    body = _quick(city)
    month = local_period(datetime.fromisoformat(body["submitted_at"]))
    pub.publish(db_session, questionnaire_version_id=qv.id, label=f"{month:%Y-%m}", start=month, end=month,
                measure="OVERALL", build=lambda: {lang: ("", b"", "") for lang in ("vi", "en")},
                at=pub.cutoff(db_session), user_id=None)
    assert client.post("/api/v1/responses", json=body, headers=auth(credential)).status_code == 201
    stored = db_session.scalar(select(Response).where(Response.client_id == body["client_id"]))
    assert stored.review_status == quarantine.LATE
    assert _tally_total(db_session) == 1  # the published figures do not move
    tallies_equal_recount(db_session)


def test_a_known_kiosk_holds_the_publication_lock_until_it_commits(app, client, db_session, city, kiosk, no_interval):
    """PostgreSQL: the one statement of a known kiosk takes the publication lock shared before it reads whether the
    month is published, so a publication cannot commit between that read and the response's commit."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    from survey.database import utcnow
    from survey.respond import api, quarantine
    from survey.respond.store import local_period

    engine = db_session.get_bind()
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    kiosk_obj, credential = kiosk
    _stored_once(client, city, credential)
    qv = city.questionnaires["counter-quick"]
    publisher = Session(bind=engine)
    try:
        with app.test_request_context():
            now = utcnow()
            row = api.claim_as_known(kiosk_obj.id, kiosk_service.digest(credential), qv.id, local_period(now), now)
            assert row is not None and row[-1] is None  # authenticated, month not published
            publisher.execute(text("SET LOCAL lock_timeout = '300ms'"))
            with pytest.raises(OperationalError):
                quarantine.lock_publications(publisher, exclusive=True)
            publisher.rollback()
            db.session.rollback()
        publisher.execute(text("SET LOCAL lock_timeout = '300ms'"))
        quarantine.lock_publications(publisher, exclusive=True)  # free once the submission ended
        publisher.rollback()
    finally:
        publisher.close()
