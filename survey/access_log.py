"""Access logs that cannot join a citizen's address to their answer (issue 11 §5, docs/security.md).

A receipt token in `/r/<token>` is single-use and tied to one response; a log line holding both the
client's address and that token would undo the anonymity the database keeps.  So the access log:
- leaves out the client address (and the Referer, User-Agent and query string),
- masks the token: `/r/<token>`.

Used by gunicorn (`deploy/gunicorn.conf.py` sets `access_log_format = ACCESS_LOG_FORMAT` and installs
`PrivateAccessFilter` on `gunicorn.access`) and by the development server (`flask run`, werkzeug):
`install_dev_server_filter()` is called by `create_app`.
"""

from __future__ import annotations

import logging
import re

#: gunicorn atoms: time, method, path WITHOUT query string, protocol, status, bytes, duration (ms).
#: Deliberately absent: %(h)s (address), %(r)s (raw request line with query), %(f)s, %(a)s, %(q)s, {…}i headers.
ACCESS_LOG_FORMAT = '%(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'

_TOKEN = re.compile(r"(/r/)[^\s/?#\"\x1b]+")
_QUERY = re.compile(r"\?[^\s\"\x1b]*")
# werkzeug's line: '<address> - - [<date>] "<request line>" <status> <size>'
_WERKZEUG_ADDRESS = re.compile(r"^\S+ - - \[")


def mask(text: str) -> str:
    """`/r/AbC…?x=1` → `/r/<token>`: tokens masked, query strings dropped."""
    return _QUERY.sub("", _TOKEN.sub(r"\1<token>", text))


class PrivateAccessFilter(logging.Filter):
    """Rewrites an access-log record: no client address, no token, no query string.  Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _WERKZEUG_ADDRESS.match(message):
            message = _WERKZEUG_ADDRESS.sub("- - - [", message, count=1)
        record.msg = mask(message)
        record.args = None
        return True


def _install(logger_name: str) -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, PrivateAccessFilter) for f in logger.filters):
        logger.addFilter(PrivateAccessFilter())


def install_dev_server_filter(app_logger_name: str | None = None) -> None:
    """The development server (werkzeug, `flask run`) logs like production: no address, no token.  With
    the app's logger name, its records ("Exception on /r/… [GET]") are masked too."""
    _install("werkzeug")
    if app_logger_name:
        _install(app_logger_name)


def install_gunicorn_filter() -> None:
    """For gunicorn's `on_starting` hook: the filter on its access logger (inherited by the workers)."""
    _install("gunicorn.access")
