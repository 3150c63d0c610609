"""Storing one citizen's response: validated whole, stored once, counted in the same transaction.

Every channel (kiosk form, phone form, JSON API / offline sync, paper import, demo) comes through
`store_response`, so the rules hold everywhere: unknown service point or item → rejected whole; a client
id seen before → the earlier response is returned and nothing is written (idempotent resubmission).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached

from questionnaires import Problem, Questionnaire, answer_problems
from questionnaires.index_spec import IndexSpec
from survey.database import table_of, utcnow
from survey.errors import N_, DomainError, register, translate
from survey.i18n import CITIZEN_LANGUAGES, LOCAL_TZ
from survey.inputs import has_forbidden_characters
from survey.org.models import ServicePoint
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond import moments, quarantine
from survey.respond.models import CHANNELS, Answer, AnswerTally, Comment, Response, ResponseTally
from survey.respond.redact import redact

AnswerValue = int | list[int] | str | None

# A kiosk may have queued answers offline for a while; older or future timestamps are not trusted.
MAX_QUEUE_AGE = timedelta(days=31)
MAX_CLOCK_SKEW = timedelta(minutes=10)


register({
    "submission_invalid": N_("The response was not stored: please correct the fields listed."),
    "client_id": N_("client_id must be a UUID."),
    "channel_unknown": N_("Unknown channel."),
    "service_point_unknown": N_("Unknown service point."),
    "questionnaire_unknown": N_("Unknown questionnaire."),
    "time_zone_missing": N_("Timestamp lacks a time zone."),
    "time_implausible": N_("Implausible submission time."),
    "characters_forbidden": N_("The answer holds characters that cannot be stored (invisible control characters)."),
})


class SubmissionError(DomainError):
    """The submission is rejected whole; `problems` maps a field (item code or `_`) to a code, `errors` to
    the message in the respondent's language (survey/errors.py: translated when read, never stored)."""

    def __init__(self, problems: Mapping[str, Problem | str], language: str | None = None):
        super().__init__("submission_invalid", language=language)
        self.problems = {k: p if isinstance(p, Problem) else Problem(p) for k, p in problems.items()}

    @property
    def errors(self) -> dict[str, str]:
        return {k: translate(p.code, p.params, self.language) for k, p in self.problems.items()}


@dataclass
class Submission:
    service_point_id: int
    questionnaire_version_id: int
    answers: dict[str, AnswerValue]
    channel: str
    language: str = "vi"
    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    submitted_at: datetime | None = None
    kiosk_id: int | None = None
    invitation_id: int | None = None
    hold: bool = False  # store it quarantined (survey/respond/quarantine.py): kept, not counted until released
    hold_reason: str = ""


def local_period(moment: datetime) -> date:
    """First day of the month of `moment` in Asia/Ho_Chi_Minh (dashboards' periods are local)."""
    local = moment.astimezone(LOCAL_TZ)
    return date(local.year, local.month, 1)


def normalise_client_id(raw: object) -> str:  # anything a JSON body holds; not a UUID → SubmissionError
    try:
        return str(uuid.UUID(str(raw)))
    except (ValueError, AttributeError, TypeError) as exc:
        raise SubmissionError({"client_id": "client_id"}) from exc


def existing_response(session: Session, client_id: str) -> Response | None:
    return session.scalar(select(Response).where(Response.client_id == client_id))


@dataclass(frozen=True)
class Version:
    """What storing needs of a questionnaire version, parsed once per process (published ones never change)."""

    id: int
    q: Questionnaire
    item_ids: dict[str, int]
    spec: IndexSpec


_versions: dict[tuple[str, int, str], Version] = {}


@dataclass(frozen=True)
class Checked:
    """What a caller already read in the submission's own transaction (the kiosk API's claim statement): the
    service point is open and belongs to `agency_id`, the version is published with `checksum`, and whether
    `period` of that version is published (read under the publication lock, as `quarantine.month_cutoff`)."""

    agency_id: int
    checksum: str
    period: date
    month_published: bool

