"""Walking the administrative tree: the one place that knows how to find the units below a unit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.org.models import Unit


def unit_subtree(session: Session, unit_id: int) -> set[int]:
    """The unit and every unit below it, retired ones included (scopes and selections must not lose data
    when a commune is retired).  The tree is small (thousands of units at most): read it once, walk it in
    Python — one query instead of a recursive CTE per level."""
    children: dict[int | None, list[int]] = {}
    for uid, parent in session.execute(select(Unit.id, Unit.parent_id)):
        children.setdefault(parent, []).append(uid)
    found: set[int] = set()
    stack = [unit_id]
    while stack:
        uid = stack.pop()
        if uid not in found:
            found.add(uid)
            stack.extend(children.get(uid, []))
    return found
