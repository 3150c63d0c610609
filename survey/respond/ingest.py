"""A known kiosk's new response on PostgreSQL in one server-side call (issue 14 §1), the hot path of the kiosk API.

`hailong_kiosk_store` (survey/respond/ingest_sql.py, installed by `survey.migrate.upgrade`) does in one round trip
what the API's claim statement and `store_response` do in four: authenticate the kiosk again and claim its
minimum interval, check the version, take the publication lock and read the month's cut-off, insert the response
(`ON CONFLICT (client_id) DO NOTHING`), its answers and comment, add to both count tables and lock the moment cell.
The cell's Gram matrix is a packed int32 blob that PL/pgSQL cannot add quickly, so Python adds the respondent's
u·uᵀ (or the function inserts a new cell with it) and writes it back before COMMIT: 2 statements (+ BEGIN/COMMIT)
on the bare psycopg connection, instead of 4 through SQLAlchemy's statement machinery.

Only the stored case is answered here.  Anything else (not authenticated, too soon, a withdrawn or changed version,
a resend, answers that do not validate) is rolled back and goes the usual way (`api._submit`), so every refusal
keeps its exact answer; SQLite always goes the usual way.  Both ways store the same rows and counts (tests in
tests/respond/test_ingest.py compare them with a recount on both databases).
"""

from __future__ import annotations

import weakref
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
import psycopg
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from questionnaires import answer_problems
from survey.i18n import CITIZEN_LANGUAGES
from survey.respond import moments
from survey.respond.quarantine import PUBLICATION_LOCK
from survey.respond.store import Submission, Version, answer_rows, local_period, plain_problems, version_of

CALL = ("SELECT * FROM hailong_kiosk_store(%s::integer, %s::text, %s::timestamptz, %s::timestamptz, %s::timestamptz,"
        " %s::integer, %s::text, %s::date, %s::text, %s::text, %s::timestamptz, %s::integer[], %s::integer[],"
        " %s::text, %s::text, %s::bytea, %s::bigint)")
UPDATE_CELL = ("UPDATE moment_tally SET respondents = %s, gram = %s, last_response_id = %s"
               " WHERE questionnaire_version_id = %s AND service_point_id = %s AND period = %s AND channel = 'kiosk'")
_ONE_GROUP = np.zeros(1, dtype=np.int64)
# engines whose database lacks the function (migrated by an older tree): the usual way there
_missing: weakref.WeakSet[Any] = weakref.WeakSet()


def lacks_function(engine: Any) -> bool:
    """Whether `engine`'s database was found without `hailong_kiosk_store` (then every caller goes the usual way,
    without trying the call again: the kiosk lane of ingest_wsgi.py asks this before reading a body)."""
    return engine in _missing


def note_missing(engine: Any) -> None:
    """Remember that `engine`'s database lacks the function (its call raised UndefinedFunction)."""
    _missing.add(engine)


def store_known(session: Session, sub: Submission, *, credential_digest: str, checksum: str, interval: int,
                now: datetime) -> bool:
    """Store `sub` from kiosk `sub.kiosk_id` (known to this process) in the session's transaction: True when
    stored, False when nothing was decided here (the caller rolls back and goes the usual way).  Only PostgreSQL;
    `interval`: the kiosk minimum interval in seconds (0 = none).  The caller commits.

    Not pipelined (BEGIN with the call, COMMIT with the cell's write): measured, psycopg's pipeline mode cost
    ~0.2 ms more client CPU per submission than the two round trips it saves."""
    conn = session.connection()
    if conn.dialect.name != "postgresql" or lacks_function(conn.engine):
        return False
    version = version_of(session, sub.questionnaire_version_id, checksum)
    call = prepared(version, sub, credential_digest=credential_digest, checksum=checksum, interval=interval,
                    now=now)
    if call is None:
        return False  # the usual way names the problems (or finds a stored resend)
    raw: psycopg.Connection[Any] = conn.connection.driver_connection  # type: ignore[assignment]
    try:
        return run(raw, call)
    except psycopg.errors.UndefinedFunction:
        note_missing(conn.engine)
        return False
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:  # the database went away: 503, as elsewhere
        conn.invalidate(exc)
        raise OperationalError(CALL, call.params, exc) from exc
    except psycopg.Error as exc:
        raise DBAPIError.instance(CALL, call.params, exc, psycopg.Error) from exc


