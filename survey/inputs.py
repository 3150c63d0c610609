"""Limits every untrusted input is held to before it reaches Python's parsers or the database.

Pure functions (no Flask, no SQL), shared by the request guard (survey/guard.py), the JSON API, the
questionnaire and organisation-file uploads.  The rules exist because each of these once ended in a 500
(issue 11 §3): an integer beyond its column (PostgreSQL `integer` is 32-bit, SQLite's 64-bit), a NUL or a
lone surrogate (PostgreSQL and UTF-8 cannot store them), nesting deep enough to exhaust Python's recursion
limit, or a number with thousands of digits (Python refuses to convert more than 4,300).
"""

from __future__ import annotations

import json
import re
from typing import Any

# Every integer column (ids, versions, answer values, queue lengths) is a 32-bit `integer`.
DB_INT_MIN = -(2**31)
DB_INT_MAX = 2**31 - 1
# Deepest nesting accepted in JSON or YAML (a questionnaire file nests 7 deep, an API body 3).
MAX_DEPTH = 64
# Longest digit string converted to an integer (a 32-bit value has at most 10 digits).
MAX_INT_DIGITS = 18

# NUL, other C0 controls except tab/newline/carriage return, DEL, C1 controls and lone surrogates.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


class UnsafeInput(ValueError):
    """An input refused before parsing or storing it; `reason` is `characters`, `nesting` or `number`."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def in_db_range(value: int) -> bool:
    """Whether an integer fits the 32-bit integer columns."""
    return DB_INT_MIN <= value <= DB_INT_MAX


def db_int(raw: Any) -> int:
    """`int(raw)` limited to the integer columns; ValueError otherwise (works as Werkzeug's `type=`).

    Only ASCII digits count: `"²"` and `"٣"` are digits to `str.isdigit` but not numbers anyone typed.
    """
    text = str(raw).strip()
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit() or len(body) > MAX_INT_DIGITS:
        raise ValueError(f"not a whole number within the database range: {text[:20]!r}")
    value = int(text)
    if not in_db_range(value):
        raise ValueError("whole number outside the database range")
    return value


def whole_number(text: str, low: int = 0, high: int = DB_INT_MAX) -> int | None:
    """A count or code typed by a person: ASCII digits within [low, high], else None (never an exception).

    The one place uploads turn a cell into an integer (`"²"` passes `isdigit()` but not `int()`; thirty
    digits pass `int()` but not the database)."""
    try:
        value = db_int(text)
    except ValueError:
        return None
    return value if low <= value <= high else None


def has_forbidden_characters(text: str) -> bool:
    """NUL, control characters other than tab and line breaks, or a lone surrogate."""
    return _FORBIDDEN.search(text) is not None


def check_text(text: str) -> str:
    """`text` unchanged, or UnsafeInput('characters')."""
    if has_forbidden_characters(text):
        raise UnsafeInput("characters")
    return text


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """Deepest `[`/`{` nesting of a JSON text (strings skipped); stops counting once over `limit`."""
    skeleton = _STRING.sub("", text)
    depth = deepest = 0
    for ch in skeleton:
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise UnsafeInput("number")
    return int(digits)


def _check_strings(value: Any) -> None:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            check_text(v)
        elif isinstance(v, dict):
            for k, item in v.items():
                check_text(k)
                stack.append(item)
        elif isinstance(v, list):
            stack.extend(v)


def loads(text: str | bytes, **kwargs: Any) -> Any:
    """`json.loads` that refuses deep nesting, huge integers, NUL/control characters and lone surrogates.

    Raises UnsafeInput (a ValueError) for those, json.JSONDecodeError for malformed JSON.
    """
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8")  # UnicodeDecodeError is a ValueError too
    if nesting_depth(text) > MAX_DEPTH:
        raise UnsafeInput("nesting")
    kwargs.setdefault("parse_int", _bounded_int)
    data = json.loads(text, **kwargs)
    _check_strings(data)
    return data
