"""The keyed client-address hash: stable within a UTC day, different across days and namespaces,
and never containing the address itself."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Flask

from survey.client_hash import address_key, client_key


def test_same_day_same_key_next_day_different() -> None:
    day = date(2026, 3, 1)
    first = address_key("login", "203.0.113.7", "secret", day)
    assert first == address_key("login", "203.0.113.7", "secret", day)
    assert first != address_key("login", "203.0.113.7", "secret", date(2026, 3, 2))
    assert first != address_key("poster", "203.0.113.7", "secret", day)
    assert first != address_key("login", "203.0.113.8", "secret", day)
    assert first != address_key("login", "203.0.113.7", "other-secret", day)
    assert "203.0.113" not in first and first.startswith("login:")


def test_client_key_reads_the_request_address_and_rotates_at_utc_midnight() -> None:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "k" * 40
    late = datetime(2026, 3, 1, 23, 59, tzinfo=UTC)
    early = datetime(2026, 3, 2, 0, 1, tzinfo=UTC)
    with app.test_request_context(environ_base={"REMOTE_ADDR": "198.51.100.4"}):
        a = client_key("login", now=late)
        assert a == address_key("login", "198.51.100.4", "k" * 40, date(2026, 3, 1))
        assert client_key("login", now=early) != a
    with app.test_request_context(environ_base={"REMOTE_ADDR": "198.51.100.5"}):
        assert client_key("login", now=late) != a
