"""Database unreachable → 503 with Retry-After, no traceback, one log line per outage.

A PostgreSQL restart or a network cut is an outage, not a bug: kiosks keep the response in their queue
and resend after `Retry-After` (kiosk.js treats 503 like 429), a person sees a short "try again in a
moment" page.  Logging a traceback per request would bury the one useful line, so each serving process
logs the first failure of an outage and, once a request reaches the database again, that it recovered.

The page is rendered without templates or the database (base.html asks for the signed-in user, which
would fail the same way).
"""

from __future__ import annotations

import logging
import threading
import time
from html import escape

from flask import Flask, jsonify, request
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.wrappers import Response

from survey.i18n import current_lang

log = logging.getLogger("hailong.database")

RETRY_AFTER_SECONDS = 10

_lock = threading.Lock()
_outage_since: list[float] = []  # [monotonic start] while this process sees the database down


def in_outage() -> bool:
    """Whether this process is answering 503 for a database outage now (from the first failed request until one
    reaches the database again): the kiosk lane (survey/respond/ingest_wsgi.py) then hands every request to
    Flask, which answers 503 or notes the recovery."""
    return bool(_outage_since)


def is_outage(exc: BaseException) -> bool:
    """True for errors that mean "cannot talk to the database", not "this statement is wrong"."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)  # e.g. a connection reset


def _note_outage(exc: BaseException) -> None:
    with _lock:
        if _outage_since:
            return
        _outage_since.append(time.monotonic())
    # the driver's first line only: it names the host/port and the reason, never a respondent's data
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
    log.error("database unavailable, answering 503 until it is back: %s: %s", type(exc).__name__, reason)


def _note_recovery() -> None:
    with _lock:
        if not _outage_since:
            return
        started = _outage_since.pop()
    log.warning("database reachable again after %.0f s", time.monotonic() - started)


def unavailable_response(exc: BaseException) -> Response:
    """The 503 answer: JSON for the API, a minimal page otherwise; Retry-After in both."""
    _note_outage(exc)
    message = _("The service is briefly unavailable. Please try again in a moment.")
    resp: Response
    if request.path.startswith("/api/"):
        resp = jsonify({"error": "unavailable", "message": message, "retry_after": RETRY_AFTER_SECONDS})
    else:
        lang = current_lang()
        body = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>503</title></head><body><h1>{escape(message)}</h1></body></html>")
        resp = Response(body, mimetype="text/html")
    resp.status_code = 503
    resp.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def init_app(app: Flask) -> None:
    """Register the handlers (database errors raised anywhere in a request)."""

    for kind in (OperationalError, InterfaceError, PoolTimeout):
        app.register_error_handler(kind, unavailable_response)

    @app.after_request
    def _recovered(resp: Response) -> Response:
        if _outage_since and resp.status_code < 500:
            _note_recovery()
        return resp
