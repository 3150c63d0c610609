"""A keyed, daily-rotating hash of the client's network address, for rate limits only.

Limits must also bite by network (a phone that drops its cookie, a script guessing passwords), yet no
address may be stored: the result is an HMAC whose key is derived from SECRET_KEY and today's UTC date,
so it cannot be reversed by trying the 2**32 IPv4 addresses without the secret, and yesterday's values
cannot be linked to today's.  Use it only as a rate-limit store key (Redis/memory with a TTL of at most a
day) — never write it to the database or a log.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime

from flask import current_app, request

from survey.database import utcnow


def _day_key(secret: str | bytes, day: date) -> bytes:
    """Key of one UTC day: yesterday's key says nothing about today's."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, b"hailong-client-address:" + day.isoformat().encode(), hashlib.sha256).digest()


def address_key(namespace: str, address: str, secret: str | bytes, day: date) -> str:
    """Pure form of `client_key` (tests call it with a fixed day and address)."""
    mac = hmac.new(_day_key(secret, day), f"{namespace}\x00{address}".encode(), hashlib.sha256)
    return f"{namespace}:{mac.hexdigest()[:32]}"


def client_key(namespace: str, now: datetime | None = None) -> str:
    """`namespace:<hex>` for the current request's remote address, rotating at 00:00 UTC.

    The namespace keeps keys of different limits apart (the same address gives unrelated values in
    "login" and "poster").  `now` defaults to the app's clock (`utcnow`: a test that fixes it knows the day).
    """
    day = (now or utcnow()).astimezone(UTC).date()
    address = request.remote_addr or "unknown"
    return address_key(namespace, address, current_app.config["SECRET_KEY"], day)
