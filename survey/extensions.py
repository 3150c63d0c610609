"""Extension singletons, bound to an app in create_app (init_app pattern)."""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from survey.database import Database


def _limiter_key() -> str:
    """Rate-limit key: the kiosk credential or device cookie, never the IP (offices share one)."""
    from flask import g, request

    kiosk = getattr(g, "kiosk", None)
    if kiosk is not None:
        return f"kiosk:{kiosk.id}"
    device = request.cookies.get("hl_device")
    if device:
        return f"device:{device}"
    return "anonymous"


db = Database()
csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()
limiter = Limiter(key_func=_limiter_key, default_limits=[])
