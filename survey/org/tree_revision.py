"""A revision of the administrative tree, raised by every organisation edit, so placements can be cached.

A national tree has 10,011 service points under 3,300 units: reading and resolving them (survey/results/
tree.py:placements) cost every dashboard request tens of milliseconds.  The tree changes rarely and only
through the ORM (survey/org/service.py, the file importer, the admin forms), so a flush that adds, changes
or deletes a level, unit, agency or service point raises `tree_revision.revision` in the same transaction;
every process keeps its placements under the revision it read BEFORE reading the tree (an edit committed
in between is then cached under the older revision, which the edit has already superseded).

The first raise starts from a random value, not 1: test and benchmark databases are emptied and refilled
under the same URL, and a counter restarting at 1 would meet a process cache built on the old tree.  No
row (a tree loaded by raw SQL, never edited) means "unknown": nothing is cached across requests.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import BigInteger, Integer, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from survey.database import Base
from survey.org.models import Agency, Level, ServicePoint, Unit

TREE_TYPES = (Level, Unit, Agency, ServicePoint)
DIRTY = "hailong.tree_changed"  # session.info flag: this transaction changed the tree (not committed yet)


class TreeRevision(Base):
    """One row: the administrative tree's revision (module docstring)."""

    __tablename__ = "tree_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


def raise_revision(session: Session) -> None:
    """Raise the revision in the session's transaction (an upsert: the row may not exist yet)."""
    values = {"id": 1, "revision": secrets.randbits(48)}
    bump = {"revision": TreeRevision.revision + 1}
    if session.get_bind().dialect.name == "postgresql":
        stmt: Any = pg_insert(TreeRevision).values(values).on_conflict_do_update(index_elements=["id"], set_=bump)
    else:
        stmt = sqlite_insert(TreeRevision).values(values).on_conflict_do_update(index_elements=["id"], set_=bump)
    session.connection().execute(stmt)
    session.info[DIRTY] = True


def read_revision(session: Session) -> int | None:
    """The committed revision (None: unknown, or this transaction changed the tree and may roll back)."""
    if session.info.get(DIRTY):
        return None
    value = session.scalar(select(TreeRevision.revision).where(TreeRevision.id == 1))
    return None if value is None else int(value)


def _changes_tree(session: Session) -> bool:
    if any(isinstance(o, TREE_TYPES) for o in (*session.new, *session.deleted)):
        return True
    return any(isinstance(o, TREE_TYPES) and session.is_modified(o) for o in session.dirty)


@event.listens_for(Session, "before_flush")
def _on_flush(session: Session, _context: Any, _instances: Any) -> None:
    if _changes_tree(session):
        raise_revision(session)


@event.listens_for(Session, "do_orm_execute")
def _on_statement(state: Any) -> None:
    """Bulk INSERT/UPDATE/DELETE statements on a tree table (session.execute(insert(Unit.__table__), …))."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in {t.__tablename__ for t in TREE_TYPES}:
        raise_revision(state.session)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _on_end(session: Session) -> None:
    session.info.pop(DIRTY, None)
