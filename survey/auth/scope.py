"""What a user may see.  Every page, chart, export and API asks here, server-side.

- agency_viewer: its own agency only;
- unit_manager: agencies of its unit and of every unit below it;
- home_affairs, admin: everything.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required
from sqlalchemy import select

from survey.auth import roles
from survey.auth.models import User
from survey.extensions import db
from survey.org.models import Agency
from survey.org.tree import unit_subtree

F = TypeVar("F", bound=Callable[..., Any])

SEES_ALL = roles.SEES_ALL


def unit_subtree_ids(unit_id: int) -> set[int]:
    """The unit and all units below it (survey.org.tree walks the tree)."""
    return unit_subtree(db.session, unit_id)


def visible_agency_ids(user: User) -> set[int] | None:
    """Agency ids the user may see; None means all."""
    if user.role in SEES_ALL:
        return None
    if user.role == "agency_viewer":
        return {user.agency_id} if user.agency_id is not None else set()
    if user.role == "unit_manager" and user.unit_id is not None:
        units = unit_subtree_ids(user.unit_id)
        return set(db.session.scalars(select(Agency.id).where(Agency.unit_id.in_(units))))
    return set()


def visible_unit_ids(user: User) -> set[int] | None:
    """Unit ids the user may see as a whole (comparisons); None means all."""
    if user.role in SEES_ALL:
        return None
    if user.role == "unit_manager" and user.unit_id is not None:
        return unit_subtree_ids(user.unit_id)
    return set()


def can_see_agency(user: User, agency_id: int) -> bool:
    allowed = visible_agency_ids(user)
    return allowed is None or agency_id in allowed


def roles_required(*roles: str) -> Callable[[F], F]:
    """Login required and one of `roles`; otherwise 403 (never a hint of what exists)."""

    def deco(fn: F) -> F:
        @wraps(fn)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco
