"""Failed logins are throttled per (user name, client address hash) with growing waits; nobody can lock
a real user out from another address; unknown user names look exactly like wrong passwords."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from limits import parse

from survey.auth import passwords, throttle
from survey.extensions import limiter
from tests.dashboard.helpers import forget_user, login
from tests.factories import small_city

OUTSIDER, OFFICE, HOME = "203.0.113.9", "198.51.100.20", "192.0.2.44"


@pytest.fixture
def city(db_session):
    return small_city(db_session)


def _client(app, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _alerts(resp) -> str:
    html = resp.get_data(as_text=True)
    return " ".join(re.findall(r'class="flash[^"]*"[^>]*>(.*?)<', html, re.S)) or html


def test_unknown_user_gets_the_same_answer_and_the_same_hash_work(app, city, monkeypatch):
    calls: list[str] = []
    real = passwords.check_password_hash

    def counting(stored: str, password: str) -> bool:
        calls.append(stored.split("$", 1)[0])  # the method and its cost parameters
        return real(stored, password)

    monkeypatch.setattr(passwords, "check_password_hash", counting)
    known = login(_client(app, HOME), "noivu", "wrong password")
    known_calls = list(calls)
    calls.clear()
    unknown = login(_client(app, HOME), "no-such-user", "wrong password")
    assert known.status_code == unknown.status_code == 200
    assert "Sai tên đăng nhập hoặc mật khẩu" in _alerts(known)
    assert _alerts(known) == _alerts(unknown)
    assert calls == known_calls and len(calls) == 1  # one hash of the same method and cost each


def test_inactive_user_costs_a_hash_too_and_gets_the_same_message(app, db_session, city, monkeypatch):
    city.users["tuphap"].active = False
    db_session.commit()
    calls: list[int] = []
    real = passwords.check_password_hash
    monkeypatch.setattr(passwords, "check_password_hash", lambda s, p: calls.append(1) or real(s, p))
    resp = login(_client(app, HOME), "tuphap")  # right password, inactive account
    assert resp.status_code == 200 and calls == [1]
    assert "Sai tên đăng nhập hoặc mật khẩu" in _alerts(resp)


def test_an_outsider_cannot_lock_a_real_user_out(app, city):
    outsider = _client(app, OUTSIDER)
    codes = [login(outsider, "admin", f"guess {i}").status_code for i in range(25)]
    assert codes[:5] == [200] * 5 and set(codes[5:]) == {429}
    assert "phút" in _alerts(login(outsider, "admin", "guess"))
    # the real administrator, from another address, still gets in at once
    resp = login(_client(app, HOME), "admin")
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/"


def test_a_known_browser_is_not_locked_out_by_a_colleague_on_the_same_address(app, city):
    owner = _client(app, OFFICE)
    assert login(owner, "noivu").status_code == 302  # once: the browser is now known for noivu
    colleague = _client(app, OFFICE)
    codes = [login(colleague, "noivu", f"guess {i}").status_code for i in range(8)]
    assert codes[-1] == 429
    owner_again = owner.application.test_client()
    owner_again.environ_base["REMOTE_ADDR"] = OFFICE
    owner_again.set_cookie(throttle.KNOWN_COOKIE, owner.get_cookie(throttle.KNOWN_COOKIE, path="/auth/").value,
                           path="/auth/")
    assert login(owner_again, "noivu").status_code == 302
    # the known-browser cookie is for noivu only and cannot be forged
    assert login(colleague, "noivu").status_code == 429
    colleague.set_cookie(throttle.KNOWN_COOKIE, "eyJ1IjoiIn0.forged.sig", path="/auth/")
    assert login(colleague, "noivu").status_code == 429


def test_ceilings_stop_guessing_from_many_addresses_but_not_known_browsers(app, city, monkeypatch):
    monkeypatch.setattr(throttle, "PER_USERNAME", parse("6/hour"))
    known = _client(app, HOME)
    assert login(known, "ninhkieu").status_code == 302
    for i in range(6):  # six addresses, one failure each: no address reaches its own limit
        assert login(_client(app, f"203.0.113.{i + 1}"), "ninhkieu", "guess").status_code == 200
    assert login(_client(app, "203.0.113.99"), "ninhkieu").status_code == 429  # ceiling for unknown browsers
    assert login(known, "ninhkieu").status_code == 302  # the user's own browser is not affected


def test_one_address_spraying_many_user_names_meets_its_ceiling(app, city, monkeypatch):
    monkeypatch.setattr(throttle, "PER_ADDRESS", parse("4/hour"))
    sprayer = _client(app, OUTSIDER)
    codes = [login(sprayer, name, "guess").status_code for name in ("a1", "a2", "a3", "a4", "a5", "admin")]
    assert codes == [200, 200, 200, 200, 429, 429]
    assert login(_client(app, HOME), "admin").status_code == 302


def test_waits_grow_with_repeated_failures(app, city):
    with app.test_request_context(environ_base={"REMOTE_ADDR": OUTSIDER}):
        buckets = throttle.buckets_for("someone")
        waits = []
        for failures in (4, 1, 5, 10, 30):
            for _ in range(failures):
                throttle.record_failure(buckets)
            waits.append(throttle.wait_seconds(buckets))
    # 4 failures: no wait; 5: up to a minute; 10: up to 15 minutes; 20: up to an hour; 50: up to a day
    assert waits[0] == 0
    assert 0 < waits[1] <= 60
    assert 60 < waits[2] <= 15 * 60
    assert 15 * 60 < waits[3] <= 3600
    assert 3600 < waits[4] <= 86400


def test_success_forgets_the_users_own_typos(app, city):
    client = _client(app, HOME)
    for _ in range(4):
        login(client, "noivu", "typo")
    assert login(client, "noivu").status_code == 302
    forget_user()
    for _ in range(4):
        assert login(client, "noivu", "typo").status_code == 200


def test_no_client_address_is_kept_anywhere(app, db_session, city):
    for _ in range(6):
        login(_client(app, OUTSIDER), "admin", "guess")
    stored = repr(vars(limiter.storage))
    assert stored.count("login-pair") >= 1  # the buckets exist...
    assert OUTSIDER not in stored and "203.0.113" not in stored  # ...keyed by a hash only
    from sqlalchemy import text

    for table in ("user_account", "audit_event"):
        rows = db_session.execute(text(f"SELECT * FROM {table}")).all()
        assert OUTSIDER not in repr(rows)


def test_in_redis_the_counts_are_shared_hashed_and_expire(app, db_session, database_url):
    """Production keeps the counts in Redis: every worker sees them, keys carry no address, all expire."""
    import uuid

    from survey import create_app
    from tests.redis_kit import REDIS_URI, redis_or_skip
    from tests.web_fixtures import IsolatedClient

    if not database_url.startswith("sqlite"):
        pytest.skip("the store, not the database, is under test: SQLite is enough")
    server = redis_or_skip()
    uri = REDIS_URI
    small_city(db_session)
    prefix = f"hailong-test-{uuid.uuid4().hex[:8]}"

    def worker():
        w = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                        "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": uri, "RATELIMIT_KEY_PREFIX": prefix})
        w.test_client_class = IsolatedClient
        return w

    try:
        first = worker()
        with first.app_context():
            codes = [login(_client(first, OUTSIDER), "admin", "guess").status_code for _ in range(5)]
        second = worker()  # another gunicorn worker: a new connection to the same store
        with second.app_context():
            codes.append(login(_client(second, OUTSIDER), "admin", "guess").status_code)
            assert login(_client(second, HOME), "admin").status_code == 302
        assert codes == [200] * 5 + [429]
        keys = [k.decode() for k in server.scan_iter(f"*{prefix}*")]
        assert any("login-pair" in k for k in keys)
        assert not any(OUTSIDER in k or "203.0.113" in k for k in keys)
        assert all(0 < server.ttl(k) <= 86400 for k in keys)
    finally:
        for key in server.scan_iter(f"*{prefix}*"):
            server.delete(key)


def test_staff_can_still_log_in_when_the_store_is_down(app, city, monkeypatch, caplog):
    class DownStore:
        enabled = True

        @property
        def limiter(self):
            raise ConnectionError("redis://10.0.0.1:6379 refused for key login-pair/abc")

    monkeypatch.setattr(throttle, "limiter", DownStore())
    assert login(_client(app, HOME), "noivu", "wrong").status_code == 200
    assert login(_client(app, HOME), "noivu").status_code == 302
    assert "ConnectionError" in caplog.text and "login-pair" not in caplog.text