class Call(NamedTuple):
    """A known kiosk's response ready for `hailong_kiosk_store`: its parameters, u·uᵀ and the moment cell's key."""

    params: tuple[Any, ...]
    gram: bytes
    version_id: int
    period: date


def prepared(version: Version, sub: Submission, *, credential_digest: str, checksum: str, interval: int,
             now: datetime) -> Call | None:
    """The call's parameters, or None when the answers or the time do not validate (the usual way then names
    the problems).  No database: also used by the WSGI lane (survey/respond/ingest_wsgi.py)."""
    received = now.replace(microsecond=0)
    if plain_problems(sub, received) or answer_problems(version.q, sub.answers):
        return None
    assert sub.submitted_at is not None  # the API requires it
    submitted = sub.submitted_at.replace(microsecond=0)
    period = local_period(submitted)
    values, comment = answer_rows(version.q, sub.answers)
    gram = respondent_gram(version, dict(values))
    item_ids = version.item_ids
    language = sub.language if sub.language in CITIZEN_LANGUAGES else "vi"
    params = (sub.kiosk_id, credential_digest, now - timedelta(seconds=interval) if interval > 0 else None, now,
              received, version.id, checksum, period, sub.client_id, language, submitted,
              _int_array(item_ids[code] for code, _ in values), _int_array(v for _, v in values),
              comment[0] if comment else None, comment[1] if comment else None, gram, PUBLICATION_LOCK)
    return Call(params, gram, version.id, period)


def run(raw: psycopg.Connection[Any], call: Call) -> bool:
    """The call and, for an existing moment cell, its write, in the connection's open transaction (not committed):
    True when the response was stored, False when refused, too soon, the version changed or a resend (the caller
    rolls back).  psycopg errors propagate."""
    row = raw.execute(CALL, call.params, prepare=True).fetchone()
    if row is None or row[0] not in ("created", "late", "counted"):
        return False  # refused, version changed, or a resend: the usual way answers
    if row[0] == "counted":  # an existing cell, locked by the call: add this respondent to its Gram
        raw.execute(UPDATE_CELL, (row[3] + 1, added(row[4], call.gram), max(int(row[5] or 0), int(row[1])),
                                  call.version_id, row[2], call.period), prepare=True)
    return True


_grams: dict[tuple[int, tuple[int, ...]], tuple[Version, bytes]] = {}
_INT32_MAX = np.iinfo(np.int32).max


def respondent_gram(version: Version, scored: dict[str, int]) -> bytes:
    """The respondent's u·uᵀ packed as `moment_tally.gram` (survey/respond/moments.py, u as analysis.totals defines
    it), kept per process by answer pattern: a kiosk questionnaire has few (counter-quick: at most 4⁶)."""
    values = tuple(int(scored.get(code, 0)) for code in version.spec.items)
    key = (id(version), values)
    hit = _grams.get(key)
    if hit is None or hit[0] is not version:
        if len(_grams) > 4096:
            _grams.clear()
        g = moments.grams(version.spec, _ONE_GROUP, 1, {code: np.array([v], dtype=np.int64)
                                                         for code, v in zip(version.spec.items, values, strict=True)})
        hit = _grams[key] = (version, moments.pack(g[0]))
    return hit[1]


def added(cell: bytes, gram: bytes) -> bytes:
    """Two packed Grams added: the same integers as moments.add_response's unpack, add and pack, without expanding
    either to a P×P matrix (and the same refusal when a cell would leave int32)."""
    old, new = moments.triangle(cell), moments.triangle(gram)
    if old.size != new.size:
        raise ValueError(f"moment cell holds {old.size} values, expected {new.size}")
    total = old.astype(np.int64) + new
    if total.size and (total.max() > _INT32_MAX or total.min() < 0):
        raise OverflowError("moment cell exceeds int32: split the cell")
    return total.astype("<i4").tobytes()


def _int_array(values: Any) -> str:
    """An integer[] literal: psycopg's list adaptation cost ~10× more than the whole statement's other parameters."""
    return "{" + ",".join(str(int(v)) for v in values) + "}"