# The service point's agency and state and the version's state, in one round trip (was two ORM look-ups,
# which also loaded and decoded the version's whole JSON definition on every submission).
_CONTEXT = (select(ServicePoint.agency_id, ServicePoint.active, QuestionnaireVersion.status,
                   QuestionnaireVersion.checksum)
            .join(QuestionnaireVersion, QuestionnaireVersion.id == bindparam("qv"))  # two primary-key look-ups
            .where(ServicePoint.id == bindparam("sp")))


def kept_version(url: str, version_id: int, checksum: str) -> Version | None:
    """The parsed version if this process holds it already (no database read: the kiosk lane of ingest_wsgi.py,
    which has no session, stores only for versions a submission through Flask has parsed)."""
    return _versions.get((url, version_id, checksum))


def version_of(session: Session, version_id: int, checksum: str) -> Version:
    """The parsed version (cached per database, id and checksum: a changed draft is parsed again)."""
    key = (str(session.get_bind().engine.url), version_id, checksum)
    found = _versions.get(key)
    if found is None:
        q, item_ids = questionnaire_for(session, version_id)
        if len(_versions) > 256:
            _versions.clear()
        found = _versions[key] = Version(version_id, q, item_ids, moments.spec_of(q))
    return found


def plain_problems(sub: Submission, now: datetime) -> dict[str, str]:
    """The checks that need no database (channel, plausible time, storable characters): field → code."""
    errors: dict[str, str] = {}
    if sub.channel not in CHANNELS:
        errors["channel"] = "channel_unknown"
    if sub.submitted_at is not None:
        if sub.submitted_at.tzinfo is None:
            errors["submitted_at"] = "time_zone_missing"
        elif sub.channel != "paper" and not (now - MAX_QUEUE_AGE <= sub.submitted_at <= now + MAX_CLOCK_SKEW):
            errors["submitted_at"] = "time_implausible"
    for code, value in sub.answers.items():  # every channel: PostgreSQL cannot store NUL (docs/security.md §3)
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and has_forbidden_characters(t) for t in [code, *texts]):
            errors[str(code)] = "characters_forbidden"
    return errors


def _check(session: Session, sub: Submission, now: datetime, checked: Checked | None) -> tuple[int, Version]:
    """(agency id, parsed version) of a valid submission; raises SubmissionError naming every problem."""
    lang = sub.language if sub.language in ("vi", "en") else "vi"
    plain = plain_problems(sub, now)
    errors = {"channel": plain.pop("channel")} if "channel" in plain else {}  # the order the errors list in
    row: Any
    if checked is not None:
        row = (checked.agency_id, True, "published", checked.checksum)
    else:
        row = session.connection().execute(_CONTEXT, {"sp": sub.service_point_id,
                                                      "qv": sub.questionnaire_version_id}).first()
    if row is None:  # one of the two does not exist: say which
        row = (None, session.get(ServicePoint, sub.service_point_id) is not None,
               None if session.get(QuestionnaireVersion, sub.questionnaire_version_id) is None else "", "")
    agency_id, active, status, checksum = row
    if not active:
        errors["service_point"] = "service_point_unknown"
    if status != "published":
        errors["questionnaire"] = "questionnaire_unknown"
    errors.update(plain)
    if errors:
        raise SubmissionError(errors, lang)
    version = version_of(session, sub.questionnaire_version_id, checksum)
    item_errors = answer_problems(version.q, sub.answers)
    if item_errors:
        raise SubmissionError(item_errors, lang)
    return agency_id, version


