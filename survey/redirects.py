"""One check for every redirect target that comes from the request (`?next=`, a form's `back`, Referer).

Browsers are forgiving in ways that turn an innocent-looking path into another site: they drop tabs and
newlines (`/\\t/evil` → `//evil`), read `\\` as `/`, accept `http:evil` and scheme-relative `//evil`, and
some proxies decode `%2f` once more.  So a target is accepted only when, after decoding percent-escapes
(repeatedly) and Unicode compatibility forms, it is still a plain local path: it starts with one `/`,
holds no backslash and no control or invisible format character, and has neither scheme nor host.
Anything else falls back to a page of ours.  Referer headers are absolute: a Referer on our own host is
reduced to its path; any other is ignored.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

from flask import request

# Unicode categories never legitimate in a path we generate: controls, format (zero-width, bidi
# overrides), line/paragraph separators, surrogates, private use, unassigned.
_BAD_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
_MAX_LENGTH = 2048


def _plain_local_path(text: str) -> bool:
    if not text.startswith("/") or text.startswith("//"):
        return False
    if "\\" in text or any(ch.isspace() and ch != " " for ch in text):
        return False
    if any(unicodedata.category(ch) in _BAD_CATEGORIES for ch in text):
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc


def is_safe_local_path(target: str) -> bool:
    """True when `target` stays on this site however a browser or proxy reads it."""
    if not target or len(target) > _MAX_LENGTH:
        return False
    seen = target
    for _ in range(4):  # double/triple-encoded tricks: %252f%252f
        for form in (seen, unicodedata.normalize("NFKC", seen)):
            if not _plain_local_path(form):
                return False
        try:
            decoded = unquote(seen, errors="strict") if "%" in seen else seen
        except UnicodeDecodeError:
            return False
        if decoded == seen:
            return True
        seen = decoded
    return False  # still changing after four decodings: not something we generated


def safe_redirect_target(target: str | None, fallback: str, *, referrer: bool = False) -> str:
    """`target` if it is a safe local path, else `fallback`.

    With `referrer=True`, an absolute URL on this request's own host (http or https) is reduced to its
    path and query first — that is how a Referer header arrives.
    """
    if not target:
        return fallback
    if referrer and not target.startswith("/"):
        try:
            parts = urlsplit(target)
        except ValueError:
            return fallback
        if parts.scheme not in ("http", "https") or parts.netloc != request.host or parts.username:
            return fallback
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return target if is_safe_local_path(target) else fallback
