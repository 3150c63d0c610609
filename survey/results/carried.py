"""The cells hidden to protect a small group, carried forward from one decision to the next (stored).

WHY (docs/methodology-design.md, "Decisions over time"): the linked decision (survey/results/protection.py) is
remade whenever the counts change, and at an unsafe parent it hides the shown child with the fewest responses —
so a few new responses could move the hide from one sibling to another beside a small group, and yesterday's
page of the sibling shown then, taken from today's parent, gave the small group exactly.  So every cell a
decision hides as secondary is stored here, and every later decision starts with those cells hidden and only
adds: a cell shown today was shown on every earlier day, whatever happened in between (new or late responses,
a confirmed integrity flag, a report revision).  Nothing is ever deleted, so a published period is frozen
except by adding — a revision that creates a new small group still adds what it needs.

Key: one decision (questionnaire versions, the measure's items, n_min) and one CELL of it — org node × time node
(a month, a quarter, or "so far" of the quarter in progress) × channel.  Per cell, not per decision key: the
decision is made anew when a quarter ends and the month cells of last quarter must stay as they were; every
range, quarter, channel and composite a page shows is derived from the cells' status (`Linked`, `across_measures`),
so a cell set that only grows makes every one of them shrink only.  Only the roots of hidden org subtrees are
stored (a hidden node hides every node below it in the same decision).

Reads: one count per decision (the rows again only after cells were added).  Writes: only the cells a decision
adds (one INSERT … ON CONFLICT DO NOTHING, so two processes adding at once lose nothing): in a GET request at once
(`_write`), in a request that writes and outside requests in the caller's transaction.  A lost write is retried by
the next decision (it adds what the stored set lacks)."""

from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime
from threading import Lock
from typing import Any

import numpy as np
from sqlalchemy import Integer, String, UniqueConstraint, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Mapped, Session, mapped_column

from survey.database import Base, UTCDateTime, utcnow

log = logging.getLogger(__name__)
Node = tuple[str, str]


class CarriedHidden(Base):
    """One cell a decision hid to protect a small group (a root of the hidden org subtree at that period and
    channel): every later decision of the same questionnaire versions, items and n_min hides it too."""

    __tablename__ = "carried_hidden"
    __table_args__ = (UniqueConstraint("versions", "items", "n_min", "period", "channel", "kind", "code",
                                       name="uq_carried_hidden_cell"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    versions: Mapped[str] = mapped_column(String(120))  # the questionnaire version ids, "3,5"
    items: Mapped[str] = mapped_column(String(40))  # sha1 of the measure's items (`items_key`)
    n_min: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(16))  # 2022-11, 2022-Q4, or *2023-01: "so far" before that quarter
    channel: Mapped[str] = mapped_column(String(32))  # a channel, or * (every channel)
    kind: Mapped[str] = mapped_column(String(32))  # a level code, agency or service_point
    code: Mapped[str] = mapped_column(String(32))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def decision_key(version_ids: tuple[int, ...], items: list[str], n_min: int) -> tuple[str, str, int]:
    return (",".join(str(v) for v in version_ids), hashlib.sha1("\n".join(items).encode()).hexdigest(), n_min)


def so_far_label(quarter: date) -> str:
    """The stored label of "every complete quarter" while `quarter` is in progress (a different figure in each)."""
    return f"*{quarter.year}-{quarter.month:02d}"


Cells = frozenset[tuple[str, str, str, str]]
#: (database URL, decision key) → the stored cells last read (rows are never deleted, so the same count is the same
#: set: a decision reads one count, and all the rows only after cells were added — by this process or another)
_known: dict[tuple[str, tuple[str, str, int]], Cells] = {}
_known_lock = Lock()


def clear() -> None:
    with _known_lock:
        _known.clear()


def read(session: Session, key: tuple[str, str, int]) -> Cells:
    """The stored cells of a decision: (period, channel, kind, code).  One query (a count) when they did not
    change since the last read; shared: callers must not modify it."""
    versions, items, n_min = key
    where = (CarriedHidden.versions == versions, CarriedHidden.items == items, CarriedHidden.n_min == n_min)
    at = (str(session.get_bind().engine.url), key)
    with _known_lock:
        hit = _known.get(at)
    if hit is not None and session.scalar(select(func.count()).select_from(CarriedHidden).where(*where)) == len(hit):
        return hit
    rows = session.execute(select(CarriedHidden.period, CarriedHidden.channel, CarriedHidden.kind,
                                  CarriedHidden.code).where(*where))
    cells = frozenset((str(p), str(c), str(k), str(x)) for p, c, k, x in rows)
    with _known_lock:
        _known[at] = cells
    return cells


def mask(cells: Cells, org_ix: dict[Node, int], time_ix: dict[str, int],
         channel_ix: dict[str, int], shape: tuple[int, ...]) -> np.ndarray:
    """The stored cells as a boolean [org, time, channel] array over a decision's axes (cells of nodes, periods
    or channels no longer on the axes are left out: they have no responses)."""
    out = np.zeros(shape, dtype=bool)
    for period, channel, kind, code in cells:
        o, t, c = org_ix.get((kind, code)), time_ix.get(period), channel_ix.get(channel)
        if o is not None and t is not None and c is not None:
            out[o, t, c] = True
    return out


def add(session: Session, key: tuple[str, str, int], cells: list[tuple[str, str, str, str]]) -> None:
    """Store `cells` (period, channel, kind, code) of a decision; cells already there are left as they are."""
    if not cells:
        return
    versions, items, n_min = key
    now = utcnow()
    rows = [{"versions": versions, "items": items, "n_min": n_min, "period": p, "channel": c, "kind": k,
             "code": x, "added_at": now} for p, c, k, x in cells]
    try:
        _write(session, rows)
    except OperationalError:  # busy beyond the timeout: the next decision adds them again
        log.warning("carried hidden cells not stored this time (%d cells)", len(rows))


def _insert(conn: Any, rows: list[dict[str, Any]]) -> None:
    """One executemany (batched by SQLAlchemy's insertmanyvalues): a first national decision stores thousands of
    cells."""
    stmt = postgresql.insert(CarriedHidden) if conn.dialect.name == "postgresql" else sqlite.insert(CarriedHidden)
    conn.execute(stmt.on_conflict_do_nothing(), rows)


def _write(session: Session, rows: list[dict[str, Any]]) -> None:
    """A request that only reads (GET): stored at once — on the primary through a connection of its own when the
    session reads a replica, else in the session after ending its read transaction (on SQLite a read transaction
    that then writes fails when another writer committed meanwhile; a page's reads hold nothing to commit).
    Elsewhere (a request that writes, CLI, jobs, tests) in the caller's transaction, under a savepoint: its commit
    stores them (the caller may hold SQLite's write lock itself, so another connection would wait on it)."""
    from flask import has_request_context

    from survey.database import _writing
    from survey.extensions import db

    if not has_request_context() or _writing():
        with session.begin_nested():
            _insert(session.connection(), rows)
        return
    if db.replica_engine is not None and session.get_bind() is db.replica_engine and db.engine is not None:
        with db.engine.begin() as own:
            _insert(own, rows)
        return
    session.commit()
    try:
        _insert(session.connection(), rows)
        session.commit()
    except OperationalError:
        session.rollback()
        raise
