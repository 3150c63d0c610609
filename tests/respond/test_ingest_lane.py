"""The kiosk lane below Flask (survey/respond/ingest_wsgi.py): a known kiosk's valid new response on PostgreSQL is
stored and answered without Flask, with the answer Flask gives; every other request is Flask's, answer for answer.

Each comparison sends the same requests from two kiosks of one service point, one with the lane on and one with it
off (HAILONG_KIOSK_LANE), and compares status, headers and body.  On SQLite the lane never stores (it is a
PostgreSQL call) and the answers are Flask's by construction."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from survey.extensions import db
from survey.ops import metrics
from survey.org import kiosk_service
from survey.respond import ingest_wsgi
from survey.respond.models import Answer, Comment, MomentTally, Response
from survey.respond.store import rebuild_tallies
from tests.dashboard.publication_checks import tallies_equal_recount
from tests.respond.kiosk_factories import auth, enrolled_kiosk, payload

URL = "/api/v1/responses"


@pytest.fixture
def city(app, db_session):
    """The small city at a fixed "now" (DEFAULT_NOW): a run crossing a month boundary would split the counts."""
    from tests.factories import small_city
    from tests.results.factories import DEFAULT_NOW, fix_clock

    fix_clock(app, DEFAULT_NOW)
    return small_city(db_session)


@pytest.fixture
def setup(app, db_session, city):
    app.config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 0
    return app, db_session, city


def _lane(app) -> ingest_wsgi.KioskLane:
    lane = app.wsgi_app
    assert isinstance(lane, ingest_wsgi.KioskLane)
    return lane


def _pg(db_session) -> bool:
    return db_session.get_bind().dialect.name == "postgresql"


def _quick(city, **answers: Any) -> dict[str, Any]:
    qv = city.questionnaires["counter-quick"]
    return payload(qv.instrument, qv.version, {"C.ATT": 3, "C.HANDLING": 2, **answers})


def _seen(resp, client_id: str | None = None) -> tuple[int, list[tuple[str, str]], Any]:
    """What a kiosk sees, with the one thing that differs between two kiosks' answers (the client id) blanked."""
    headers = sorted((k, v) for k, v in resp.headers.items() if k not in ("Content-Length", "Retry-After"))
    body = resp.get_data()
    if client_id:
        body = body.replace(client_id.encode(), b"<id>")
    return resp.status_code, headers, body


def _known_pair(app, db_session, city):
    """Two kiosks of one service point, each known to this process (one response stored through Flask)."""
    client = app.test_client()
    kiosks = [enrolled_kiosk(db_session, "STP-SP1") for _ in range(2)]
    for _, credential in kiosks:
        assert client.post(URL, json=_quick(city), headers=auth(credential)).status_code == 201
    return client, kiosks


def _both(app, client, kiosks, send) -> tuple[Any, Any, int]:
    """`send(client, credential)` → response: kiosk 0 with the lane on, kiosk 1 with it off; how many the lane
    stored for kiosk 0."""
    lane = _lane(app)
    before = lane.served
    on = send(client, kiosks[0][1])
    served = lane.served - before
    app.config["HAILONG_KIOSK_LANE"] = False
    try:
        off = send(client, kiosks[1][1])
    finally:
        app.config["HAILONG_KIOSK_LANE"] = True
    return on, off, served


def test_a_known_kiosks_new_response_is_stored_by_the_lane_with_flasks_answer(setup):
    app, db_session, city = setup
    client, kiosks = _known_pair(app, db_session, city)
    bodies = [_quick(city, COMMENT="Chờ lâu"), _quick(city, **{"C.ATT": 1})]
    sent = iter(bodies)
    on, off, served = _both(app, client, kiosks, lambda c, cred: c.post(URL, json=next(sent), headers=auth(cred)))
    assert served == (1 if _pg(db_session) else 0)
    assert on.status_code == 201 and on.get_json() == {"id": bodies[0]["client_id"], "status": "created"}
    assert _seen(on, bodies[0]["client_id"]) == _seen(off, bodies[1]["client_id"])
    assert "no-store" in on.headers["Cache-Control"] and on.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in on.headers
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Response)) == 4
    assert db_session.scalars(select(Comment.text)).all() == ["Chờ lâu"]
    tallies_equal_recount(db_session)


def _too_soon(app):
    app.config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 30


def _trusted_hosts(app):
    app.config["TRUSTED_HOSTS"] = ["khaosat.example.gov.vn"]


