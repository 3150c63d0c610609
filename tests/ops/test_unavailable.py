"""Database unreachable: 503 with Retry-After (kiosk API and pages), no traceback, one log line per outage."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from survey import create_app, unavailable
from survey.extensions import db

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"  # nothing listens on port 1


@pytest.fixture
def down_app(sqlite_template: Path, tmp_path: Path):
    unavailable._outage_since.clear()
    app = create_app({"TESTING": True, "DATABASE_URL": UNREACHABLE, "SECRET_KEY": "test-secret",
                      "RATELIMIT_STORAGE_URI": "memory://"})
    yield app
    db.session.remove()
    unavailable._outage_since.clear()


def _outage_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "hailong.database"]


def test_kiosk_submission_gets_503_with_retry_after_and_no_traceback(down_app, caplog):
    client = down_app.test_client()
    with caplog.at_level(logging.INFO, logger="hailong.database"):
        resp = client.post("/api/v1/responses", json={"client_id": "x"},
                           headers={"Authorization": "Kiosk some-credential"})
    assert resp.status_code == 503
    assert int(resp.headers["Retry-After"]) > 0
    body = resp.get_json()
    assert body["error"] == "unavailable" and body["retry_after"] == int(resp.headers["Retry-After"])
    text = resp.get_data(as_text=True)
    assert "Traceback" not in text and "OperationalError" not in text and "127.0.0.1" not in text
    assert not any(r.exc_info for r in _outage_lines(caplog))


def test_pages_get_a_translated_503_page(down_app):
    client = down_app.test_client()
    resp = client.get("/", headers={"Accept-Language": "vi"})
    assert resp.status_code == 503 and resp.headers["Retry-After"]
    page = resp.get_data(as_text=True)
    assert "Dịch vụ tạm thời gián đoạn" in page and "Traceback" not in page
    resp = client.get("/healthz")
    assert resp.status_code == 503


def test_one_log_line_per_outage_and_one_when_it_is_back(down_app, caplog, sqlite_template, tmp_path):
    client = down_app.test_client()
    with caplog.at_level(logging.INFO, logger="hailong.database"):
        for _ in range(4):
            assert client.get("/healthz").status_code == 503
        assert len(_outage_lines(caplog)) == 1
        assert "database unavailable" in _outage_lines(caplog)[0].getMessage()
        # the server comes back (here: the app is pointed at a reachable database)
        target = tmp_path / "back.sqlite"
        target.write_bytes(sqlite_template.read_bytes())
        down_app.config["DATABASE_URL"] = f"sqlite:///{target}"
        db.configure(f"sqlite:///{target}")
        assert client.get("/healthz").status_code == 200
        assert client.get("/healthz").status_code == 200
    lines = [r.getMessage() for r in _outage_lines(caplog)]
    assert len(lines) == 2 and "reachable again" in lines[1]


def test_only_connection_failures_count_as_an_outage():
    """A broken statement must still surface as a server error, not hide behind a 503."""
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    assert unavailable.is_outage(OperationalError("SELECT 1", {}, Exception("connection refused")))
    assert not unavailable.is_outage(ProgrammingError("SELECT x", {}, Exception("no such column")))
    assert not unavailable.is_outage(IntegrityError("INSERT", {}, Exception("duplicate key")))
