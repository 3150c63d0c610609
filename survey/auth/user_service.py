"""Staff accounts: create, change role and scope, deactivate, force a password change.  Audited.

Each of these (except creation and a display-name-only edit) ends every session of the user.

Rules that protect the system from its own administrators live here, not in the pages: nobody changes
their own role (so nobody can raise it) or deactivates themselves (the last admin cannot lock everyone
out by accident), a scoped role needs its scope, and passwords have at least 12 characters.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.audit import record
from survey.auth.models import ROLES, User
from survey.auth.passwords import hash_password, verify_password
from survey.database import utcnow
from survey.errors import N_, DomainError, register
from survey.org.models import Agency, Unit

PASSWORD_MIN = 12
PASSWORD_MAX = 200
USERNAME_MAX = 64


register({
    "password_short": N_("The password must have at least 12 characters."),
    "password_long": N_("The password must have at most 200 characters."),
    "unknown_role": N_("Choose a role."),
    "agency_required": N_("An agency viewer needs an agency."),
    "unit_required": N_("A unit manager needs a unit."),
    "username_invalid": N_("A user name has 1 to 64 characters."),
    "username_taken": N_("This user name is already taken."),
    "own_role": N_("You cannot change your own role."),
    "deactivate_self": N_("You cannot deactivate your own account."),
    "wrong_password": N_("The current password is wrong."),
    "same_password": N_("The new password must differ from the current one."),
})


class UserError(DomainError):
    """A refused account change (survey/errors.py); `reason` is the code's older name."""

    @property
    def reason(self) -> str:
        return self.code


def state(user: User) -> dict[str, Any]:
    """What the audit log shows of an account (never the password hash)."""
    return {"username": user.username, "display_name": user.display_name, "role": user.role,
            "agency": user.agency.code if user.agency else None, "unit": user.unit.code if user.unit else None,
            "active": user.active, "must_change_password": user.must_change_password}


def check_password(password: str) -> None:
    if len(password or "") < PASSWORD_MIN:
        raise UserError("password_short", "password")
    if len(password) > PASSWORD_MAX:
        raise UserError("password_long", "password")


def _scope(role: str, agency: Agency | None, unit: Unit | None) -> tuple[Agency | None, Unit | None]:
    if role not in ROLES:
        raise UserError("unknown_role", "role")
    if role == "agency_viewer":
        if agency is None:
            raise UserError("agency_required", "agency")
        return agency, None
    if role == "unit_manager":
        if unit is None:
            raise UserError("unit_required", "unit")
        return None, unit
    return None, None


def create_user(session: Session, *, username: str, display_name: str, password: str, role: str,
                agency: Agency | None = None, unit: Unit | None = None, must_change_password: bool = True) -> User:
    username = username.strip()
    if not username or len(username) > USERNAME_MAX:
        raise UserError("username_invalid", "username")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserError("username_taken", "username")
    check_password(password)
    agency, unit = _scope(role, agency, unit)
    user = User(username=username, display_name=display_name.strip(), password_hash=hash_password(password),
                role=role, agency=agency, unit=unit, active=True, must_change_password=must_change_password,
                created_at=utcnow())
    session.add(user)
    session.flush()
    record(session, "user.create", "user", username, after=state(user))
    return user


def update_user(session: Session, actor: User, user: User, *, role: str, display_name: str,
                agency: Agency | None = None, unit: Unit | None = None) -> bool:
    """Change role, scope and display name; True if something changed."""
    if user.id == actor.id and role != user.role:
        raise UserError("own_role", "role")
    agency, unit = _scope(role, agency, unit)
    before = state(user)
    user.role, user.display_name, user.agency, user.unit = role, display_name.strip(), agency, unit
    session.flush()
    after = state(user)
    if after == before:
        return False
    if any(after[k] != before[k] for k in ("role", "agency", "unit")):
        user.end_all_sessions()  # what a session may see is decided again at the next login
    record(session, "user.update", "user", user.username, before=before, after=after)
    return True


def set_active(session: Session, actor: User, user: User, active: bool) -> bool:
    if user.id == actor.id and not active:
        raise UserError("deactivate_self")
    if user.active == active:
        return False
    before = state(user)
    user.active = active
    user.end_all_sessions()
    session.flush()
    record(session, "user.activate" if active else "user.deactivate", "user", user.username,
           before=before, after=state(user))
    return True


def force_password_reset(session: Session, user: User, temporary_password: str | None = None) -> None:
    """The user must choose a new password at the next login (optionally after logging in with a new
    temporary password the admin hands over)."""
    if temporary_password:
        check_password(temporary_password)
        user.password_hash = hash_password(temporary_password)
    before = state(user)
    user.must_change_password = True
    user.end_all_sessions()  # a session opened before the reset must not outlive it
    session.flush()
    record(session, "user.password_reset", "user", user.username, before=before,
           after={**state(user), "temporary_password_set": bool(temporary_password)})


def change_own_password(session: Session, user: User, current: str, new: str) -> None:
    """The user's own change (the forced one too): the current password is required and must differ."""
    if not verify_password(user.password_hash, current or ""):
        raise UserError("wrong_password", "current")
    check_password(new)
    if verify_password(user.password_hash, new):
        raise UserError("same_password", "new")
    before = state(user)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.end_all_sessions()  # the caller logs the current browser in again
    session.flush()
    record(session, "user.password_changed", "user", user.username, before=before, after=state(user))
