"""Rate limits kept in Redis hold across workers: a second app (another gunicorn worker) sees the count."""

from __future__ import annotations

import uuid

import pytest

from survey import create_app
from tests.factories import small_city
from tests.redis_kit import REDIS_URI, redis_or_skip
from tests.respond.kiosk_factories import auth, enrolled_kiosk


def _worker(database_url: str, storage: str, prefix: str):
    return create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                       "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": storage, "RATELIMIT_KEY_PREFIX": prefix,
                       "HAILONG_KIOSK_API_LIMIT": "2 per minute"})


@pytest.mark.parametrize(("storage", "shared"), [(REDIS_URI, True), ("memory://", False)])
def test_kiosk_api_cap_is_shared_between_workers_only_with_redis(app, db_session, database_url, storage, shared):
    if not database_url.startswith("sqlite"):
        pytest.skip("the storage, not the database, is under test: SQLite is enough")
    server = redis_or_skip() if shared else None
    small_city(db_session)
    _, credential = enrolled_kiosk(db_session)
    prefix = f"hailong-test-{uuid.uuid4().hex[:8]}"
    try:
        first = _worker(database_url, storage, prefix)
        with first.app_context():
            c = first.test_client()
            assert [c.post("/api/v1/kiosk/heartbeat", json={}, headers=auth(credential)).status_code
                    for _ in range(2)] == [200, 200]
        second = _worker(database_url, storage, prefix)  # a new storage connection, like another worker
        with second.app_context():
            status = second.test_client().post("/api/v1/kiosk/heartbeat", json={},
                                               headers=auth(credential)).status_code
        assert status == (429 if shared else 200)
    finally:
        if server is not None:
            for key in server.scan_iter(f"*{prefix}*"):
                server.delete(key)
