"""QR poster ballot stuffing (issue 11 §2): a phone that drops its cookie is still limited, by network.

The attack of the review: clear `hl_device`, post 30 times at `/s/<code>`.  It must end with at most the
configured network limit counted; a flood from many networks beyond the hourly ceiling is held, not counted;
the client address is never written to the database or a log.
"""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import func, select

from survey import create_app
from survey.client_hash import address_key
from survey.config import ConfigError, Settings
from survey.database import Base
from survey.extensions import db
from survey.respond import poster_guard
from survey.respond.models import Response, ResponseTally
from tests.factories import small_city
from tests.redis_kit import REDIS_URI, redis_or_skip
from tests.respond.linkkit import form_page, fresh_clients
from tests.results.factories import DEFAULT_NOW, fix_clock

ATTACKER = "203.0.113.7"


@pytest.fixture
def city(app, db_session):
    """The city at a fixed "now": the network limit is keyed by the UTC day's hash of the address, so an attack
    crossing midnight would start a new count (and the digests checked below are that day's)."""
    fix_clock(app, DEFAULT_NOW)
    city = small_city(db_session)
    city.service_points["STP-SP1"].link_instrument = "sipas-2017"
    db.session.commit()
    return city


@pytest.fixture
def client(app):
    return fresh_clients(app)


def _counted(session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.coalesce(func.sum(ResponseTally.count), 0))) or 0)


def _stored(session, status=...):
    session.expire_all()
    q = select(func.count()).select_from(Response)
    if status is not ...:
        q = q.where(Response.review_status.is_(None) if status is None else Response.review_status == status)
    return int(session.scalar(q) or 0)


def _attack(client, sp_code: str, times: int, address: str = ATTACKER) -> list[int]:
    """One phone: opens the form once, then drops its device cookie before each of `times` posts."""
    _html, fields = form_page(client, f"/s/{sp_code}")
    statuses = []
    for _ in range(times):
        client.delete_cookie("hl_device")
        data = {**fields, "client_id": str(uuid.uuid4()), "OVERALL.SAT": "5"}
        statuses.append(client.post(f"/s/{sp_code}", data=data, environ_base={"REMOTE_ADDR": address}).status_code)
    return statuses


def test_dropping_the_cookie_30_times_counts_at_most_the_network_limit(app, client, city):
    app.config["HAILONG_LINK_NETWORK_LIMIT"] = "3 per hour"
    sp = city.service_points["STP-SP1"]
    statuses = _attack(client, sp.code, 30)
    assert statuses.count(303) == 3 and statuses.count(429) == 27
    assert _stored(db.session) == 3 and _counted(db.session) == 3
    refused = client.post(f"/s/{sp.code}", data={}, environ_base={"REMOTE_ADDR": ATTACKER})
    assert refused.status_code in (400, 429)
    page = client.get(f"/s/{sp.code}", environ_base={"REMOTE_ADDR": ATTACKER})
    assert page.status_code == 429
    html = page.get_data(as_text=True)
    assert "mạng" in html and "<form" not in html.split("<main", 1)[1]
    # another network, and the same network at another service point, may still answer
    other = fresh_clients(app)
    assert _attack(other, sp.code, 1, "198.51.100.20") == [303]
    assert _attack(fresh_clients(app), "UBND-NK-SP1", 1) == [303]
    assert _counted(db.session) == 5


def test_the_default_network_limit_stops_the_attack_of_the_review(client, city):
    statuses = _attack(client, "STP-SP1", 30)
    limit = poster_guard.check_limit(poster_guard.DEFAULT_NETWORK_LIMIT, "default").amount
    assert statuses.count(303) == limit < 30
    assert _counted(db.session) == limit


def test_over_the_hourly_ceiling_poster_answers_are_held_not_counted(app, city):
    app.config.update(HAILONG_LINK_POINT_CEILING="5 per hour", HAILONG_LINK_NETWORK_LIMIT="50 per hour")
    sp = city.service_points["STP-SP1"]
    statuses = [_attack(fresh_clients(app), sp.code, 1, f"10.0.{i}.1")[0] for i in range(12)]
    assert statuses == [303] * 12, "the citizen always sees the thanks page"
    assert _stored(db.session) == 12
    assert _counted(db.session) == 5 and _stored(db.session, None) == 5
    assert _stored(db.session, "held") == 7
    held = db.session.scalars(select(Response).where(Response.review_status == "held")).all()
    assert {r.review_reason for r in held} == {poster_guard.CEILING_REASON}
    assert {r.channel for r in held} == {"qr"}


