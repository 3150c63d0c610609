"""Demo staff accounts, one per role, with fixed passwords printed by `flask demo --print-logins`.

The passwords are public (they are in the source): the demo is for trying HaiLong out, and `flask demo`
refuses to run in production.  Delete or change these accounts before real use.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.auth.models import User
from survey.auth.passwords import hash_password
from survey.database import utcnow
from survey.org.models import Agency, Unit


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: str
    display_name: str
    description: str


DEMO_USERS = (
    DemoUser("admin", "demo-admin-2022", "admin", "Quản trị hệ thống (demo)", "everything, administration"),
    DemoUser("noivu", "demo-noivu-2022", "home_affairs", "Sở Nội vụ (demo)", "all agencies, comparisons"),
    DemoUser("quanly", "demo-quanly-2022", "unit_manager", "Quản lý đơn vị (demo)", "one unit and the units below it"),
    DemoUser("coquan", "demo-coquan-2022", "agency_viewer", "Cán bộ cơ quan (demo)", "one agency"),
)


def create_demo_users(session: Session, unit_code: str, agency_code: str) -> list[User]:
    """Add the demo accounts that do not exist yet (the unit manager and agency viewer get their scope)."""
    unit = session.scalar(select(Unit).where(Unit.code == unit_code))
    agency = session.scalar(select(Agency).where(Agency.code == agency_code))
    created = []
    for du in DEMO_USERS:
        if session.scalar(select(User).where(User.username == du.username)) is not None:
            continue
        user = User(username=du.username, display_name=du.display_name, password_hash=hash_password(du.password),
                    role=du.role, active=True, must_change_password=False, created_at=utcnow(),
                    unit_id=unit.id if du.role == "unit_manager" and unit else None,
                    agency_id=agency.id if du.role == "agency_viewer" and agency else None)
        session.add(user)
        created.append(user)
    session.flush()
    return created


def login_lines(session: Session) -> list[str]:
    """One line per demo account present in the database: user name, password, role and scope."""
    lines = []
    for du in DEMO_USERS:
        user = session.scalar(select(User).where(User.username == du.username))
        if user is None:
            continue
        scope = ""
        if user.unit is not None:
            scope = f" — {user.unit.name_vi} / {user.unit.name_en}"
        elif user.agency is not None:
            scope = f" — {user.agency.name_vi} / {user.agency.name_en}"
        lines.append(f"  {du.username:<8} password {du.password:<18} role {du.role:<14} ({du.description}{scope})")
    return lines
