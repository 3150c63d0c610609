"""Fuzz suite helpers (issue 11 §3): every public entry point gets hostile input; no 5xx, nothing stored
unless the answer says it was stored (201/200/redirect after store).

Cases per target and database come from HAILONG_FUZZ_EXAMPLES (default 100: the CI portion, well under
three minutes for the whole folder on both databases).  The long run documented in docs/security.md:

    HAILONG_FUZZ_EXAMPLES=10000 .venv/bin/python -m pytest tests/fuzz -k sqlite -p no:cacheprovider -q

Each test builds one app and database and sends every example to it (the state grows as examples store
responses, as a real server's does), so the function-scoped-fixture health check is switched off on purpose.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime
from html import unescape
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from sqlalchemy import text

from survey.database import Base
from survey.extensions import db, limiter

EXAMPLES = int(os.environ.get("HAILONG_FUZZ_EXAMPLES", "100"))

settings.register_profile(
    "hailong-fuzz",
    max_examples=EXAMPLES,
    deadline=None,  # a request on a shared 2-core machine has no stable duration
    database=None,  # nothing written into the working tree (.hypothesis/)
    phases=(Phase.explicit, Phase.generate, Phase.target, Phase.shrink),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.large_base_example],
    print_blob=True,
)
FUZZ = settings.get_profile("hailong-fuzz")


# target → HTTP status → cases, printed at the end of the run (conftest.py) for the figures in docs/security.md
TALLY: dict[str, Counter[int]] = defaultdict(Counter)


def seen(target: str, status: int) -> None:
    TALLY[target][status] += 1
    progress = os.environ.get("HAILONG_FUZZ_PROGRESS")  # a file to follow a long run: one line per 500 cases
    total = sum(TALLY[target].values())
    if progress and total % 500 == 0:
        with open(progress, "a", encoding="utf-8") as f:
            f.write(f"{datetime.now(UTC):%H:%M:%S} {target}: {total}\n")


class Rows:
    """Row counts of every table, in one query: compared before and after each example."""

    def __init__(self) -> None:
        from survey import models  # noqa: F401 - every table registered

        self.tables = [t.name for t in Base.metadata.sorted_tables]
        parts = ", ".join(f'(SELECT count(*) FROM "{name}") AS "{name}"' for name in self.tables)
        self.query = text(f"SELECT {parts}")

    def __call__(self) -> dict[str, int]:
        db.session.rollback()  # a fresh snapshot, not the test's open transaction
        row = db.session.execute(self.query).one()
        db.session.rollback()
        return dict(zip(self.tables, row, strict=True))


def changed(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {k: (before[k], after[k]) for k in before if before[k] != after[k]}


def fresh_limits() -> None:
    limiter.reset()


def csrf_from(html: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def commit_fields(html: str, action_part: str) -> dict[str, str] | None:
    """The fields of the confirmation form (action containing `action_part`) on a checked-upload page."""
    form = re.search(r'<form[^>]*action="[^"]*' + re.escape(action_part) + r'[^"]*"[^>]*>(.*?)</form>', html, re.S)
    if form is None:
        return None
    body = form.group(1)
    fields = {m.group(1): unescape(m.group(2)) for m in re.finditer(
        r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', body)}
    for m in re.finditer(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', body, re.S):
        fields[m.group(1)] = unescape(m.group(2))
    return fields


def select_one(stmt: Any) -> Any:
    db.session.rollback()
    value = db.session.scalar(stmt)
    db.session.rollback()
    return value




# ---------------------------------------------------------------- strategies: what an attacker types

NASTY_TEXTS = ["", " ", "²", "٣", "9" * 5000, "9" * 19, str(2**31), str(2**63), "-1", "0", "1.5", "1e999", "NaN",
               "\x00", "a\x00b", "\x1b[31m", "\r\n", "%0d%0a", "\u202e", "\ufeff", "=HYPERLINK(\"x\")", "@SUM(A1)",
               "<script>alert(1)</script>", "../../etc/passwd", "'; DROP TABLE response; --", "\ud800", "x" * 3000,
               "Cán bộ nhiệt tình", "[" * 2000, "{" * 50 + "}" * 50, "true", "null"]
NASTY_INTS = [0, -1, 1, 2, 3, 5, 11, 2**31 - 1, 2**31, -(2**31) - 1, 2**53, 2**63 - 1, 2**63, -(2**63) - 1, 2**64]

texts = st.one_of(st.text(max_size=40), st.sampled_from(NASTY_TEXTS),
                  st.text(st.characters(categories=["Cs", "Cc", "Co", "Zl", "Zp", "Mn"]), max_size=8))
ints = st.one_of(st.integers(-3, 12), st.sampled_from(NASTY_INTS), st.integers())
scalars = st.one_of(st.none(), st.booleans(), ints, st.floats(), texts)
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(texts, inner, max_size=4)),
                           max_leaves=12)


def form_value(valid: list[str]) -> st.SearchStrategy[Any]:
    """A posted form value: mostly a valid one (so examples reach the store), else hostile, or a list."""
    return st.one_of(st.sampled_from(valid) if valid else texts, texts, st.lists(texts, max_size=3))


def url_part(value: str) -> str:
    """`value` percent-encoded for a URL path, lone surrogates as the invalid UTF-8 bytes they would be."""
    from urllib.parse import quote

    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def dumps(value: Any) -> bytes:
    """JSON bytes of any generated value; integers Python will not print (over 4,300 digits) become raw text."""
    import json

    try:
        return json.dumps(value).encode("utf-8")
    except ValueError:
        return b"[" + b"9" * 5000 + b"]"


raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.integers(1, 5000).map(lambda n: b"[" * n),
    st.integers(1, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.sampled_from([b'{"queue_length": ' + b"9" * 5000 + b"}", b'{"version": 1e999}', b"\xff\xfe", b"",
                     b'{"answers": {"C.ATT": "\\ud800"}}', b'{"answers": {"COMMENT": "a\\u0000b"}}']),
)
