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

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from questionnaires import Problem, answer_problems
from survey.database import utcnow
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


def normalise_client_id(raw: str) -> str:
    try:
        return str(uuid.UUID(str(raw)))
    except (ValueError, AttributeError, TypeError) as exc:
        raise SubmissionError({"client_id": "client_id"}) from exc


def existing_response(session: Session, client_id: str) -> Response | None:
    return session.scalar(select(Response).where(Response.client_id == client_id))


def _check(session: Session, sub: Submission, now: datetime) -> tuple[ServicePoint, QuestionnaireVersion]:
    lang = sub.language if sub.language in ("vi", "en") else "vi"
    errors: dict[str, str] = {}
    if sub.channel not in CHANNELS:
        errors["channel"] = "channel_unknown"
    sp = session.get(ServicePoint, sub.service_point_id)
    if sp is None or not sp.active:
        errors["service_point"] = "service_point_unknown"
    qv = session.get(QuestionnaireVersion, sub.questionnaire_version_id)
    if qv is None or qv.status != "published":
        errors["questionnaire"] = "questionnaire_unknown"
    if sub.submitted_at is not None:
        if sub.submitted_at.tzinfo is None:
            errors["submitted_at"] = "time_zone_missing"
        elif sub.channel != "paper" and not (now - MAX_QUEUE_AGE <= sub.submitted_at <= now + MAX_CLOCK_SKEW):
            errors["submitted_at"] = "time_implausible"
    for code, value in sub.answers.items():  # every channel: PostgreSQL cannot store NUL (docs/security.md §3)
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and has_forbidden_characters(t) for t in [code, *texts]):
            errors[str(code)] = "characters_forbidden"
    if errors:
        raise SubmissionError(errors, lang)
    assert sp is not None and qv is not None
    q, _ = questionnaire_for(session, qv.id)
    item_errors = answer_problems(q, sub.answers)
    if item_errors:
        raise SubmissionError(item_errors, lang)
    return sp, qv


def store_response(session: Session, sub: Submission, *, commit: bool = True) -> tuple[Response, bool]:
    """Validate and store; returns (response, created).  Raises SubmissionError and writes nothing."""
    sub.client_id = normalise_client_id(sub.client_id)
    earlier = existing_response(session, sub.client_id)
    if earlier is not None:
        return earlier, False
    now = utcnow()
    sp, qv = _check(session, sub, now)
    q, item_ids = questionnaire_for(session, qv.id)
    submitted_at = sub.submitted_at or now
    fields: dict[str, Any] = dict(
        client_id=sub.client_id, questionnaire_version_id=qv.id, agency_id=sp.agency_id,
        service_point_id=sp.id, kiosk_id=sub.kiosk_id, invitation_id=sub.invitation_id,
        channel=sub.channel, language=sub.language if sub.language in CITIZEN_LANGUAGES else "vi",
        submitted_at=submitted_at, received_at=now, period=local_period(submitted_at),
    )
    if sub.hold:
        fields.update(review_status="held", review_changed_at=now,
                      review_reason=(" ".join(sub.hold_reason.split()) or "held on arrival")[:300])
    elif quarantine.month_cutoff(session, qv.id, fields["period"]) is not None:
        # its month is published: kept, counted apart until Home Affairs issues a revision (issue 16 §3)
        fields.update(review_status=quarantine.LATE, review_changed_at=now,
                      review_reason="received after publication")
    values, comment = answer_rows(q, sub.answers)
    # INSERT … ON CONFLICT (client_id) DO NOTHING RETURNING: when another worker stored the same client id
    # between our check and this insert, that one wins and nothing fails — so no savepoint is needed (two
    # round trips less per submission) and the caller's transaction stays usable.
    stmt = _dialect_insert(session)(Response).values(**fields).on_conflict_do_nothing(index_elements=["client_id"])
    response = session.scalars(stmt.returning(Response)).first()
    if response is None:
        earlier = existing_response(session, sub.client_id)
        if earlier is None:  # pragma: no cover - the conflicting row vanished (its transaction rolled back)
            raise RuntimeError(f"client id {sub.client_id} conflicted but is not stored")
        return earlier, False
    session.add_all(Answer(response_id=response.id, item_id=item_ids[code], value=v) for code, v in values)
    if comment is not None:
        session.add(Comment(response_id=response.id, item_code=comment[0], text=comment[1]))
    if fields.get("review_status") is None:  # a held or late response is kept but counted nowhere for now
        increment_tallies(session, response, Counter((item_ids[code], v) for code, v in values))
        spec = moments.spec_of(q)
        moments.add_response(session, tally_keys(response), spec,
                             {code: v for code, v in values if code in spec.items}, response.id)
    else:
        session.flush()
    if commit:
        session.commit()
    return response, True


