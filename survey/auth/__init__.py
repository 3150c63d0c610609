"""Users, roles and scopes: which units and agencies a user may see."""

from __future__ import annotations

import re

from flask import Flask

from survey.extensions import db, login_manager


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from survey.auth.models import User

    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load(session_id: str) -> User | None:
        """Only a cookie of the user's current session version opens anything (see User.get_id)."""
        if not re.fullmatch(r"[0-9]{1,9}\.[0-9]{1,9}", session_id or ""):
            return None  # also sessions from before session versions: they must log in again
        user_id, _, version = session_id.partition(".")
        user = db.session.get(User, int(user_id))
        if user is None or not user.active or user.session_version != int(version):
            return None
        return user
