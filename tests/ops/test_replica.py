"""DATABASE_REPLICA_URL: dashboard pages read from the replica; writes never go there.

The "replica" here is the same database reached through a second engine whose every statement is recorded,
so the pages have data and any write routed to it would be seen.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from survey import create_app
from survey.extensions import db
from survey.respond.models import Response
from tests.dashboard.helpers import login
from tests.factories import small_city
from tests.respond.kiosk_factories import auth, enrolled_kiosk, payload

WRITES = ("INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER")


@pytest.fixture
def replica_app(database_url):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "DATABASE_REPLICA_URL": database_url,
                      "SECRET_KEY": "test-secret", "RATELIMIT_STORAGE_URI": "memory://",
                      "HAILONG_KIOSK_MIN_INTERVAL_SECONDS": 0})
    seen: list[str] = []

    @event.listens_for(db.replica_engine, "before_cursor_execute")
    def _record(conn, cursor, statement, params, context, executemany):
        seen.append(statement.lstrip().split(None, 1)[0].upper())

    with app.app_context():
        yield app, seen
    db.session.remove()
    db.configure_replica(None)


def test_dashboards_read_the_replica_and_writes_stay_on_the_primary(replica_app):
    app, seen = replica_app
    city = small_city(db.session)
    _, credential = enrolled_kiosk(db.session)
    db.session.commit()
    db.session.remove()
    client = app.test_client()
    qv = city.questionnaires["counter-quick"]
    for _ in range(3):  # kiosk submissions: writes
        body = payload(qv.instrument, qv.version, {"C.ATT": 3, "C.HANDLING": 2})
        assert client.post("/api/v1/responses", json=body, headers=auth(credential)).status_code == 201
    assert seen == []  # nothing of a submission touched the replica
    assert login(client, "noivu").status_code in (302, 303)  # a login writes (session, audit): primary
    assert seen == []
    for url in ("/homeaffairs/", "/homeaffairs/export.csv", "/dashboard/"):
        resp = client.get(url, follow_redirects=True)
        assert resp.status_code == 200, (url, resp.status_code)
    assert "SELECT" in seen  # the pages were read from the replica
    assert not [s for s in seen if s in WRITES], seen
    with app.test_request_context("/api/v1/responses", method="POST"):
        db.session.remove()
        assert db.session.get_bind() is db.engine
    with app.test_request_context("/homeaffairs/", method="GET"):
        db.session.remove()
        assert db.session.get_bind() is db.replica_engine
        assert db.session.scalar(select(func.count()).select_from(Response)) == 3
        db.session.remove()


def test_without_a_replica_everything_uses_the_primary(app):
    assert db.replica_engine is None
    with app.test_request_context("/homeaffairs/", method="GET"):
        db.session.remove()
        assert db.session.get_bind() is db.engine
        db.session.remove()
