"""One request-wide guard so that no input can reach a parser or the database in a shape that ends in a 500.

Installed by `create_app` before any blueprint is registered:
- `<int:…>` in every route is limited to the 32-bit integer columns (an id beyond them is a 404, not a
  database error), and `request.args/form.get(…, type=int)` returns the default for such numbers;
- every request body is capped before anything reads it, also without a Content-Length (chunked): 256 KB
  for the JSON API, 4 MB for other non-file bodies, MAX_CONTENT_LENGTH for file uploads;
- the URL path, query and form fields may not carry NUL, control characters (tab and line breaks are
  fine) or lone surrogates: a 400 in the user's language (JSON under /api/);
- JSON is read through `survey.inputs.loads` (bounded nesting and integer size, same character rule).
The rules themselves are in survey/inputs.py; docs/security.md §3 lists what each one prevents.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Request, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask_babel import gettext as _
from itsdangerous import BadSignature
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import IntegerConverter, ValidationError

from survey import inputs

API_PREFIX = "/api/"
API_MAX_BODY = 256 * 1024  # a kiosk response with the longest comments is a few kilobytes
FORM_MAX_BODY = 4 * 1024 * 1024  # any form without a file (the tree import sends its checked file back, 2 MB)


class BoundedIntConverter(IntegerConverter):
    """`<int:id>` that only matches ids the integer columns can hold (others are a plain 404)."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits, inputs.DB_INT_MIN if min is None else min,
                         inputs.DB_INT_MAX if max is None else max, signed)

    def to_python(self, value: str) -> Any:
        if len(value) > inputs.MAX_INT_DIGITS:  # int() of >4,300 digits raises ValueError, not a 404
            raise ValidationError()
        return super().to_python(value)


class BoundedMultiDict(ImmutableMultiDict):
    """Query and form values: `get(…, type=int)` means an integer that fits a column, else the default."""

    # one signature for werkzeug's overloads: the values are strings, `type` converts them
    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:  # type: ignore[override]
        return super().get(key, default, inputs.db_int if type is int else type)

    def getlist(self, key: Any, type: Any = None) -> Any:
        return super().getlist(key, inputs.db_int if type is int else type)


class GuardedRequest(Request):
    parameter_storage_class = BoundedMultiDict


class GuardedJSONProvider(DefaultJSONProvider):
    """`request.get_json()` with the limits of `survey.inputs.loads` (UnsafeInput is a ValueError)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return inputs.loads(s, **kwargs)


def reason_message(reason: str) -> str:
    """The user's-language sentence for an UnsafeInput reason (or any malformed JSON)."""
    messages = {
        "characters": _("The text you sent contains characters that cannot be stored (invisible control "
                        "characters). Please remove them and try again. Nothing was saved."),
        "nesting": _("The data you sent is nested too deeply. Nothing was saved."),
        "number": _("The data you sent contains a number that is too large. Nothing was saved."),
    }
    return messages.get(reason, _("The request body must be a JSON object."))


def refuse(reason: str) -> tuple[Any, int]:
    """A 400 for refused input: JSON under /api/, the error page elsewhere."""
    message = reason_message(reason)
    if request.path.startswith(API_PREFIX):
        return jsonify({"error": "invalid", "message": message}), 400
    return render_template("error.html", code=400, message=message), 400


def body_limit(req: Request, default: int | None) -> int | None:
    """Most bytes this request's body may have (enforced by Werkzeug while reading, chunked or not)."""
    if req.path.startswith(API_PREFIX):
        return API_MAX_BODY
    if req.mimetype == "multipart/form-data":
        return default
    return min(FORM_MAX_BODY, default) if default else FORM_MAX_BODY


def _forbidden(values: Any) -> bool:
    return any(inputs.has_forbidden_characters(k) or any(inputs.has_forbidden_characters(v) for v in vs)
               for k, vs in values.lists())


def _guard() -> tuple[Any, int] | None:
    request.max_content_length = body_limit(request, request.max_content_length)
    if inputs.has_forbidden_characters(request.path) or _forbidden(request.args):
        return refuse("characters")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data") and _forbidden(request.form):
        return refuse("characters")
    return None


def read_body() -> bytes:
    """The whole body within the cap; 413 when it goes on past it (Werkzeug's capped read of a chunked
    body stops quietly at the cap, which would look like truncated JSON)."""
    data = request.get_data(cache=True)
    limit = request.max_content_length
    if limit is not None and len(data) >= limit:
        request.stream.read(1)  # raises RequestEntityTooLarge if anything follows
    return data


def init_app(app: Flask) -> None:
    """Install the guard; must run before blueprints register their routes (the converter is read then)."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.request_class = GuardedRequest
    app.json = GuardedJSONProvider(app)
    # first, so that the body cap holds before CSRF or the limiter read the form
    app.before_request_funcs.setdefault(None, []).insert(0, _guard)



API_BLUEPRINT = "api"  # survey/respond/api.py: kiosks only (device credential), CSRF-exempt, JSON in and out


def _page_hook(func: Any) -> bool:
    """A before/after-request hook that only serves pages: CSRF check (the API blueprint is exempt), Flask-Limiter's
    decorator-limit pass and its headers (nothing under /api/ is limited by decorator: the per-kiosk cap is counted
    in the view), the CSP nonce (no template is rendered), the forced password change and the remember-me cookie
    (a kiosk never signs in)."""
    name = getattr(getattr(func, "func", func), "__name__", "")
    module = getattr(getattr(func, "func", func), "__module__", "") or ""
    return (module.startswith(("flask_wtf.", "flask_limiter.", "flask_login."))
            or (module.startswith("flask_talisman.") and name == "_make_nonce")
            or (module == "survey.auth.views" and name == "_force_password_change"))


class _ReceivedSession(SecureCookieSession):
    """A cookie session that remembers what the browser sent, so an unchanged session is not sent back."""

    def __init__(self, initial: Any = None, signed_at: datetime | None = None) -> None:
        super().__init__(initial)
        self.received = dict(initial or {})
        self.signed_at = signed_at


class _SessionCookies(SecureCookieSessionInterface):
    """The cookie session, with two changes to Flask's:

    - no cookie session under /api/: a kiosk has none, and opening one built a signing serializer per request;
    - the cookie is sent back only when the session's content changed (or, for a signed-in session, when it is
      older than REFRESH_AFTER, so the 8-hour expiry still slides).  Flask-Login's strong protection marks every
      anonymous request's session as modified, so every response, a 404 favicon included, re-sent the cookie
      as that request had received it: a request sent before the login page and answered after it put back a
      session without the login form's CSRF token, and the login failed with "Yêu cầu không hợp lệ".
    """

    session_class = _ReceivedSession
    REFRESH_AFTER = timedelta(minutes=5)

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(API_PREFIX):
            return self.make_null_session(app)
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return _ReceivedSession()
        try:
            data, signed_at = serializer.loads(value, max_age=int(app.permanent_session_lifetime.total_seconds()),
                                               return_timestamp=True)
        except BadSignature:
            return _ReceivedSession()
        return _ReceivedSession(data, signed_at)

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        if not isinstance(session, _ReceivedSession):
            return super().should_set_cookie(app, session)
        if dict(session) != session.received:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        return session.signed_at is None or datetime.now(UTC) - session.signed_at >= self.REFRESH_AFTER


def api_lane(app: Flask) -> None:
    """Requests to the kiosk API run only the hooks that apply to it (body guard, database session routing,
    metrics, security headers, outage answer); every other request runs all of them.  Call last in create_app,
    once every extension has installed its hooks.  A hook added later runs on the API too unless listed here."""
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = _SessionCookies()
    registries: tuple[Any, ...] = (app.before_request_funcs, app.after_request_funcs)
    for funcs in registries:
        hooks = funcs.get(None, [])
        if any(_page_hook(f) for f in hooks):
            funcs[None] = [_skip_on_api(f) if _page_hook(f) else f for f in hooks]


def _skip_on_api(func: Any) -> Any:
    def hook(*args: Any) -> Any:
        if request.blueprint == API_BLUEPRINT:
            return args[0] if args else None  # an after-request hook hands the response on
        return func(*args)

    hook.__name__ = f"page_only_{getattr(func, '__name__', 'hook')}"
    return hook
