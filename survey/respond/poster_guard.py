"""Limits on the citizen's phone links — the QR poster (`/s/<code>`) and receipt tokens (`/r/<token>`) — that
still bite when a phone drops its cookie.

The attack (issue 11 §2): clear the `hl_device` cookie and post again — 30 answers in 3 s from one phone,
against ~12 genuine answers a month at a service point.  Two defences, neither storing who answered:

- **Per network**: at most `HAILONG_LINK_NETWORK_LIMIT` answers (default "5 per hour") per service point
  from one client address.  The address is never stored: only its keyed hash (`survey.client_hash`,
  HMAC with a key derived from SECRET_KEY and the UTC date, so it rotates daily) is used, and only as a
  key in the rate-limit store (Redis or memory) whose entries expire with the limit's window (at most a
  day, refused at start-up otherwise).  Over the limit the citizen gets a polite page (429), nothing stored.
- **Per service point**: when more than `HAILONG_LINK_POINT_CEILING` poster answers (default "20 per hour")
  arrive at one service point, further ones are stored **held** (survey/respond/quarantine.py): kept, out
  of every figure until Home Affairs reviews them.  The citizen sees the usual thanks page.

Receipt tokens get the same three limits, on the same counters (survey/respond/link.py `_over_limits`): an
official holding a pile of unused receipts answered 25 of them in a row from one browser, all counted (helper H,
session 12); a receipt is one answer, not a licence to answer again.  A refused receipt answer leaves the token
usable, so the citizen can answer later; over the ceiling it is stored held with `RECEIPT_CEILING_REASON`.

`HAILONG_POSTER_COUNTS` (default on) says whether poster answers count in official figures at all; off,
every poster answer is stored held with that reason (receipt answers are not concerned).  Both keep the
channel `qr`.
Both limits fail open (a citizen may answer) if the rate-limit store is unreachable, as the device limit does.
"""

from __future__ import annotations

import time
from datetime import timedelta

from flask import current_app, render_template
from flask_babel import format_timedelta
from flask_babel import gettext as _
from limits import RateLimitItem, parse

from survey.client_hash import client_key
from survey.extensions import limiter
from survey.org.models import ServicePoint

DEFAULT_NETWORK_LIMIT = "5 per hour"
DEFAULT_POINT_CEILING = "20 per hour"
MAX_WINDOW_SECONDS = 24 * 3600  # the address hash may live at most a day in the rate-limit store
NAMESPACE = "poster"
CEILING_REASON = "QR poster: over the service point's hourly ceiling (HAILONG_LINK_POINT_CEILING)"
RECEIPT_CEILING_REASON = "Receipt link: over the service point's hourly ceiling (HAILONG_LINK_POINT_CEILING)"
NOT_COUNTED_REASON = "QR poster answers do not count in this deployment (HAILONG_POSTER_COUNTS=0)"


def check_limit(text: str, setting: str) -> RateLimitItem:
    """Parse a limit setting; refuse windows longer than a day (the hash must not outlive its day)."""
    try:
        item = parse(text)
    except ValueError as exc:
        raise ValueError(f"{setting} must look like '5 per hour', not {text!r}") from exc
    if item.get_expiry() > MAX_WINDOW_SECONDS:
        raise ValueError(f"{setting} must use a window of at most a day, not {text!r}")
    return item


def _network_limit() -> RateLimitItem:
    return check_limit(current_app.config.get("HAILONG_LINK_NETWORK_LIMIT", DEFAULT_NETWORK_LIMIT),
                       "HAILONG_LINK_NETWORK_LIMIT")


def _point_ceiling() -> RateLimitItem:
    return check_limit(current_app.config.get("HAILONG_LINK_POINT_CEILING", DEFAULT_POINT_CEILING),
                       "HAILONG_LINK_POINT_CEILING")


def _prefix() -> str:
    """Deployments sharing one Redis keep apart by RATELIMIT_KEY_PREFIX, as Flask-Limiter's own limits do."""
    return str(current_app.config.get("RATELIMIT_KEY_PREFIX") or "hailong")


def _network_keys(sp: ServicePoint) -> tuple[str, ...]:
    return (_prefix(), "link-network", sp.code, client_key(NAMESPACE))


def _enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED", True))


def network_may_answer(sp: ServicePoint, *, count: bool) -> bool:
    """Whether this network is under its limit at `sp` (`count`: and use one answer of it)."""
    if not _enabled():
        return True
    item = _network_limit()
    try:
        keys = _network_keys(sp)
        return bool(limiter.limiter.hit(item, *keys) if count else limiter.limiter.test(item, *keys))
    except Exception as exc:  # the message only: a storage error must not carry the key into a log
        current_app.logger.warning("network rate limit storage failed (%s); answer allowed", type(exc).__name__)
        return True


def hold_reason(sp: ServicePoint, *, receipt: bool = False) -> str | None:
    """None when this poster (`receipt`: receipt token) answer counts; otherwise why it is stored held (uses one
    unit of the service point's ceiling, shared by both links)."""
    if not receipt and not current_app.config.get("HAILONG_POSTER_COUNTS", True):
        return NOT_COUNTED_REASON
    if not _enabled():
        return None
    try:
        allowed = limiter.limiter.hit(_point_ceiling(), _prefix(), "link-point", sp.code)
    except Exception as exc:
        current_app.logger.warning("poster ceiling storage failed (%s); answer counted", type(exc).__name__)
        return None
    return None if allowed else RECEIPT_CEILING_REASON if receipt else CEILING_REASON


def limited_notice(sp: ServicePoint) -> tuple[str, int]:
    """The polite page for a network over its limit (429; nothing was stored)."""
    item = _network_limit()
    try:
        reset_at, _remaining = limiter.limiter.get_window_stats(item, *_network_keys(sp))
    except Exception:
        reset_at = time.time() + item.get_expiry()
    wait = max(60.0, reset_at - time.time())
    per = format_timedelta(timedelta(seconds=item.get_expiry()), threshold=1.0, add_direction=False)
    limit = (_("once per %(period)s", period=per) if item.amount == 1
             else _("%(n)s times per %(period)s", n=item.amount, period=per))
    waiting = format_timedelta(timedelta(seconds=wait), threshold=1.0, add_direction=False)
    title = _("Many answers have come from your network")
    message = _("To keep the results fair, answers from one network (for example one Wi-Fi) for this service "
                "point are limited to %(limit)s. You can answer again in about %(wait)s.",
                limit=limit, wait=waiting)
    return render_template("respond/notice.html", kind="network", title=title, message=message), 429