def _from_host(host: str) -> dict[str, Any]:
    return {"environ_overrides": {"HTTP_HOST": host}}


def _deep(city):
    body = _quick(city)
    nested: Any = 1
    for _ in range(200):
        nested = [nested]
    body["answers"]["C.E1"] = nested
    return body


# (name, prepare(app) or None, send(client, credential, city) → response)
REFUSALS = [
    ("invalid answer", None, lambda c, cred, city: c.post(URL, json=_quick(city, **{"C.ATT": 9}), headers=auth(cred))),
    ("unknown item", None, lambda c, cred, city: c.post(URL, json=_quick(city, NOPE=1), headers=auth(cred))),
    ("client id", None, lambda c, cred, city: c.post(URL, json={**_quick(city), "client_id": "x"}, headers=auth(cred))),
    ("naive time", None, lambda c, cred, city: c.post(
        URL, json={**_quick(city), "submitted_at": "2026-12-07T08:00:00"}, headers=auth(cred))),
    ("implausible time", None, lambda c, cred, city: c.post(
        URL, json={**_quick(city), "submitted_at": "2001-01-01T08:00:00+07:00"}, headers=auth(cred))),
    ("language", None, lambda c, cred, city: c.post(URL, json={**_quick(city), "language": "xx"}, headers=auth(cred))),
    ("unpublished version", None, lambda c, cred, city: c.post(
        URL, json={**_quick(city), "version": 99}, headers=auth(cred))),
    ("version a bool", None, lambda c, cred, city: c.post(URL, json={**_quick(city), "version": True},
                                                          headers=auth(cred))),
    ("answers not an object", None, lambda c, cred, city: c.post(URL, json={**_quick(city), "answers": [1]},
                                                                 headers=auth(cred))),
    ("control character", None, lambda c, cred, city: c.post(URL, json=_quick(city, COMMENT="a\x01b"),
                                                             headers=auth(cred))),
    ("nesting", None, lambda c, cred, city: c.post(URL, json=_deep(city), headers=auth(cred))),
    ("malformed JSON", None, lambda c, cred, city: c.post(URL, data=b'{"client_id": ', headers=auth(cred),
                                                          content_type="application/json")),
    ("not JSON", None, lambda c, cred, city: c.post(URL, data=json.dumps(_quick(city)), headers=auth(cred),
                                                    content_type="text/plain")),
    ("body over the cap", None, lambda c, cred, city: c.post(
        URL, json=_quick(city, COMMENT="x" * 300_000), headers=auth(cred))),
    ("too soon", _too_soon, lambda c, cred, city: c.post(URL, json=_quick(city), headers=auth(cred))),
    ("wrong credential", None, lambda c, cred, city: c.post(URL, json=_quick(city), headers=auth(cred + "x"))),
    ("no credential", None, lambda c, cred, city: c.post(URL, json=_quick(city))),
    # the request guard's checks and Flask's Host check (survey/guard.py, TRUSTED_HOSTS) hold on the lane's path too
    ("untrusted Host", _trusted_hosts, lambda c, cred, city: c.post(URL, json=_quick(city), headers=auth(cred),
                                                                     **_from_host("evil.example"))),
    ("control character in the query", None, lambda c, cred, city: c.post(URL + "?x=%01", json=_quick(city),
                                                                         headers=auth(cred))),
    ("chunked body over the cap", None, lambda c, cred, city: c.post(
        URL, data=json.dumps(_quick(city, COMMENT="x" * 300_000)).encode(), headers={
            **auth(cred), "Transfer-Encoding": "chunked", "Content-Type": "application/json"})),
]


def _prepared_pair(setup, prepare):
    """_known_pair, then the case's change of settings (prepare(app), if any)."""
    app, db_session, city = setup
    client, kiosks = _known_pair(app, db_session, city)
    if prepare is not None:
        prepare(app)
    return app, db_session, city, client, kiosks


@pytest.mark.parametrize("name,prepare,send", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_every_refusal_is_flasks_answer_and_nothing_is_stored(setup, name, prepare, send):
    app, db_session, city, client, kiosks = _prepared_pair(setup, prepare)
    on, off, served = _both(app, client, kiosks, lambda c, cred: send(c, cred, city))
    assert served == 0
    assert on.status_code in (400, 401, 413, 429), name
    assert _seen(on) == _seen(off)
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Response)) == 2
    tallies_equal_recount(db_session)