def _dialect_insert(session: Session) -> Any:
    """`insert` of the session's dialect (ON CONFLICT clauses are dialect-specific)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dinsert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dinsert
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database {dialect}")
    return dinsert


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
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dinsert
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as dinsert
        else:  # pragma: no cover - only SQLite and PostgreSQL are supported
            raise RuntimeError(f"unsupported database {dialect}")
        stmt = dinsert(table)
        # RETURNING makes SQLAlchemy send the rows as ONE multi-row INSERT ("insertmanyvalues")
        found = _UPSERTS[(dialect, table.name, keys)] = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={"count": table.c.count + stmt.excluded.count}).returning(table.c.count)
    return found


def tally_keys(response: Response) -> dict[str, Any]:
    """The count-table cell of a response: questionnaire version × service point × month × channel."""
    return {"questionnaire_version_id": response.questionnaire_version_id,
            "service_point_id": response.service_point_id, "period": response.period,
            "channel": response.channel}


def _upsert_add_rows(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """`upsert_add` for many cells in ONE statement (multi-row VALUES, count = count + excluded.count).

    The rows' keys must be distinct (PostgreSQL refuses to update one row twice in a statement); callers
    pass them sorted, so concurrent writers lock the cells in the same order and cannot deadlock.
    """
    if not rows:
        return
    keys = tuple(k for k in rows[0] if k != "count")
    session.execute(_upsert_statement(session.get_bind().dialect.name, table, keys), rows).all()


def increment_tallies(session: Session, response: Response, counts: Counter[tuple[int, int]]) -> None:
    """One upsert for the response cell, one for all its answer cells (was one statement per answer)."""
    base = tally_keys(response)
    upsert_add(session, ResponseTally.__table__, base, 1)
    _upsert_add_rows(session, AnswerTally.__table__,
                     [{**base, "item_id": item_id, "value": value, "count": n}
                      for (item_id, value), n in sorted(counts.items())])


def rebuild_tallies(session: Session) -> None:
    """Recompute the count tables from the stored answers of counted responses (after bulk loads, or to
    repair); quarantined responses (review_status set) are counted nowhere."""
    session.execute(AnswerTally.__table__.delete())
    session.execute(ResponseTally.__table__.delete())
    session.execute(insert(ResponseTally.__table__).from_select(
        ["questionnaire_version_id", "service_point_id", "period", "channel", "count"],
        select(Response.questionnaire_version_id, Response.service_point_id, Response.period, Response.channel,
               func.count()).where(Response.review_status.is_(None))
        .group_by(Response.questionnaire_version_id, Response.service_point_id, Response.period, Response.channel)))
    session.execute(insert(AnswerTally.__table__).from_select(
        ["questionnaire_version_id", "service_point_id", "period", "channel", "item_id", "value", "count"],
        select(Response.questionnaire_version_id, Response.service_point_id, Response.period, Response.channel,
               Answer.item_id, Answer.value, func.count())
        .join(Answer, Answer.response_id == Response.id)
        .where(Response.review_status.is_(None))
        .group_by(Response.questionnaire_version_id, Response.service_point_id, Response.period,
                  Response.channel, Answer.item_id, Answer.value)))
    moments.rebuild(session)

