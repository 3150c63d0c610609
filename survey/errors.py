"""One way to refuse: a domain error with a code, a field and parameters, translated only at the edge.

Services (org, auth, kiosks, storing responses) raise `DomainError(code, field, **params)`; its text is an
English msgid looked up by code in one registry (`register`, messages marked with `N_` so
`tools/i18n.py refresh` extracts them and `tests/test_translations.py` sees them), and translated with
Flask-Babel when it is shown: `message` in the requesting user's language during a request, or in
`language` when the error names one (a kiosk answers in the respondent's language), English in the CLI.
The pure `questionnaires/` package returns codes only; their messages are registered in
`survey/respond/answer_messages.py`.

Pages show a refusal with `refuse(form, exc)` (on the field it concerns, after rolling back); a refusal no
view catches is mapped to a page or a JSON body in one place, `init_app`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, flash, has_app_context, has_request_context, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import force_locale, gettext

from survey.extensions import db

_MESSAGES: dict[str, str] = {}


def N_(msgid: str) -> str:
    """Mark `msgid` for extraction without translating it now."""
    return msgid


def register(messages: Mapping[str, str]) -> dict[str, str]:
    """Add a domain's {code: English msgid}; a code means one thing everywhere (a clash is a bug)."""
    for code, msgid in messages.items():
        if _MESSAGES.get(code, msgid) != msgid:
            raise ValueError(f"error code {code!r} registered twice with different messages")
        _MESSAGES[code] = msgid
    return dict(messages)


def translate(code: str, params: Mapping[str, Any] | None = None, language: str | None = None) -> str:
    """The message of `code` with `params`: in `language` if given, else the request's, else English."""
    msgid = _MESSAGES.get(code, code)
    params = dict(params or {})
    if language is not None and has_app_context():
        with force_locale(language):
            return gettext(msgid, **params)
    if has_request_context():
        return gettext(msgid, **params)
    return msgid % params if params else msgid


class DomainError(ValueError):
    """A refused change or submission.  `code` is stable (tests, JSON bodies, logs); `field` names the
    input concerned (a form field or file column, never translated); `params` fill the message."""

    def __init__(self, code: str, field: str | None = None, /, *, language: str | None = None, **params: Any):
        self.code = code
        self.field = field
        self.params = params
        self.language = language
        super().__init__(f"{field}: {code}" if field else code)

    @property
    def message(self) -> str:
        return translate(self.code, self.params, self.language)

    def __str__(self) -> str:
        return self.message


def refuse(form: Any, exc: DomainError, *, wrap: str | None = None, fallback: str | None = None) -> None:
    """Show a refusal on the form field it concerns (flash it when no field does) after rolling back the
    transaction the refused change began: the one way a page says "no".  `wrap` is an N_-marked msgid
    with `%(detail)s`; `fallback` the field to use when the form has none named `exc.field`."""
    db.session.rollback()
    message = exc.message if wrap is None else gettext(wrap, detail=exc.message)
    field = getattr(form, exc.field, None) if exc.field else None
    if field is None and fallback:
        field = getattr(form, fallback, None)
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, message]
    else:
        flash(message, "error")


def init_app(app: Flask) -> None:
    """The one place an uncaught refusal becomes a response: JSON under /api/, the error page elsewhere;
    400 either way (the request was refused, the server is fine), and nothing half-written is kept."""

    @app.errorhandler(DomainError)
    def _refused(exc: DomainError) -> ResponseReturnValue:
        db.session.rollback()
        if request.path.startswith("/api/"):
            # the shape docs/api.md gives every refused request: "invalid", a message, the field concerned
            return jsonify({"error": "invalid", "message": exc.message,
                            "errors": {exc.field or "_": exc.message}}), 400
        return render_template("error.html", code=400, message=exc.message), 400