# requests Flask accepts that the lane leaves to Flask all the same: it cannot show they pass every check
HANDED_OVER = [
    ("trusted Host", _trusted_hosts, lambda c, cred, body: c.post(URL, json=body, headers=auth(cred),
                                                                   **_from_host("khaosat.example.gov.vn"))),
    ("Host with characters a host cannot have", None, lambda c, cred, body: c.post(
        URL, json=body, headers=auth(cred), **_from_host("bad host<>"))),
    ("no Host", None, lambda c, cred, body: c.post(URL, json=body, headers=auth(cred), **_from_host(""))),
    ("a query string", None, lambda c, cred, body: c.post(URL + "?lang=vi", json=body, headers=auth(cred))),
]


@pytest.mark.parametrize("name,prepare,send", HANDED_OVER, ids=[r[0] for r in HANDED_OVER])
def test_what_the_lane_cannot_check_is_answered_by_flask_and_stored_once(setup, name, prepare, send):
    app, db_session, city, client, kiosks = _prepared_pair(setup, prepare)
    bodies = {cred: _quick(city) for _, cred in kiosks}
    on, off, served = _both(app, client, kiosks, lambda c, cred: send(c, cred, bodies[cred]))
    expect_lane = name == "trusted Host" and _pg(db_session)  # a Host it can check: the lane's own case
    assert served == (1 if expect_lane else 0), name
    assert on.status_code == 201, (name, on.get_data())
    assert _seen(on, bodies[kiosks[0][1]]["client_id"]) == _seen(off, bodies[kiosks[1][1]]["client_id"])
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Response)) == 4
    tallies_equal_recount(db_session)


def test_a_resend_is_answered_duplicate_as_by_flask(setup):
    app, db_session, city = setup
    client, kiosks = _known_pair(app, db_session, city)
    bodies = {cred: _quick(city) for _, cred in kiosks}
    for cred, body in bodies.items():  # stored once (by the lane for the first kiosk on PostgreSQL)
        assert client.post(URL, json=body, headers=auth(cred)).status_code == 201
    on, off, served = _both(app, client, kiosks, lambda c, cred: c.post(URL, json=bodies[cred], headers=auth(cred)))
    assert served == 0
    assert on.status_code == 200 and on.get_json()["status"] == "duplicate"
    assert _seen(on, bodies[kiosks[0][1]]["client_id"]) == _seen(off, bodies[kiosks[1][1]]["client_id"])
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Response)) == 4


def test_a_revoked_known_kiosk_is_refused_by_flask_at_once(setup):
    app, db_session, city = setup
    client, kiosks = _known_pair(app, db_session, city)
    for kiosk, _ in kiosks:
        kiosk_service.revoke_kiosk(db_session, kiosk.code)
    db_session.commit()
    on, off, served = _both(app, client, kiosks, lambda c, cred: c.post(URL, json=_quick(city), headers=auth(cred)))
    assert served == 0 and on.status_code == 401
    assert _seen(on) == _seen(off)
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Response)) == 2


def test_the_api_cap_is_counted_once_when_the_lane_hands_a_request_on(setup):
    app, db_session, city = setup
    app.config["HAILONG_KIOSK_API_LIMIT"] = "3 per minute"
    client = app.test_client()
    _, credential = enrolled_kiosk(db_session, "STP-SP1")
    assert client.post(URL, json=_quick(city), headers=auth(credential)).status_code == 201  # 1
    assert client.post(URL, json=_quick(city, **{"C.ATT": 9}), headers=auth(credential)).status_code == 400  # 2
    assert client.post(URL, json=_quick(city), headers=auth(credential)).status_code == 201  # 3
    capped = client.post(URL, json=_quick(city), headers=auth(credential))  # 4: over
    assert capped.status_code == 429 and capped.get_json()["error"] == "too_many_requests"
    assert int(capped.headers["Retry-After"]) >= 1


def test_the_lane_counts_the_request_metrics(setup):
    app, db_session, city = setup
    client, kiosks = _known_pair(app, db_session, city)
    stored = metrics.SUBMISSIONS.labels("stored")
    requests = metrics.REQUESTS.labels(metrics.SUBMIT_ENDPOINT, "POST", "201")
    before = (stored._value.get(), requests._value.get())
    assert client.post(URL, json=_quick(city), headers=auth(kiosks[0][1])).status_code == 201
    assert (stored._value.get(), requests._value.get()) == (before[0] + 1, before[1] + 1)