def store_response(session: Session, sub: Submission, *, commit: bool = True,
                   checked: Checked | None = None) -> tuple[Response, bool]:
    """Validate and store; returns (response, created).  Raises SubmissionError and writes nothing.
    `checked`: the service point and version were read in this transaction already (one round trip less)."""
    sub.client_id = normalise_client_id(sub.client_id)
    now = utcnow().replace(microsecond=0)  # stored to the second (docs/security.md §5)
    try:
        agency_id, version = _check(session, sub, now, checked)
    except SubmissionError:
        # a resend of a response stored before is answered with it even if it would not pass now; a new
        # response is not looked up first: the INSERT below recognises a resend (one round trip less)
        earlier = existing_response(session, sub.client_id)
        if earlier is not None:
            return earlier, False
        raise
    qv_id, q, item_ids = version.id, version.q, version.item_ids
    submitted_at = (sub.submitted_at or now).replace(microsecond=0)
    fields: dict[str, Any] = dict(
        client_id=sub.client_id, questionnaire_version_id=qv_id, agency_id=agency_id,
        service_point_id=sub.service_point_id, kiosk_id=sub.kiosk_id, invitation_id=sub.invitation_id,
        channel=sub.channel, language=sub.language if sub.language in CITIZEN_LANGUAGES else "vi",
        submitted_at=submitted_at, received_at=now, period=local_period(submitted_at),
    )
    if sub.hold:
        fields.update(review_status="held", review_changed_at=now,
                      review_reason=(" ".join(sub.hold_reason.split()) or "held on arrival")[:300])
    elif (checked.month_published if checked is not None and checked.period == fields["period"]
          else quarantine.month_cutoff(session, qv_id, fields["period"]) is not None):
        # its month is published: kept, counted apart until Home Affairs issues a revision (issue 16 §3)
        fields.update(review_status=quarantine.LATE, review_changed_at=now,
                      review_reason="received after publication")
    values, comment = answer_rows(q, sub.answers)
    # INSERT … ON CONFLICT (client_id) DO NOTHING RETURNING: when another worker stored the same client id
    # between our check and this insert, that one wins and nothing fails — so no savepoint is needed and the
    # caller's transaction stays usable.  Core statements built once per process (no ORM unit of work: the
    # answers go in one multi-row INSERT).
    if session.new:  # objects the caller added (e.g. an invitation) go in first, as autoflush would
        session.flush()
    conn = session.connection()
    response_id = conn.execute(_insert_response(session), fields).scalar()
    if response_id is None:
        earlier = existing_response(session, sub.client_id)
        if earlier is None:  # pragma: no cover - the conflicting row vanished (its transaction rolled back)
            raise RuntimeError(f"client id {sub.client_id} conflicted but is not stored")
        return earlier, False
    rows = [(item_ids[code], v) for code, v in values]
    counted = fields.get("review_status") is None  # a held or late response is kept but counted nowhere for now
    keys = {k: fields[k] for k in TALLY_KEYS}
    cell: Any = moments.UNREAD
    if counted and conn.dialect.name == "postgresql":
        # answers, both count tables and the moment cell's read: one round trip
        cell = _store_and_count_pg(conn, response_id, keys, rows)
    else:
        if rows:
            conn.execute(_INSERT_ANSWERS, [{"response_id": response_id, "item_id": i, "value": v} for i, v in rows])
        if counted:
            increment_tallies(session, keys, Counter(rows))
    if comment is not None:
        conn.execute(_INSERT_COMMENT, {"response_id": response_id, "item_code": comment[0], "text": comment[1]})
    if counted:
        spec = version.spec
        moments.add_response(session, keys, spec, {code: v for code, v in values if code in spec.items},
                             response_id, cell)
    response = Response(id=response_id, **fields)
    make_transient_to_detached(response)  # the row is in the database: an object without another round trip
    session.add(response)
    if commit:
        session.commit()
    return response, True


