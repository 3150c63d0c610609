"""Test data built once per test process and copied into each test's database (issue 13 §6: a faster suite).

`small_city` and `city_with_responses` cost 0.1–1.5 s of CPU per test on SQLite, more on PostgreSQL (hundreds
of `store_response` calls), and most of their callers ask for the same data.  `built_once(session, key, …)`
builds it the first time, through the real code, and records every table's rows before and after; a later
call with the same key, on a database in the same state as before that first build, inserts the recorded rows
instead (one executemany per table) and returns the same value re-read from this session.

The key holds everything the build depends on besides its arguments, so a copy is what the build would write:
- the database kind (SQLite, PostgreSQL) and the full contents of the database before the build;
- the app's settings (HAILONG_CLOCK by its current value; the database URL left out);
- with the real clock, when the data were built: a copy is used for at most `MAX_AGE`, and only when no
  midnight (UTC or the app's time zone) fell between `span` before the build and now (a build stores times
  from now back to `span` before it, besides whole days), so every stored date, period and month is what a
  build now would give; only times of day may be up to `MAX_AGE` older.
The first copy of each snapshot in a process is compared row by row with the recorded state (a copy that
differs fails the test).  HAILONG_TEST_SNAPSHOTS=0 turns copying off (every call builds).

The demo city (thousands of responses, 10-40 s per load) is shared more widely: once per pytest RUN per
database kind, whole databases copied (`demo_template`, used by `@pytest.mark.demo_db` in tests/web_fixtures.py).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Table, insert, select, text
from sqlalchemy.orm import Session, scoped_session

T = TypeVar("T")
R = TypeVar("R")

#: how long data built on the real clock may be copied (the times of day they hold are that much older)
MAX_AGE = timedelta(minutes=20)

Rows = dict[str, tuple[tuple[Any, ...], ...]]


@dataclass
class Snapshot:
    after: Rows
    ids: Any
    built_at: datetime
    real_clock: bool
    span: timedelta
    checked: bool = False


_snapshots: dict[Hashable, Snapshot] = {}


def _tables() -> list[Table]:
    from survey import models  # noqa: F401  (every model registered on the metadata)
    from survey.database import Base

    return list(Base.metadata.sorted_tables)


def dump(session: Session) -> Rows:
    """Every table's rows, in primary-key order (the pending changes of `session` flushed first).

    One query first finds the tables that hold rows (most tests start from an empty database), then only those
    are read: one round trip instead of one per table."""
    out: Rows = {}
    tables = _tables()
    probe = " UNION ALL ".join(f"SELECT {i} WHERE EXISTS (SELECT 1 FROM {t.name})" for i, t in enumerate(tables))
    session.flush()
    full = set(session.execute(text(probe)).scalars())
    for table in (t for i, t in enumerate(tables) if i in full):
        order = list(table.primary_key.columns) or list(table.columns)
        rows = session.execute(select(table).order_by(*order)).all()
        if rows:
            out[table.name] = tuple(tuple(row) for row in rows)
    return out


def _settings_key() -> tuple[Any, ...] | None:
    """The app's settings as a hashable value (None outside an app): builds may read any of them."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return None
    items: list[tuple[str, Any]] = []
    for name, value in sorted(current_app.config.items()):
        if name == "DATABASE_URL" or name.startswith("RATELIMIT_"):  # (Flask-Limiter fills in the first app's)
            continue
        if name == "HAILONG_CLOCK" and callable(value):
            value = ("clock", value())
        try:
            hash(value)
        except TypeError:
            value = repr(value)
        if callable(value):  # a function's identity says nothing stable; its place does
            value = ("callable", getattr(value, "__module__", ""), getattr(value, "__qualname__", ""))
        items.append((name, value))
    return tuple(items)


def _zones() -> list[Any]:
    from flask import current_app, has_app_context

    name = current_app.config.get("HAILONG_TIMEZONE") if has_app_context() else None
    return [UTC, ZoneInfo(name or "Asia/Ho_Chi_Minh")]


def _still_valid(snapshot: Snapshot) -> bool:
    if not snapshot.real_clock:
        return True
    now = datetime.now(UTC)
    if now - snapshot.built_at > MAX_AGE:
        return False
    earliest = snapshot.built_at - snapshot.span
    return all(earliest.astimezone(zone).date() == now.astimezone(zone).date() for zone in _zones())


def _copyable(rows: Rows) -> bool:
    """False when a JSON column holds None: it would come back as JSON null instead of SQL NULL."""
    for table in _tables():
        json_at = [i for i, c in enumerate(table.columns) if isinstance(c.type, JSON)]
        if json_at and any(row[i] is None for row in rows.get(table.name, ()) for i in json_at):
            return False
    return True


