"""Staff accounts (never citizens).  A role plus a scope (an agency or a unit) decides what one may see."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.auth.roles import ROLES  # noqa: F401  (re-exported: forms and services read it here)
from survey.database import Base, UTCDateTime
from survey.org.models import Agency, Unit


class User(UserMixin, Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    # Raised to end every session of this user (logout, password change/reset, deactivation, role or
    # scope change): the session cookie carries "<id>.<version>" and only the current version loads.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    agency: Mapped[Agency | None] = relationship()
    unit: Mapped[Unit | None] = relationship()

    @property
    def is_active(self) -> bool:  # flask-login: deactivated users cannot log in
        return self.active

    def get_id(self) -> str:
        """What flask-login keeps in the session cookie: the id and the session version (not secret)."""
        return f"{self.id}.{self.session_version or 0}"

    def end_all_sessions(self) -> None:
        """Every session cookie issued so far stops working (copied ones too)."""
        self.session_version = (self.session_version or 0) + 1
