"""SQLAlchemy 2.0 engine and scoped session per app, without Flask-SQLAlchemy's magic."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from flask import Flask
from sqlalchemy import BigInteger, DateTime, Engine, Integer, MetaData, Table, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY, so big ids are plain integers there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def table_of(model: type[Base]) -> Table:
    """A model's Table for Core statements: SQLAlchemy types `__table__` as a FromClause, which has no
    insert()/delete() and which insert()/update() refuse."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class UTCDateTime(TypeDecorator[datetime]):
    """Always timezone-aware UTC in Python; stored as UTC (naive in SQLite, timestamptz in PostgreSQL)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: HaiLong stores only timezone-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class UTCSecond(UTCDateTime):
    """UTCDateTime kept to the second: for respondents' moments (`Response.submitted_at`/`received_at`), whose
    microseconds next to a kiosk or invitation id could tie an answer to a person (docs/security.md §5).
    Truncated when bound, so ORM and Core inserts (store_response, bulk loaders) alike store seconds."""

    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        bound = super().process_bind_param(value, dialect)
        return None if bound is None else bound.replace(microsecond=0)


def _writing() -> bool:
    """True in requests whose method may change data."""
    from flask import has_request_context, request

    return has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")


T = TypeVar("T")


def write_retrying(session: Session, write: Callable[[], T], attempts: int = 3) -> T:
    """`write()` in a fresh transaction, run again when SQLite answers "database is locked" under a burst of
    writers.  The caller's open (read) transaction ends first, so SQLite waits for a concurrent writer
    instead of failing on a stale snapshot; any other error, or the last "locked", propagates, nothing kept."""
    session.rollback()
    for attempt in range(attempts):
        try:
            return write()
        except OperationalError as exc:
            session.rollback()
            if attempt == attempts - 1 or "locked" not in str(exc).lower():
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def utcnow() -> datetime:
    """The app's one clock (aware UTC): `HAILONG_CLOCK` when the app sets one, so that tests and screenshots
    choose "now" for everything at once (stored times, periods, what is complete), never today's date."""
    from flask import current_app, has_app_context

    if has_app_context():
        clock = current_app.config.get("HAILONG_CLOCK")
        if clock is not None:
            moment: datetime = clock()
            return moment
    return datetime.now(UTC)


def make_engine(url: str) -> Engine:
    """Engine with SQLite made safe for a web app (foreign keys on, WAL, waits instead of failing)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
            # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin: SAVEPOINTs need it.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # A deferred transaction that reads, then writes, fails at once with "database is locked" when
            # another writer committed meanwhile (the busy timeout cannot help).  Requests that change
            # things take the write lock up front and so wait their turn instead.  Outside requests
            # (CLI, tests, jobs) transactions stay deferred: a reader there must not block every writer.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if _writing() else "BEGIN")

        return engine
    engine = create_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT})
    _ping_when_idle(engine)
    return engine


CONNECT_TIMEOUT = 5  # seconds: an unreachable server answers 503 (survey/unavailable.py), not a hung worker
IDLE_PING_SECONDS = 30.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it has been idle for a while.

    `pool_pre_ping` costs a round trip on every request (a third of what `/healthz` paid).  Under load
    connections are never idle, and when the server restarts the first statement on an old connection
    fails: SQLAlchemy then discards every connection older than the failure, and the request answers
    503 + Retry-After (the kiosk resends it).  After a quiet spell — the likely time for a restart or a
    firewall dropping idle connections — the connection is still pinged first, so the first visitor of
    the morning does not see a 503.
    """
    import time

    from sqlalchemy.exc import DisconnectionError

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            cur = dbapi_conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
            dbapi_conn.rollback()
        except Exception as exc:  # any failure: the pool replaces the connection and retries
            raise DisconnectionError() from exc


# Blueprints whose GET pages only read: with DATABASE_REPLICA_URL set, their requests read from the replica.
REPLICA_BLUEPRINTS = frozenset({"dashboard", "homeaffairs", "report"})


def _reads_replica() -> bool:
    from flask import has_request_context, request

    return (has_request_context() and request.method in ("GET", "HEAD")
            and request.blueprint in REPLICA_BLUEPRINTS)


if TYPE_CHECKING:
    class RequestSession(Session):
        """What `db.session` is to the type checker: a `Session` (the scoped proxy forwards every method to this
        request's session, so it goes wherever a `Session` is expected) that can also be called for the
        session itself and removed at the end of a request."""

        def __call__(self) -> Session: ...

        def remove(self) -> None: ...
else:
    RequestSession = scoped_session


class Database:
    """Holds the engine and a request-scoped session; `db.session` is the session for this request.

    With a read replica configured (DATABASE_REPLICA_URL), the session of a GET request to a dashboard
    blueprint (REPLICA_BLUEPRINTS) is bound to the replica: the heavy read-only pages leave the primary to
    the writers.  Every other request — submissions, forms, logins, administration, any POST — uses the
    primary.  A replica lags by its replication delay (usually under a second): a dashboard may show a
    response a moment later than the primary would.
    """

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.replica_engine: Engine | None = None
        self._factory: sessionmaker[Session] | None = None
        self._replica_factory: sessionmaker[Session] | None = None
        self.session: RequestSession = cast("RequestSession", scoped_session(cast(Any, self._make_session)))

    def _make_session(self) -> Session:
        if self._factory is None:
            raise RuntimeError("database not initialised: call create_app() first")
        if self._replica_factory is not None and _reads_replica():
            return self._replica_factory()
        return self._factory()

    def init_app(self, app: Flask) -> None:
        self.configure(app.config["DATABASE_URL"])
        self.configure_replica(app.config.get("DATABASE_REPLICA_URL") or None)

        @app.before_request
        def _route_session() -> None:
            # the session is bound when first used: with a replica, start each request with a fresh one so
            # the routing follows this request (a no-op in a server, where each request gets a new one)
            if self._replica_factory is not None:
                self.session.remove()
        app.extensions["hailong_db"] = self

        @app.teardown_appcontext
        def _remove_session(_exc: BaseException | None) -> None:
            self.session.remove()

    def configure(self, url: str) -> None:
        if self.engine is not None and str(self.engine.url) == url:
            return
        self.session.remove()
        if self.engine is not None:
            self.engine.dispose()
        self.engine = make_engine(url)
        self._factory = sessionmaker(bind=self.engine, expire_on_commit=False)

    def configure_replica(self, url: str | None) -> None:
        """Use `url` (a read-only copy of the primary) for dashboard reads; None = everything on the primary."""
        if url and url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        if self.replica_engine is not None and url and str(self.replica_engine.url) == url:
            return
        if self.replica_engine is not None:
            self.replica_engine.dispose()
        self.replica_engine = make_engine(url) if url else None
        self._replica_factory = (sessionmaker(bind=self.replica_engine, expire_on_commit=False)
                                 if self.replica_engine is not None else None)

    def create_all(self) -> None:
        from survey import models  # noqa: F401  (registers every table)

        assert self.engine is not None
        Base.metadata.create_all(self.engine)
