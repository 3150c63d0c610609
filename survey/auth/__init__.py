"""Users, roles and scopes: which units and agencies a user may see."""

from __future__ import annotations

from flask import Flask

from survey.extensions import db, login_manager


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from survey.auth.models import User

    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load(user_id: str) -> User | None:
        user = db.session.get(User, int(user_id))
        return user if user is not None and user.active else None