_INSERT_ANSWERS = insert(table_of(Answer))
# PostgreSQL: the answers, the response's cell and its answer cells in ONE statement (data-modifying WITH).
# The answer-cell upsert reads `r`, so the response cell is locked first and the answer cells after it, in
# item order — the order every writer uses (survey/respond/quarantine.py), so no lock cycles.  Concurrent
# writers of a cell queue on its rows as with separate statements (ON CONFLICT waits for the other
# transaction and then updates the row it committed).
_COUNT_PG = text("""
WITH a AS (INSERT INTO answer (response_id, item_id, value)
           SELECT :response_id, u.i, u.v FROM unnest(CAST(:a_items AS int[]), CAST(:a_values AS int[])) AS u(i, v)),
     r AS (INSERT INTO response_tally (questionnaire_version_id, service_point_id, period, channel, count)
           VALUES (:qv, :sp, :period, :channel, 1)
           ON CONFLICT (questionnaire_version_id, service_point_id, period, channel)
           DO UPDATE SET count = response_tally.count + 1 RETURNING 1),
     t AS (INSERT INTO answer_tally (questionnaire_version_id, service_point_id, period, channel, item_id, value,
                                     count)
           SELECT :qv, :sp, :period, :channel, u.i, u.v, u.n
           FROM unnest(CAST(:t_items AS int[]), CAST(:t_values AS int[]), CAST(:t_counts AS int[])) AS u(i, v, n)
           WHERE EXISTS (SELECT 1 FROM r)
           ON CONFLICT (questionnaire_version_id, service_point_id, period, channel, item_id, value)
           DO UPDATE SET count = answer_tally.count + excluded.count RETURNING 1)
SELECT m.respondents, m.gram, m.last_response_id FROM moment_tally m
WHERE m.questionnaire_version_id = :qv AND m.service_point_id = :sp AND m.period = :period AND m.channel = :channel
  AND EXISTS (SELECT 1 FROM r) AND (SELECT count(*) FROM t) >= 0
FOR UPDATE""")


def _store_and_count_pg(conn: Any, response_id: int, keys: dict[str, Any], rows: list[tuple[int, int]]) -> Any:
    """Answers, response cell, answer cells, and the moment cell read and locked (None: no such cell yet)."""
    cells = sorted(Counter(rows).items())
    return conn.execute(_COUNT_PG, {
        "response_id": response_id, "a_items": [i for i, _ in rows], "a_values": [v for _, v in rows],
        "qv": keys["questionnaire_version_id"], "sp": keys["service_point_id"], "period": keys["period"],
        "channel": keys["channel"], "t_items": [i for (i, _), _ in cells], "t_values": [v for (_, v), _ in cells],
        "t_counts": [n for _, n in cells]}).first()


_INSERT_COMMENT = insert(table_of(Comment))
_INSERT_RESPONSE: dict[str, Any] = {}


def _insert_response(session: Session) -> Any:
    """INSERT … ON CONFLICT (client_id) DO NOTHING RETURNING id, built once per dialect."""
    dialect = session.get_bind().dialect.name
    found = _INSERT_RESPONSE.get(dialect)
    if found is None:
        stmt = _dialect_insert(session)(table_of(Response)).on_conflict_do_nothing(index_elements=["client_id"])
        found = _INSERT_RESPONSE[dialect] = stmt.returning(table_of(Response).c.id)
    return found


def _dialect_insert(session: Session) -> Any:
    """`insert` of the session's dialect (ON CONFLICT clauses are dialect-specific)."""
    return _insert_of(session.get_bind().dialect.name)


def _insert_of(dialect: str) -> Any:
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise RuntimeError(f"unsupported database {dialect}")  # pragma: no cover - only SQLite and PostgreSQL


def answer_rows(q: Any, answers: dict[str, AnswerValue]) -> tuple[list[tuple[str, int]], tuple[str, str] | None]:
    """(item code, value) rows to store, and the comment (item code, text) if any; texts never scored."""
    rows: list[tuple[str, int]] = []
    comment: tuple[str, str] | None = None
    for code, value in answers.items():
        # the same "unanswered" as answer_problems: " " or "\r\n" on an optional item is no answer (a 500 once)
        if value is None or value == [] or (isinstance(value, str) and not value.strip()):
            continue
        item = q.item(code)
        if item.type == "text":
            text_value = redact(str(value)).strip()  # only the redacted text is ever stored (security.md §5)
            if text_value:
                comment = (code, text_value)
        elif isinstance(value, list):
            # int first: [2, "1"] is valid (digit strings count) but cannot be sorted as it came
            rows.extend((code, v) for v in sorted({int(x) for x in value}))
        else:
            rows.append((code, int(value)))
    return rows, comment