def _restore(session: Session, before: Rows, after: Rows) -> None:
    """Make the database hold `after` (it holds `before`): delete what was there, insert every row.  On the
    session's connection, not through the ORM: its events (e.g. the tree revision's) must not fire again."""
    conn = session.connection()
    tables = _tables()
    for table in reversed(tables):
        if table.name in before:
            conn.execute(table.delete())
    for table in tables:
        rows = after.get(table.name)
        if rows:
            keys = [c.key for c in table.columns]
            conn.execute(insert(table), [dict(zip(keys, row, strict=True)) for row in rows])
    if conn.dialect.name == "postgresql":
        # explicit ids leave the sequences behind: move them past the copied ids (never backwards)
        for table in tables:
            pk = list(table.primary_key.columns)
            if table.name not in after or len(pk) != 1 or pk[0].type.python_type is not int:
                continue
            seq = conn.scalar(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": pk[0].name})
            if seq is not None:
                conn.execute(text(f"SELECT setval('{seq}', GREATEST((SELECT max({pk[0].name}) FROM {table.name}), "
                                  f"(SELECT last_value FROM {seq})))"))
    session.commit()


def built_once(session: Session, key: Hashable, build: Callable[[], T], ids: Callable[[T], R],
               reread: Callable[[Session, R], T], span: timedelta = timedelta(0)) -> T:
    """`build()` (which must commit all it writes), or a copy of what it wrote the first time for `key`.

    ids(value) says what to remember of the value (ids, plain data); reread(session, that) gives the value
    again on this session after a copy.  span: how far before "now" (modulo whole days) build() stores times."""
    if os.environ.get("HAILONG_TEST_SNAPSHOTS", "1") == "0":
        return build()
    before = dump(session)
    settings = _settings_key()
    clock = dict(settings or ()).get("HAILONG_CLOCK")
    full = (session.get_bind().dialect.name, key, repr(settings), repr(before))  # rows may hold dicts (JSON)
    snapshot = _snapshots.get(full)
    if snapshot is not None and _still_valid(snapshot):
        _restore(session, before, snapshot.after)
        if not snapshot.checked:
            copied = dump(session)
            assert copied == snapshot.after, f"a copied snapshot differs from what {key!r} built"
            snapshot.checked = True
        return reread(session, snapshot.ids)
    built_at = datetime.now(UTC)
    value = build()
    own = session.registry() if isinstance(session, scoped_session) else session  # db.session in browser tests
    if own.in_transaction():  # it left something uncommitted (a copy would commit it): never copied
        return value
    after = dump(session)
    session.commit()  # ends the read transaction of dump()
    if _copyable(after):
        _snapshots[full] = Snapshot(after, ids(value), built_at, real_clock=clock is None, span=span)
    return value


# ------------------------------------------------------------------ the demo city, loaded once per run

@dataclass(frozen=True)
class DemoSpec:
    """What `@pytest.mark.demo_db(responses=…, structure=…, seed=…)` asks for: `load_demo` with these."""

    responses: int
    structure: str = "2022"
    seed: int = 2022  # survey.demo.load.DEFAULT_SEED

    @property
    def name(self) -> str:
        return f"demo{self.responses}_{self.structure}_{self.seed}"


def run_pid() -> int:
    """The pid of the pytest process that started this run (the xdist controller for a worker)."""
    return os.getppid() if os.environ.get("PYTEST_XDIST_WORKER") else os.getpid()


def load_demo_into(url: str, spec: DemoSpec, config: dict[str, Any]) -> None:
    """`load_demo` into the migrated, empty database at `url` through an app with the tests' `config`, then
    close every connection to it (a PostgreSQL template must have none)."""
    from survey import create_app
    from survey.demo.load import load_demo
    from survey.extensions import db

    app = create_app({**config, "DATABASE_URL": url})
    with app.app_context():
        load_demo(db.session, spec.structure, spec.responses, spec.seed)
        db.session.commit()
        db.session.remove()
    assert db.engine is not None
    db.engine.dispose()


@contextmanager
def demo_template(folder: Path, kind: str, spec: DemoSpec, build: Callable[[], None]) -> Iterator[None]:
    """Hold the lock of the run's `kind` template of `spec` (in `folder`, shared by the xdist workers), with
    the template built: by `build()` when no worker has built it yet, or when the one built is older than
    MAX_AGE or from before a midnight (its users, audit rows and times of day are "now" when built; the
    demo's responses are in fixed months).  Copy it inside the block (a rebuild must not happen meanwhile)."""
    base = folder / f"{kind}-{spec.name}"
    with open(f"{base}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            stamp = Path(f"{base}.built")
            built_at = datetime.fromisoformat(stamp.read_text()) if stamp.exists() else None
            if built_at is None or not _still_valid(Snapshot({}, None, built_at, real_clock=True,
                                                             span=timedelta(0))):
                stamp.unlink(missing_ok=True)
                now = datetime.now(UTC)
                build()
                stamp.write_text(now.isoformat())
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
