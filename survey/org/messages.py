"""The tree code's messages to people: English msgids, shown in the language of whoever is asking.

The tree rules run in two places.  On the admin pages a message must be in the language of the person
who made the request (Vietnamese by default), so `_` translates with Flask-Babel's `gettext` whenever a
request is being handled — messages are built when the problem is found, i.e. at request time, never at
import time.  The `flask org` CLI has no user and no request: there `_` formats the English msgid, as
every other command prints English and docs/org-file-format.md shows English output.  Tests that call the
service directly (application context, no request) therefore see English too.

Placeholders are `%(name)s` (never f-strings inside `_()`), so translators can reorder them.  `N_` only
marks a msgid for extraction (tables of messages chosen at run time); pass the chosen one to `_`.
"""

from __future__ import annotations

from flask import has_request_context
from flask_babel import gettext


def _(msgid: str, **params: object) -> str:
    """`msgid % params` in the requesting user's language, or in English outside a request."""
    if has_request_context():
        return gettext(msgid, **params)
    return msgid % params if params else msgid


def N_(msgid: str) -> str:
    """Mark `msgid` for translation without translating it now."""
    return msgid
