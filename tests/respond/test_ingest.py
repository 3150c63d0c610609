"""A known kiosk's response in one PostgreSQL call (survey/respond/ingest.py): the same rows, counts and refusals as
the usual path, which SQLite always takes (each test runs on both databases)."""

from __future__ import annotations

import re
import threading
import time
import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from survey.org import kiosk_service
from survey.respond import ingest, quarantine
from survey.respond.models import Answer, AnswerTally, Comment, MomentTally, Response, ResponseTally
from survey.respond.store import Submission, rebuild_tallies
from tests.dashboard.publication_checks import tallies_equal_recount
from tests.factories import small_city
from tests.respond.kiosk_factories import auth, enrolled_kiosk, payload
from tests.results.factories import DEFAULT_NOW, fix_clock


@pytest.fixture
def city(app, db_session):
    """The small city at a fixed "now" (DEFAULT_NOW): a run crossing a month boundary would split the counts."""
    fix_clock(app, DEFAULT_NOW)
    return small_city(db_session)


@pytest.fixture
def no_interval(app):
    app.config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 0


def _cells(session):
    """Every count-table cell, the moment cells' Gram blobs included."""
    rt, at, mt = ResponseTally.__table__, AnswerTally.__table__, MomentTally.__table__
    return (sorted(session.execute(select(rt)).all()), sorted(session.execute(select(at)).all()),
            sorted(session.execute(select(mt.c.service_point_id, mt.c.respondents, mt.c.gram,
                                          mt.c.last_response_id)).all()))


# (service point, answers): the first response of each kiosk authenticates in full, the rest are "known"
SENDS = [
    ("STP-SP1", {"C.ATT": 3, "C.HANDLING": 2}),
    ("STP-SP1", {"C.ATT": 1, "C.HANDLING": 3, "C.E1": None, "COMMENT": "Chờ lâu, gọi 0912 345 678"}),
    ("UBND-NK-SP1", {"C.ATT": 2, "C.HANDLING": 2, "C.E2": 1}),
    ("STP-SP1", {"C.ATT": 3, "C.HANDLING": 1, "C.E4": 2, "C.E5": 3, "COMMENT": " "}),
    ("UBND-NK-SP1", {"C.ATT": 1, "C.HANDLING": 1}),
    ("STP-SP1", {"C.ATT": 2, "C.HANDLING": 3, "C.E2": None}),
]


def test_known_kiosks_store_the_same_rows_and_counts_as_a_recount(client, db_session, city, no_interval):
    qv = city.questionnaires["counter-quick"]
    credentials = {code: enrolled_kiosk(db_session, code)[1] for code in ("STP-SP1", "UBND-NK-SP1")}
    for code, answers in SENDS:
        body = payload(qv.instrument, qv.version, answers)
        assert client.post("/api/v1/responses", json=body, headers=auth(credentials[code])).status_code == 201
    db_session.rollback()
    item = {c: i for c, i in db_session.execute(text("SELECT code, id FROM item WHERE questionnaire_version_id = :v"),
                                                {"v": qv.id})}
    point = {code: city.service_points[code].id for code in credentials}
    want: dict[tuple[int, int, int], int] = {}
    for code, answers in SENDS:
        for c, v in answers.items():
            if c != "COMMENT" and v is not None:
                want[point[code], item[c], v] = want.get((point[code], item[c], v), 0) + 1
    got = {(sp, i, v): n for sp, i, v, n in db_session.execute(
        select(AnswerTally.service_point_id, AnswerTally.item_id, AnswerTally.value, AnswerTally.count))}
    assert got == want
    assert dict(db_session.execute(select(ResponseTally.service_point_id, ResponseTally.count)).all()) == {
        point["STP-SP1"]: 4, point["UBND-NK-SP1"]: 2}
    assert db_session.scalar(select(func.count()).select_from(Answer)) == sum(
        len([c for c, v in a.items() if c != "COMMENT" and v is not None]) for _, a in SENDS)
    # the comment redacted as every channel stores it; a blank one stored nowhere
    assert db_session.scalars(select(Comment.text)).all() == ["Chờ lâu, gọi [***]"]
    tallies_equal_recount(db_session)
    cells = _cells(db_session)
    rebuild_tallies(db_session)  # the moment cells' Gram matrices too
    assert _cells(db_session) == cells
    db_session.rollback()