def upsert_add(session: Session, table: Any, keys: dict[str, Any], count: int) -> None:
    """INSERT … ON CONFLICT DO UPDATE count = count + n, in the dialect at hand (atomic under concurrency)."""
    _upsert_add_rows(session, table, [{**keys, "count": count}])


_UPSERTS: dict[tuple[str, str, tuple[str, ...]], Any] = {}


def _upsert_statement(dialect: str, table: Any, keys: tuple[str, ...]) -> Any:
    """The add-to-count upsert of `table`, built once: SQLAlchemy then compiles it once per process."""
    found = _UPSERTS.get((dialect, table.name, keys))
    if found is None:
        stmt = _insert_of(dialect)(table)
        # RETURNING makes SQLAlchemy send the rows as ONE multi-row INSERT ("insertmanyvalues")
        found = _UPSERTS[(dialect, table.name, keys)] = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={"count": table.c.count + stmt.excluded.count}).returning(table.c.count)
    return found


# the count-table cell of a response: questionnaire version × service point × month × channel
TALLY_KEYS = ("questionnaire_version_id", "service_point_id", "period", "channel")


def _upsert_add_rows(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """`upsert_add` for many cells in ONE statement (multi-row VALUES, count = count + excluded.count).

    The rows' keys must be distinct (PostgreSQL refuses to update one row twice in a statement); callers
    pass them sorted, so concurrent writers lock the cells in the same order and cannot deadlock.
    """
    if not rows:
        return
    keys = tuple(k for k in rows[0] if k != "count")
    session.connection().execute(_upsert_statement(session.get_bind().dialect.name, table, keys), rows).all()


def increment_tallies(session: Session, base: dict[str, Any], counts: Counter[tuple[int, int]]) -> None:
    """One upsert for the response cell `base` (TALLY_KEYS), one for all its answer cells."""
    upsert_add(session, table_of(ResponseTally), base, 1)
    _upsert_add_rows(session, table_of(AnswerTally),
                     [{**base, "item_id": item_id, "value": value, "count": n}
                      for (item_id, value), n in sorted(counts.items())])


def rebuild_tallies(session: Session) -> None:
    """Recompute the count tables from the stored answers of counted responses (after bulk loads, or to
    repair); quarantined responses (review_status set) are counted nowhere.  Raises the tally revision: a
    repair adds no response, and every cache of figures and month cells keys on the newest one and this."""
    session.execute(table_of(AnswerTally).delete())
    session.execute(table_of(ResponseTally).delete())
    session.execute(insert(table_of(ResponseTally)).from_select(
        ["questionnaire_version_id", "service_point_id", "period", "channel", "count"],
        select(Response.questionnaire_version_id, Response.service_point_id, Response.period, Response.channel,
               func.count()).where(Response.review_status.is_(None))
        .group_by(Response.questionnaire_version_id, Response.service_point_id, Response.period, Response.channel)))
    session.execute(insert(table_of(AnswerTally)).from_select(
        ["questionnaire_version_id", "service_point_id", "period", "channel", "item_id", "value", "count"],
        select(Response.questionnaire_version_id, Response.service_point_id, Response.period, Response.channel,
               Answer.item_id, Answer.value, func.count())
        .join(Answer, Answer.response_id == Response.id)
        .where(Response.review_status.is_(None))
        .group_by(Response.questionnaire_version_id, Response.service_point_id, Response.period,
                  Response.channel, Answer.item_id, Answer.value)))
    moments.rebuild(session)
    quarantine.bump_revision(session)

