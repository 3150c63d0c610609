"""HTTP security headers (issue 11 §6, docs/security.md), set by Flask-Talisman rather than by hand.

- Content-Security-Policy: only our own scripts, styles, images and connections; no inline script or style
  (the templates have none: tests/security/test_headers.py checks every page), no framing
  (`frame-ancestors 'none'`, plus X-Frame-Options DENY for old browsers), no plugins.
- Referrer-Policy: no-referrer — receipt tokens travel in URLs (`/r/<token>`), and a link clicked from a
  page must not hand them to another site.
- X-Content-Type-Options: nosniff.
- HSTS in production (sent on HTTPS requests, including behind a proxy setting X-Forwarded-Proto).
  Redirecting plain HTTP to HTTPS is left to the reverse proxy: Talisman's redirect would loop behind a
  proxy that does not say it terminated TLS.
- Cache-Control: no-store on staff pages (any signed-in user, /admin, /dashboard, /homeaffairs, /auth), on the
  JSON API and on every download (Content-Disposition: attachment), so a shared computer's cache keeps no figures,
  comments or tokens.
- Every cookie is Secure in production: the session and remember-me cookies through Flask's settings, the
  others (language, text size, phone device id, kiosk credential) by adding the flag on the way out.
"""

from __future__ import annotations

from flask import Flask, request, request_finished
from flask_talisman import Talisman
from werkzeug.wrappers import Response

CSP = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "style-src": "'self'",
    "script-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
}
STAFF_PREFIXES = ("/admin", "/dashboard", "/homeaffairs", "/auth")
NO_STORE_PREFIXES = (*STAFF_PREFIXES, "/api/")  # API answers (kiosk ids, queue state) are not cached either
HSTS_SECONDS = 2 * 365 * 24 * 3600  # as deploy/nginx/hailong.conf sends it: one policy, whoever answers

def _is_secure(cookie: str) -> bool:
    return any(part.strip().lower() == "secure" for part in cookie.split(";")[1:])


def _signed_in() -> bool:
    from flask_login import current_user

    return bool(getattr(current_user, "is_authenticated", False))


def init_app(app: Flask) -> None:
    """Install the headers; production (HAILONG_PRODUCTION) adds HSTS and Secure cookies."""
    production = bool(app.config.get("HAILONG_PRODUCTION"))
    # With `no-referrer` browsers send no Referer (and `Origin: null`) with our own form posts, so
    # Flask-WTF's HTTPS Referer check would refuse every form in production.  The CSRF token, SameSite=Lax
    # cookies and HSTS remain; the Referer check guarded only against a plain-HTTP man in the middle.
    app.config["WTF_CSRF_SSL_STRICT"] = False
    # one Talisman per app: it keeps its options on itself, and tests build apps of both kinds
    app.extensions["talisman"] = Talisman(
        app,
        force_https=False,
        strict_transport_security=production,
        strict_transport_security_max_age=HSTS_SECONDS,
        strict_transport_security_include_subdomains=True,
        content_security_policy=CSP,
        frame_options="DENY",
        referrer_policy="no-referrer",
        session_cookie_secure=production,
        session_cookie_http_only=True,
        session_cookie_samesite=app.config.get("SESSION_COOKIE_SAMESITE", "Lax"),
        x_content_type_options=True,
    )

    # On request_finished, i.e. after every after_request function (flask-login's remember cookie) and the
    # session cookie: nothing set later could escape the Secure flag.
    def _no_store_and_secure_cookies(_sender: Flask, response: Response, **_extra: object) -> None:
        resp = response
        if request.endpoint != "static":
            attachment = "attachment" in resp.headers.get("Content-Disposition", "")
            # the JSON API first: a kiosk is never a signed-in user, so its requests skip the user look-up
            if attachment or request.path.startswith(NO_STORE_PREFIXES) or _signed_in():
                resp.headers["Cache-Control"] = "no-store"
        if production:
            cookies = resp.headers.getlist("Set-Cookie")
            if any(not _is_secure(c) for c in cookies):
                resp.headers.remove("Set-Cookie")
                for c in cookies:
                    resp.headers.add("Set-Cookie", c if _is_secure(c) else c + "; Secure")

    request_finished.connect(_no_store_and_secure_cookies, app, weak=False)
