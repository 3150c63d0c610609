"""Web fixtures (loaded by tests/conftest.py when Flask is installed): the app on SQLite and on PostgreSQL,
an isolated database per test, factories.

Every test that uses `app`/`client`/`db_session` runs twice: once on SQLite (a copy of a migrated template
file) and once on PostgreSQL (a database made for this pytest run, migrated, truncated after each test, under
a URL of its own so no process cache carries over).  The shared test data (tests/factories.py small_city,
tests/results/factories.py city_with_responses) is built once per process and copied (tests/db_snapshots.py).
With CI set, an unreachable PostgreSQL fails the run; elsewhere those tests skip with the reason.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from survey import create_app
from survey.database import Base, make_engine
from survey.extensions import db as _db
from survey.migrate import upgrade

# Full-strength scrypt costs ~0.1–0.4 s per hash; the suite creates and logs in hundreds of users.
os.environ.setdefault("HAILONG_PASSWORD_HASH", "scrypt:1024:8:1")

PG_ADMIN_URL = os.environ.get("HAILONG_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_reachable() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".splitlines()[0]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


def _drop_orphans(conn: Any) -> None:
    """Drop test databases left by runs that were killed (their pytest process is gone)."""
    names = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE 'hailong_test_%'")).scalars()
    for name in list(names):
        pid = name.split("_")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    problem = _pg_reachable()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is unreachable and CI is set: {problem}")
        pytest.skip(f"PostgreSQL not reachable ({problem}); set HAILONG_TEST_PG to run these tests")
    name = f"hailong_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        _drop_orphans(conn)
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    _db.session.remove()
    if _db.engine is not None:
        _db.engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_pg(url: str) -> None:
    """Empty every table (DELETE in dependency order: far cheaper than TRUNCATE on tiny tables)."""
    engine = make_engine(url)
    from survey import models  # noqa: F401

    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


_pg_tests = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        target = tmp_path / "hailong.sqlite"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
    else:
        url = request.getfixturevalue("pg_url")
        # one URL per test, as on SQLite: the app's caches key on the URL and the data's ids, and a test's data
        # copied from a snapshot (tests/db_snapshots.py) has the same ids as an earlier test's copy
        yield f"{url}?application_name=hailong_test_{next(_pg_tests)}"
        _db.session.remove()
        _truncate_pg(url)


class IsolatedClient(FlaskClient):
    """A test client whose every request starts with an empty `g`, as each real request does.

    The `app` fixture keeps an application context open for the whole test (so tests can use the database
    directly), and Flask reuses that context for test requests: without this, `g` would carry the cached
    locale, CSRF token or logged-in user from one request to the next.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if has_app_context():
            vars(g._get_current_object()).clear()
        return super().open(*args, **kwargs)


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = create_app({
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_ENABLED": True,
    })
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
    _db.session.remove()


@pytest.fixture
def db_session(app: Flask) -> Session:
    return _db.session()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()