def test_a_known_kiosk_resend_and_too_soon_are_answered_as_before(client, db_session, app, city):
    app.config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 30
    qv = city.questionnaires["counter-quick"]
    _, credential = enrolled_kiosk(db_session)
    first = payload(qv.instrument, qv.version, {"C.ATT": 3, "C.HANDLING": 2})
    assert client.post("/api/v1/responses", json=first, headers=auth(credential)).status_code == 201
    too_soon = client.post("/api/v1/responses", json=payload(qv.instrument, qv.version, {"C.ATT": 1}),
                           headers=auth(credential))
    assert too_soon.status_code == 429 and too_soon.headers["Retry-After"]
    again = client.post("/api/v1/responses", json=first, headers=auth(credential))
    assert again.status_code == 200 and again.get_json() == {"id": first["client_id"], "status": "duplicate"}
    app.config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 0
    wrong = client.post("/api/v1/responses", json=payload(qv.instrument, qv.version, {"C.ATT": 9}),
                        headers=auth(credential))
    assert wrong.status_code == 400 and "C.ATT" in wrong.get_json()["errors"]
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Response)) == 1
    tallies_equal_recount(db_session)


def _pg_only(db_session):
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("the server-side function is PostgreSQL's; SQLite takes the usual path")


def _known(db_session, city, kiosk, credential, level, *, client_id=None):
    """store_known on a session of its own (what the API does for a known kiosk), not committed."""
    qv = city.questionnaires["counter-quick"]
    session = Session(bind=db_session.get_bind())
    sub = Submission(service_point_id=0, questionnaire_version_id=qv.id, channel="kiosk", kiosk_id=kiosk.id,
                     answers={"C.ATT": level, "C.HANDLING": level}, submitted_at=DEFAULT_NOW,
                     client_id=client_id or str(uuid.uuid4()))
    stored = ingest.store_known(session, sub, credential_digest=kiosk_service.digest(credential),
                                checksum=qv.checksum, interval=0, now=DEFAULT_NOW)
    return session, stored


def test_the_call_holds_the_publication_lock_until_the_submission_commits(db_session, city):
    _pg_only(db_session)
    kiosk, credential = enrolled_kiosk(db_session)
    session, stored = _known(db_session, city, kiosk, credential, 3)
    publisher = Session(bind=db_session.get_bind())
    try:
        assert stored
        publisher.execute(text("SET LOCAL lock_timeout = '300ms'"))
        with pytest.raises(Exception, match="lock timeout"):
            quarantine.lock_publications(publisher, exclusive=True)
        publisher.rollback()
        session.commit()
        publisher.execute(text("SET LOCAL lock_timeout = '300ms'"))
        quarantine.lock_publications(publisher, exclusive=True)  # free once the submission ended
        publisher.rollback()
    finally:
        publisher.close()
        session.close()


