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
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from survey import create_app
from survey.database import Base, make_engine
from survey.extensions import db as _db
from survey.migrate import upgrade
from tests.db_snapshots import DemoSpec, demo_template, load_demo_into, run_pid

# Full-strength scrypt costs ~0.1–0.4 s per hash; the suite creates and logs in hundreds of users.
os.environ.setdefault("HAILONG_PASSWORD_HASH", "scrypt:1024:8:1")


def _reuse_url_builders() -> None:
    """Every test makes an app, and most of `create_app` (≈35 of 40 ms CPU) is Werkzeug generating and compiling
    the Python source of two URL builders for each of the ~90 routes (`Rule._compile_builder`).  A builder is a
    plain function of the rule's parsed parts, bound to its rule when called (it reads the rule's own converters
    then), so the function made for one app's rule is the one another app's identical rule would make: keep it.
    Rules whose defaults fill one of their variables (converted through the converter at compile time) are
    compiled as before; so is everything if Werkzeug's internals differ from what this expects."""
    from werkzeug.routing.rules import Rule

    original = getattr(Rule, "_compile_builder", None)
    if original is None or getattr(original, "_kept", False):
        return
    kept: dict[Any, Any] = {}

    def _compile_builder(self: Rule, append_unknown: bool = True) -> Any:
        trace = getattr(self, "_trace", None)
        defaults = self.defaults or {}
        if trace is None or (defaults and any(dynamic and data in defaults for dynamic, data in trace)):
            return original(self, append_unknown)
        key = (self.rule, tuple(trace), tuple(str(k) for k in defaults), append_unknown)
        builder = kept.get(key)
        if builder is None:
            builder = kept[key] = original(self, append_unknown)
        return builder

    _compile_builder._kept = True  # type: ignore[attr-defined]
    Rule._compile_builder = _compile_builder  # type: ignore[method-assign]


_reuse_url_builders()

#: the settings of every test's app (and of the app that loads a demo database)
APP_CONFIG: dict[str, Any] = {"TESTING": True, "SECRET_KEY": "test-secret", "RATELIMIT_STORAGE_URI": "memory://",
                              "RATELIMIT_ENABLED": True}

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


@pytest.fixture(scope="session")
def pg_cleaner(pg_url: str) -> Iterator[Engine]:
    """The connection that empties the process's PostgreSQL database after each test."""
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def _truncate_pg(engine: Engine) -> None:
    """Empty every table that holds rows: one query finds them, one round trip DELETEs them in dependency
    order (far cheaper than TRUNCATE on tiny tables, and than a DELETE per table on a new connection)."""
    from survey import models  # noqa: F401

    tables = Base.metadata.sorted_tables
    probe = " UNION ALL ".join(f"SELECT {i} WHERE EXISTS (SELECT 1 FROM {t.name})" for i, t in enumerate(tables))
    with engine.begin() as conn:
        full = conn.exec_driver_sql(probe).scalars().all()
        if full:
            conn.exec_driver_sql("; ".join(f"DELETE FROM {tables[i].name}" for i in sorted(full, reverse=True)))


_pg_tests = itertools.count(1)


@pytest.fixture(scope="session")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder shared by every process of this pytest run (the xdist workers' base folders are inside it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _sqlite_demo(request: pytest.FixtureRequest, spec: DemoSpec) -> Path:
    """The run's SQLite file holding the demo `spec`: a copy of the migrated template, loaded once."""
    folder: Path = request.getfixturevalue("run_folder")
    template = folder / f"sqlite-{spec.name}.sqlite"

    def build() -> None:
        building = template.with_suffix(".building")
        shutil.copy(request.getfixturevalue("sqlite_template"), building)
        load_demo_into(f"sqlite:///{building}", spec, APP_CONFIG)
        building.replace(template)

    with demo_template(folder, "sqlite", spec, build):
        return template


def _postgresql_demo(request: pytest.FixtureRequest, spec: DemoSpec) -> str:
    """A new database of this process, a copy (CREATE DATABASE … TEMPLATE) of the run's demo database."""
    request.getfixturevalue("pg_url")  # skips or fails as every PostgreSQL test does when it is unreachable
    template = f"hailong_test_{run_pid()}_{spec.name}"  # dropped at the end of the run (pytest_sessionfinish)
    name = f"hailong_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def build() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{template}"'))
        url = _pg_url_of(template)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        load_demo_into(url, spec, APP_CONFIG)

    try:
        with demo_template(request.getfixturevalue("run_folder"), "postgresql", spec, build), admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    finally:
        admin.dispose()
    return name


def _pg_url_of(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _drop_pg(name: str) -> None:
    _db.session.remove()
    if _db.engine is not None:
        _db.engine.dispose()
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The run's process (not an xdist worker) drops the run's PostgreSQL demo templates."""
    if hasattr(session.config, "workerinput") or _pg_reachable() is not None:
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        names = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                             {"p": f"hailong_test_{os.getpid()}_demo%"}).scalars().all()
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The test's own database.  `@pytest.mark.demo_db(responses=N)`: one holding the demo city (`load_demo`
    with the marker's arguments), a copy of a database loaded once per run (tests/db_snapshots.py)."""
    marker = request.node.get_closest_marker("demo_db")
    spec = DemoSpec(*marker.args, **marker.kwargs) if marker is not None else None
    if request.param == "sqlite":
        target = tmp_path / "hailong.sqlite"
        source = _sqlite_demo(request, spec) if spec else request.getfixturevalue("sqlite_template")
        shutil.copy(source, target)
        yield f"sqlite:///{target}"
    elif spec is not None:
        name = _postgresql_demo(request, spec)
        yield _pg_url_of(name)
        _drop_pg(name)
    else:
        url, cleaner = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_cleaner")
        # one URL per test, as on SQLite: the app's caches key on the URL and the data's ids, and a test's data
        # copied from a snapshot (tests/db_snapshots.py) has the same ids as an earlier test's copy
        yield f"{url}?application_name=hailong_test_{next(_pg_tests)}"
        _db.session.remove()
        _truncate_pg(cleaner)


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
    app = create_app({**APP_CONFIG, "DATABASE_URL": database_url})
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
