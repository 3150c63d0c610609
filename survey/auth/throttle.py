"""Throttling of failed staff logins, without ever locking an account.

The old rule (5 wrong passwords lock any account for 15 minutes) let anyone lock the administrator
out.  Instead, failures are counted in the rate-limit store (Flask-Limiter's `limits` storage: Redis in
production, memory in the demo), never in the database, in these buckets:

- (user name, keyed hash of the client address): growing waits — 5 failures a minute, 10 per 15
  minutes, 20 an hour, 50 a day.  A colleague behind the same office address shares this bucket, so:
- a browser that has logged in as that user before carries a signed "known browser" cookie; its
  failures go to its own bucket (user name, browser) with the same growing waits, and the ceilings
  below do not apply to it.  An outsider can therefore not lock a real user out of their usual browser.
- unknown browsers also meet ceilings: per address hash (any user name: password spraying), per user
  name from all addresses (distributed guessing of one account) and one global ceiling.

The address hash is `survey.client_hash.client_key` (HMAC, rotating daily): no address is stored.
A refused attempt checks no password, so it costs the same whether the user exists or not.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import time
from dataclasses import dataclass

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import RateLimitItem, parse, parse_many
from werkzeug.wrappers import Response

from survey.client_hash import client_key
from survey.extensions import limiter

GROWING = parse_many("5/minute;10/15 minutes;20/hour;50/day")
PER_ADDRESS = parse("100/hour")
PER_USERNAME = parse("300/hour")
GLOBAL = parse("2000/hour")

KNOWN_COOKIE = "hl_known_browser"
log = logging.getLogger(__name__)
KNOWN_DAYS = 90


def _name_key(username: str) -> str:
    """Bucket names carry a digest of the user name (case-folded), not the name itself."""
    return hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:24]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="hailong-known-browser")


def _known_browser(username: str) -> str | None:
    """The browser's id if its signed cookie names this user, else None."""
    raw = request.cookies.get(KNOWN_COOKIE)
    if not raw or len(raw) > 400:
        return None
    try:
        data = _serializer().loads(raw, max_age=KNOWN_DAYS * 86400)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("u") != _name_key(username):
        return None
    browser = data.get("b")
    return browser if isinstance(browser, str) else None


def remember_browser(resp: Response, username: str, secure: bool) -> None:
    """After a successful login: this browser is known for this user (its failures stay its own)."""
    token = _serializer().dumps({"u": _name_key(username), "b": secrets.token_urlsafe(12)})
    resp.set_cookie(KNOWN_COOKIE, token, max_age=KNOWN_DAYS * 86400, httponly=True, samesite="Lax",
                    secure=secure, path="/auth/")


@dataclass(frozen=True)
class Buckets:
    """The (limit, identifiers) pairs one login attempt counts against."""

    growing: tuple[str, ...]
    ceilings: tuple[tuple[RateLimitItem, tuple[str, ...]], ...]

    def all(self) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
        return [(item, self.growing) for item in GROWING] + list(self.ceilings)


def buckets_for(username: str) -> Buckets:
    # RATELIMIT_KEY_PREFIX keeps two deployments sharing one Redis apart, as Flask-Limiter's own limits do
    prefix = tuple(p for p in (current_app.config.get("RATELIMIT_KEY_PREFIX"),) if p)
    name = _name_key(username)
    browser = _known_browser(username)
    if browser is not None:
        return Buckets((*prefix, "login-browser", name, browser), ())
    address = client_key("login")
    return Buckets((*prefix, "login-pair", name, address), (
        (PER_ADDRESS, (*prefix, "login-address", address)),
        (PER_USERNAME, (*prefix, "login-user", name)),
        (GLOBAL, (*prefix, "login-global")),
    ))


def _store_down(exc: Exception) -> None:
    # Fails open: staff can still log in while Redis is away (the password check still applies).
    # Only the exception type is logged: its text could hold a key, and keys hold the address hash.
    log.warning("login throttle store unavailable (%s): attempt not counted", type(exc).__name__)


def wait_seconds(buckets: Buckets) -> int:
    """0 when the attempt may go ahead, else the seconds until the longest exhausted limit resets."""
    if not limiter.enabled:
        return 0
    wait = 0.0
    try:
        strategy = limiter.limiter
        for item, ids in buckets.all():
            if not strategy.test(item, *ids):
                reset = strategy.get_window_stats(item, *ids).reset_time
                wait = max(wait, reset - time.time(), 1.0)
    except Exception as exc:  # any storage failure (redis, network)
        _store_down(exc)
        return 0
    return math.ceil(wait)


def record_failure(buckets: Buckets) -> None:
    if limiter.enabled:
        try:
            strategy = limiter.limiter
            for item, ids in buckets.all():
                strategy.hit(item, *ids)
        except Exception as exc:
            _store_down(exc)


def record_success(buckets: Buckets) -> None:
    """The user's own earlier typos do not count against the next mistakes."""
    if limiter.enabled:
        try:
            for item in GROWING:
                limiter.limiter.clear(item, *buckets.growing)
        except Exception as exc:
            _store_down(exc)