def test_two_known_kiosks_first_in_a_new_cell_at_once_are_both_counted(db_session, city):
    """The second waits for the first's count-table row, then adds to the moment cell the first created."""
    _pg_only(db_session)
    kiosks = [enrolled_kiosk(db_session) for _ in range(2)]
    first, stored = _known(db_session, city, *kiosks[0], 3)
    errors: list[BaseException] = []
    results: list[bool] = []

    def second() -> None:
        try:
            session, ok = _known(db_session, city, *kiosks[1], 1)
            results.append(ok)
            session.commit()
            session.close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    try:
        assert stored
        thread = threading.Thread(target=second)
        thread.start()
        waiting = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not db_session.scalar(waiting):
            db_session.rollback()  # pg_stat_activity is read once per transaction: look again in a new one
            time.sleep(0.05)
        db_session.rollback()
        first.commit()
        thread.join(timeout=30)
    finally:
        first.close()
    assert not errors and results == [True]
    db_session.rollback()
    assert db_session.scalar(select(MomentTally.respondents)) == 2
    tallies_equal_recount(db_session)
    cells = _cells(db_session)
    rebuild_tallies(db_session)
    assert _cells(db_session) == cells
    db_session.rollback()


def test_a_resend_or_refused_kiosk_is_left_to_the_usual_path_with_nothing_written(db_session, city):
    _pg_only(db_session)
    kiosk, credential = enrolled_kiosk(db_session)
    client_id = str(uuid.uuid4())
    session, stored = _known(db_session, city, kiosk, credential, 3, client_id=client_id)
    assert stored
    session.commit()
    session.close()
    resend, stored = _known(db_session, city, kiosk, credential, 3, client_id=client_id)
    assert not stored
    resend.rollback()
    resend.close()
    kiosk_service.revoke_kiosk(db_session, kiosk.code)
    db_session.commit()
    revoked, stored = _known(db_session, city, kiosk, credential, 2)
    assert not stored
    revoked.close()
    assert db_session.scalar(select(func.count()).select_from(Response)) == 1
    tallies_equal_recount(db_session)


def test_a_database_without_the_function_stores_the_usual_way(client, db_session, city, no_interval):
    _pg_only(db_session)
    qv = city.questionnaires["counter-quick"]
    _, credential = enrolled_kiosk(db_session)
    db_session.execute(text("DROP FUNCTION hailong_kiosk_store"))
    db_session.commit()
    try:
        for level in (3, 2, 1):
            body = payload(qv.instrument, qv.version, {"C.ATT": level, "C.HANDLING": level})
            assert client.post("/api/v1/responses", json=body, headers=auth(credential)).status_code == 201
    finally:
        ingest._missing.clear()  # the test dropped the function
        from survey.respond.ingest_sql import install

        with db_session.get_bind().begin() as conn:
            install(conn)
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Response)) == 3
    tallies_equal_recount(db_session)


def test_api_security_headers_are_talismans_for_each_kind_of_request(app, database_url, db_session, city):
    """Kept per process (survey/respond/api_headers.py), they still follow the request: HSTS only over HTTPS or
    behind a proxy that says so, in production; the same values Talisman sets on a page."""
    from survey import create_app

    prod = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "p" * 48,
                       "HAILONG_PRODUCTION": True, "RATELIMIT_STORAGE_URI": "memory://"})
    prod.test_client_class = type(app.test_client())
    client = prod.test_client()
    names = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy",
             "Strict-Transport-Security")
    for _ in range(2):  # the second answer of each kind comes from the kept copy
        plain = client.post("/api/v1/responses", json={})
        https = client.post("/api/v1/responses", json={}, base_url="https://localhost")
        forwarded = client.post("/api/v1/responses", json={}, headers={"X-Forwarded-Proto": "https"})
        page = client.get("/auth/login", base_url="https://localhost")
        assert plain.status_code == https.status_code == forwarded.status_code == 401
        assert "Strict-Transport-Security" not in plain.headers
        want = {n: page.headers.get(n) for n in names}
        want["Content-Security-Policy"] = re.sub(r" 'nonce-[^']*'", "", want["Content-Security-Policy"])
        assert want["Strict-Transport-Security"] and want["X-Frame-Options"] == "DENY"
        for resp in (https, forwarded):
            assert {n: resp.headers.get(n) for n in names} == want
        assert plain.headers["Content-Security-Policy"] == https.headers["Content-Security-Policy"]
        assert "nonce" not in plain.headers["Content-Security-Policy"]