def _cells(session):
    mt = MomentTally.__table__
    return sorted(session.execute(select(mt.c.service_point_id, mt.c.respondents, mt.c.gram,
                                         mt.c.last_response_id)).all())


def test_concurrent_lane_submissions_are_each_stored_once_and_counted(setup):
    app, db_session, city = setup
    if not _pg(db_session):
        pytest.skip("several writers at once: PostgreSQL (SQLite serialises its writers)")
    client = app.test_client()
    kiosks = [enrolled_kiosk(db_session, code)[1] for code in ("STP-SP1", "STP-SP1", "UBND-NK-SP1", "UBND-NK-SP1")]
    for credential in kiosks:
        assert client.post(URL, json=_quick(city), headers=auth(credential)).status_code == 201
    served = _lane(app).served
    twice = _quick(city)
    barrier = threading.Barrier(len(kiosks) + 2)
    statuses: list[int] = []

    def send(credential: str, bodies: list[dict[str, Any]]) -> None:
        c = app.test_client()
        barrier.wait()
        for body in bodies:
            statuses.append(c.post(URL, json=body, headers=auth(credential)).status_code)
        db.session.remove()

    levels = [(1 + i % 3, 1 + (i // 3) % 3) for i in range(40)]
    jobs = [(cred, [_quick(city, **{"C.ATT": a, "C.HANDLING": h}) for a, h in levels[k::len(kiosks)]])
            for k, cred in enumerate(kiosks)]
    jobs += [(kiosks[0], [twice]), (kiosks[1], [twice])]  # one response sent by two kiosks at once: stored once
    threads = [threading.Thread(target=send, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses).count(201) == 41 and statuses.count(200) == 1, statuses
    assert _lane(app).served - served >= 30  # the lane did the work (a few may meet the Flask path's first time)
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Response)) == 4 + 41
    assert db_session.scalar(select(func.count()).select_from(Response).where(
        Response.client_id == twice["client_id"])) == 1
    assert db_session.scalar(select(func.count()).select_from(Answer)) == 2 * (4 + 41)
    tallies_equal_recount(db_session)
    cells = _cells(db_session)
    rebuild_tallies(db_session)  # the Gram blobs rebuilt from the stored answers
    assert _cells(db_session) == cells
    db_session.rollback()


def test_a_database_error_in_the_lane_leaves_the_answer_to_flask(setup, monkeypatch):
    app, db_session, city = setup
    if not _pg(db_session):
        pytest.skip("the lane stores on PostgreSQL only")
    client, kiosks = _known_pair(app, db_session, city)
    import psycopg

    from survey.respond import ingest

    real = ingest.run
    calls: list[int] = []

    def broken(raw, call):  # the lane's call: written, then the connection fails before COMMIT
        calls.append(1)
        stored = real(raw, call)
        if len(calls) == 1:
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return stored

    monkeypatch.setattr(ingest, "run", broken)
    body = _quick(city)
    lane = _lane(app)
    served = lane.served
    resp = client.post(URL, json=body, headers=auth(kiosks[0][1]))
    monkeypatch.setattr(ingest, "run", real)
    assert lane.served == served and len(calls) == 2  # the lane's call, then the Flask path's
    assert resp.status_code == 201 and resp.get_json() == {"id": body["client_id"], "status": "created"}
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Response).where(
        Response.client_id == body["client_id"])) == 1
    tallies_equal_recount(db_session)


def test_nothing_is_served_before_flask_answered_once(app, db_session, city):
    """A fresh process: the first 201 of each kind comes from Flask (its headers are what the lane copies)."""
    lane = _lane(app)
    lane.answers.clear()
    app.config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 0
    client = app.test_client()
    _, credential = enrolled_kiosk(db_session, "STP-SP1")
    first = client.post(URL, json=_quick(city), headers=auth(credential))
    assert first.status_code == 201 and lane.served == 0
    secure = client.post(URL, json=_quick(city), headers={**auth(credential), "X-Forwarded-Proto": "https"})
    assert secure.status_code == 201 and lane.served == 0  # another kind: Flask again
    again = client.post(URL, json=_quick(city), headers=auth(credential))
    assert again.status_code == 201 and lane.served == (1 if _pg(db_session) else 0)
    assert str(uuid.UUID(again.get_json()["id"])) == again.get_json()["id"]  # the client_id answered back
