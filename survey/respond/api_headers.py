"""Security headers of kiosk API answers, built once per process instead of on every answer (issue 14 §1).

Flask-Talisman builds every header on each response: it parses the CSP dictionary into a string, looks up the
view's options and reads the request URL twice for HSTS — ~6% of a kiosk submission's CPU.  An API answer has no
CSP nonce (survey/guard.py `api_lane` skips Talisman's nonce hook: no template is rendered) and no view of the API
sets its own Talisman options, so its headers depend only on whether HSTS applies (HTTPS or X-Forwarded-Proto).
They are taken from Talisman itself on the first API answer of each kind and set from that copy afterwards; pages,
and any API request that does carry a nonce, still go through Talisman.  Its HTTPS redirect is skipped on the API
when it is off (the default here: the reverse proxy redirects), as it then only reads the request.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask.sansio.app import App
from werkzeug.wrappers import Response

from survey.guard import API_BLUEPRINT


def install(app: App) -> None:
    """Replace Talisman's after-request hook with one that serves API answers from the copy (after Talisman's
    init; a no-op when Talisman is not installed)."""
    talisman = app.extensions.get("talisman")
    hooks = app.after_request_funcs.get(None, [])
    original = getattr(talisman, "_set_response_headers", None)
    if original is None or original not in hooks:
        return
    kept: dict[bool, list[tuple[str, str]]] = {}

    def security_headers(response: Response) -> Any:
        if request.blueprint != API_BLUEPRINT or hasattr(request, "csp_nonce"):
            return original(response)
        hsts = request.is_secure or request.headers.get("X-Forwarded-Proto", "http") == "https"
        headers = kept.get(hsts)
        if headers is None:
            blank = Response()
            before = set(blank.headers.items())
            original(blank)
            headers = kept[hsts] = [h for h in blank.headers.items() if h not in before]
        for name, value in headers:
            response.headers[name] = value
        return response

    hooks[hooks.index(original)] = security_headers
    before = app.before_request_funcs.get(None, [])
    redirect = getattr(talisman, "_force_https", None)
    if redirect in before and not getattr(talisman, "force_https", True):
        # it never redirects then (no API view has options of its own): only its reads of the request remain
        before[before.index(redirect)] = _not_on_api(redirect)


def _not_on_api(hook: Any) -> Any:
    def page_hook() -> Any:
        return None if request.blueprint == API_BLUEPRINT else hook()

    return page_hook
