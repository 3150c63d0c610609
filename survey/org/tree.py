"""Walking the administrative tree: the one place that knows how to find the units below a unit."""

from __future__ import annotations

from threading import Lock

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.org.models import Unit
from survey.org.tree_revision import read_revision

_kept: dict[str, tuple[int, dict[int | None, list[int]]]] = {}  # database URL → (tree revision, children)
_lock = Lock()


def unit_subtree(session: Session, unit_id: int) -> set[int]:
    """The unit and every unit below it, retired ones included (scopes and selections must not lose data
    when a commune is retired).  The tree is small (thousands of units at most): read it once, walk it in
    Python — one query instead of a recursive CTE per level."""
    children = _children(session)
    found: set[int] = set()
    stack = [unit_id]
    while stack:
        uid = stack.pop()
        if uid not in found:
            found.add(uid)
            stack.extend(children.get(uid, []))
    return found


def _children(session: Session) -> dict[int | None, list[int]]:
    """Units by parent, kept per process under the tree revision (survey/org/tree_revision.py): a province
    manager's page asks for its subtree several times, and a national tree has 3,300 units."""
    url = str(session.get_bind().engine.url)
    revision = read_revision(session)  # BEFORE the units: an edit committed in between raises it again
    if revision is not None:
        with _lock:
            hit = _kept.get(url)
        if hit is not None and hit[0] == revision:
            return hit[1]
    children: dict[int | None, list[int]] = {}
    for uid, parent in session.execute(select(Unit.id, Unit.parent_id)):
        children.setdefault(parent, []).append(uid)
    if revision is not None:
        with _lock:
            _kept[url] = (revision, children)
    return children


def clear() -> None:
    """Forget the kept trees (survey/results/cache.py:clear calls it)."""
    with _lock:
        _kept.clear()