def test_a_deployment_can_keep_poster_answers_out_of_official_figures(app, client, city):
    app.config["HAILONG_POSTER_COUNTS"] = 0
    assert _attack(client, "STP-SP1", 1) == [303]
    assert _stored(db.session) == 1 and _counted(db.session) == 0
    assert db.session.scalar(select(Response.review_reason)) == poster_guard.NOT_COUNTED_REASON


def test_the_address_is_never_stored_or_logged(app, client, city, caplog):
    app.config["HAILONG_LINK_NETWORK_LIMIT"] = "2 per hour"
    caplog.set_level(logging.DEBUG)
    _attack(client, "STP-SP1", 5)
    digest = address_key(poster_guard.NAMESPACE, ATTACKER, app.config["SECRET_KEY"],
                         DEFAULT_NOW.date()).split(":", 1)[1]
    dump = []
    for table in Base.metadata.sorted_tables:
        dump.extend(repr(tuple(row)) for row in db.session.execute(table.select()))
    text = "\n".join(dump)
    assert "STP-SP1" in text  # the dump does read the data
    assert ATTACKER not in text and digest not in text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert ATTACKER not in logged and digest not in logged


def test_in_redis_the_address_hash_expires_within_its_window(database_url, db_session):
    if not database_url.startswith("sqlite"):
        pytest.skip("the rate-limit store, not the database, is under test")
    server = redis_or_skip()
    small_city(db_session).service_points["STP-SP1"].link_instrument = "sipas-2017"
    db_session.commit()
    prefix = f"hailong-test-{uuid.uuid4().hex[:8]}"
    worker = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                         "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": REDIS_URI,
                         "RATELIMIT_KEY_PREFIX": prefix, "HAILONG_LINK_NETWORK_LIMIT": "2 per hour",
                         "HAILONG_CLOCK": lambda: DEFAULT_NOW})
    try:
        with worker.app_context():
            assert _attack(fresh_clients(worker), "STP-SP1", 4) == [303, 303, 429, 429]
        keys = [k.decode() for k in server.scan_iter(f"*{prefix}*")]
        network = [k for k in keys if "link-network" in k]
        digest = address_key(poster_guard.NAMESPACE, ATTACKER, "test-secret", DEFAULT_NOW.date())
        assert network and all(digest in k for k in network), "keyed by the day's hash of the address"
        assert all(ATTACKER not in k for k in keys)
        assert all(0 < server.ttl(k) <= 3600 for k in network)
    finally:
        for key in server.scan_iter(f"*{prefix}*"):
            server.delete(key)


@pytest.mark.parametrize("name", ["HAILONG_LINK_NETWORK_LIMIT", "HAILONG_LINK_POINT_CEILING"])
def test_a_window_longer_than_a_day_is_refused_at_start_up(monkeypatch, name):
    monkeypatch.setenv(name, "10 per 2 days")
    with pytest.raises(ConfigError, match="at most a day"):
        Settings.from_env()
    monkeypatch.setenv(name, "lots")
    with pytest.raises(ConfigError):
        Settings.from_env()
    monkeypatch.setenv(name, "10 per day")
    assert Settings.from_env().extra[name] == "10 per day"


def test_behind_a_proxy_the_forwarded_address_is_the_one_limited(database_url, db_session):
    if not database_url.startswith("sqlite"):
        pytest.skip("the request wiring, not the database, is under test")
    small_city(db_session).service_points["STP-SP1"].link_instrument = "sipas-2017"
    db_session.commit()
    worker = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                         "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://",
                         "HAILONG_LINK_NETWORK_LIMIT": "1 per hour", "HAILONG_PROXY_HOPS": 1})
    with worker.app_context():
        results = []
        for i in range(3):  # three citizens behind one nginx: each has its own forwarded address
            c = fresh_clients(worker)
            _html, fields = form_page(c, "/s/STP-SP1")
            results.append(c.post("/s/STP-SP1", data={**fields, "OVERALL.SAT": "4"},
                                  headers={"X-Forwarded-For": f"192.0.2.{i}"},
                                  environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code)
        assert results == [303, 303, 303]
