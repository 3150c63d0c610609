"""Quarantine: responses set aside from every figure, kept, audited, and reversible.

Why: figures rank agencies, so some responses are made by the people being rated (a poster flood, a
counter official tapping "very satisfied").  Such responses are never deleted — a decision may be wrong
and must be reversible — but while set aside they must be out of every figure, export and report.

Interface (used by the QR poster limit, the Integrity review pages and the figures pages):

- `Response.review_status`: NULL = counted; ``"held"`` = set aside automatically (e.g. over the poster's
  hourly ceiling) until Home Affairs reviews it; ``"excluded"`` = excluded after review.  The reason is
  in `Response.review_reason`, the time in `review_changed_at`, the history in the audit log.
- `hold(session, ids, reason)`, `exclude(session, ids, reason)`, `release(session, ids, reason)`
  (release = count again): each returns the number of responses whose status changed, keeps
  `response_tally`, `answer_tally` and `moment_tally` exactly equal to what `rebuild_tallies` recomputes
  from the answer rows of counted responses, raises the tally revision (so every results cache and the
  month cells of survey/results/month_cells.py re-read instead of trusting counts), and writes one audit
  event with the reason.  `commit=False` leaves the transaction to the caller.
- `store_response(..., Submission(hold=True, hold_reason=…))` stores a response already held (not
  counted): survey/respond/store.py.
- `excluded_count(session, *, agency_ids=…, period_from=…, period_to=…, status=…)` (for a dashboard selection:
  `survey.results.coverage.reviewed_count(session, sel, status)`): how
  many responses are out of the figures ("n responses excluded after review"); `held_count` likewise.
- Review decisions (Integrity page): `confirm` (→ excluded), `dismiss` (→ counted), `reverse` (→ back to
  held, awaiting a new decision); each audited with its reason.
- Published periods (survey/results/publication.py): ``"late"`` = received for a month Home Affairs has
  published, after its data cut-off: kept, counted nowhere, shown as "n responses received after
  publication" until a revision folds it in.  `store_response` stores such a response late; a decision
  that would count a response (dismiss, release) makes it late instead when its id is above the cut-off
  of a publication covering its month (`month_cutoff`), so a review never moves published figures by
  bringing a late response in.  `defer`/`fold_in` move responses of a published period at publication.

A status change of a response moves whole counts: a response leaves (or rejoins) its cell (questionnaire
version × service point × month × channel) in all three count tables; rows that fall to zero are deleted,
as a rebuild would not create them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import Date, Integer, bindparam, column, func, select, table, update
from sqlalchemy.orm import Session

from survey.audit import record
from survey.database import table_of, utcnow
from survey.errors import N_, DomainError, register
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond import moments
from survey.respond.models import Answer, AnswerTally, MomentTally, Response, ResponseTally, TallyRevision

HELD = "held"
EXCLUDED = "excluded"
LATE = "late"
STATUSES = (HELD, EXCLUDED)
MAX_REASON = 300

RT = table_of(ResponseTally)
AT = table_of(AnswerTally)
MT = table_of(MomentTally)
#: survey/results/publication.py's table, read by name (respond does not import results)
PUBLISHED = table("published_period", column("questionnaire_version_id"), column("start"), column("end"),
                  column("cutoff_response_id"))


register({
    "quarantine_reason_missing": N_("a reason is required"),
    "quarantine_responses_unknown": N_("unknown responses: %(ids)s"),
    "tallies_out_of_step": N_("count tables are out of step with the responses: run rebuild_tallies"),
})


class QuarantineError(DomainError):
    """A decision without a reason, or for responses that do not exist: nothing is changed."""


def _clean_reason(reason: str) -> str:
    text = " ".join(str(reason or "").split())
    if not text:
        raise QuarantineError("quarantine_reason_missing", "reason")
    return text[:MAX_REASON]


def hold(session: Session, response_ids: Iterable[int], reason: str, *, commit: bool = True) -> int:
    """Set responses aside until reviewed (out of every figure); returns how many changed."""
    return _set_status(session, response_ids, HELD, reason, "response.hold", commit)


def exclude(session: Session, response_ids: Iterable[int], reason: str, *, commit: bool = True) -> int:
    """Exclude responses after review (out of every figure, counted as "excluded after review")."""
    return _set_status(session, response_ids, EXCLUDED, reason, "response.exclude", commit)


def release(session: Session, response_ids: Iterable[int], reason: str, *, commit: bool = True) -> int:
    """Count responses again (back into the count tables)."""
    return _set_status(session, response_ids, None, reason, "response.release", commit)


# Review decisions of the Integrity page: names of the workflow, same mechanics.
def confirm(session: Session, response_ids: Iterable[int], reason: str, *, commit: bool = True) -> int:
    """A flag is confirmed: its responses are excluded after review."""
    return _set_status(session, response_ids, EXCLUDED, reason, "review.confirm", commit)


def dismiss(session: Session, response_ids: Iterable[int], reason: str, *, commit: bool = True) -> int:
    """A flag is dismissed: its responses count (held ones are released; counted ones stay counted)."""
    return _set_status(session, response_ids, None, reason, "review.dismiss", commit)


def reverse(session: Session, response_ids: Iterable[int], reason: str, *, commit: bool = True) -> int:
    """A decision is reversed: the responses go back to held, out of the figures, awaiting a new decision."""
    return _set_status(session, response_ids, HELD, reason, "review.reverse", commit)


def _set_status(session: Session, response_ids: Iterable[int], status: str | None, reason: str, action: str,
                commit: bool) -> int:
    text = _clean_reason(reason)
    ids = sorted({int(i) for i in response_ids})
    if not ids:
        return 0
    rows = session.execute(select(Response.id, Response.review_status, Response.questionnaire_version_id,
                                  Response.service_point_id, Response.period, Response.channel)
                           .where(Response.id.in_(ids)).order_by(Response.id).with_for_update()).all()
    if len(rows) != len(ids):
        raise QuarantineError("quarantine_responses_unknown", ids=str(sorted(set(ids) - {r.id for r in rows})))
    target = _targets(session, rows, status)
    changing = [r for r in rows if r.review_status != target[r.id]]
    if not changing:
        return 0
    leaving = [r for r in changing if r.review_status is None]  # counted → held/excluded/late
    joining = [r for r in changing if target[r.id] is None]  # held/excluded/late → counted
    if leaving:
        _move(session, leaving, -1)
    if joining:
        _move(session, joining, +1)
    now = utcnow()
    changed_ids = [r.id for r in changing]
    for new_status in sorted({target[r.id] for r in changing}, key=str):
        group = [r.id for r in changing if target[r.id] == new_status]
        for chunk in _chunks(group):
            session.execute(update(Response).where(Response.id.in_(chunk))
                            .values(review_status=new_status, review_reason=text, review_changed_at=now)
                            .execution_options(synchronize_session=False))
    changed_set = set(changed_ids)
    for obj in list(session.identity_map.values()):  # loaded Response objects must not show the old status
        if isinstance(obj, Response) and obj.id in changed_set:
            session.expire(obj, ["review_status", "review_reason", "review_changed_at"])
    # every change, also one between statuses counted nowhere (held -> excluded): pages count those too
    # (coverage: "n excluded after review"; the early warning takes held and late responses), cached under the
    # data version, which has no other way to see the change
    bump_revision(session)
    before = Counter(str(r.review_status or "counted") for r in changing)
    after = Counter(str(target[r.id] or "counted") for r in changing)
    record(session, action, "response", changed_ids[0] if len(changed_ids) == 1 else f"{len(changed_ids)} responses",
           before={"statuses": dict(before)},
           after={"status": status or "counted", "statuses": dict(after), "reason": text,
                  "responses": changed_ids[:1000], "count": len(changed_ids)})
    if commit:
        session.commit()
    return len(changed_ids)


def _targets(session: Session, rows: Sequence[Any], status: str | None) -> dict[int, str | None]:
    """The status each response gets: `status`, except that a response about to be counted stays out
    ("late") when it arrived after the cut-off of a publication covering its month."""
    if status is not None:
        return {r.id: status for r in rows}
    cutoffs: dict[tuple[int, date], int | None] = {}
    out: dict[int, str | None] = {}
    for r in rows:
        key = (r.questionnaire_version_id, r.period)
        if key not in cutoffs:
            cutoffs[key] = month_cutoff(session, *key)
        cut = cutoffs[key]
        out[r.id] = LATE if cut is not None and r.id > cut else None
    return out


#: PostgreSQL advisory lock between storing and publishing (any constant; "HLPUBL" in ASCII)
PUBLICATION_LOCK = 0x484C5055424C


def lock_publications(session: Session, *, exclusive: bool) -> None:
    """Order storing against publishing on PostgreSQL (till the end of the transaction): `store_response`
    holds it shared from its `month_cutoff` look-up to its commit; a publication takes it exclusively
    before committing and once more just after, each time deferring what committed above its cut-off
    (survey/results/publication.py).  So a response is either committed before one of those sweeps (and
    made late by it) or looks its month up after the publication is committed (and is stored late).
    SQLite needs nothing: the publication's transaction holds the database's only write lock."""
    if session.get_bind().dialect.name == "postgresql":
        how = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        session.execute(select(getattr(func, how)(PUBLICATION_LOCK)))


def month_cutoff(session: Session, questionnaire_version_id: int, period: date) -> int | None:
    """The data cut-off (highest response id) of the publications covering a month of a version; None when
    the month is not published.  Several publications may cover it (2022-11, 2022-Q4): the latest cut-off
    counts, as every publication or revision folds in what arrived before it.  On PostgreSQL the same
    round trip takes the publication lock shared (`lock_publications`): one statement per stored response.
    Nothing is cached between calls (another process may publish at any time); the statements are built
    once and run on the session's connection (no ORM execution step: this runs on every submission)."""
    conn = session.connection()
    params = {"qv": questionnaire_version_id, "period": period}
    if conn.dialect.name == "postgresql":
        cut = conn.execute(_CUTOFF_LOCKED, params).one()[1]
    else:
        cut = conn.execute(_CUTOFF, params).scalar()
    return None if cut is None else int(cut)


# Built once per process (building the statement cost more CPU than its round trip)
_CUTOFF = select(func.max(PUBLISHED.c.cutoff_response_id)).where(
    PUBLISHED.c.questionnaire_version_id == bindparam("qv", type_=Integer),
    PUBLISHED.c.start <= bindparam("period", type_=Date), PUBLISHED.c.end >= bindparam("period", type_=Date))
_CUTOFF_LOCKED = select(func.pg_advisory_xact_lock_shared(PUBLICATION_LOCK), _CUTOFF.scalar_subquery())


def _period_ids(session: Session, questionnaire_version_id: int, start: date, end: date, status: str | None,
                above: bool, response_id: int) -> list[int]:
    where = [Response.questionnaire_version_id == questionnaire_version_id, Response.period >= start,
             Response.period <= end,
             Response.review_status.is_(None) if status is None else Response.review_status == status,
             Response.id > response_id if above else Response.id <= response_id]
    return list(session.scalars(select(Response.id).where(*where).order_by(Response.id)))


def defer(session: Session, questionnaire_version_id: int, start: date, end: date, after_id: int, reason: str,
          *, commit: bool = True) -> int:
    """At publication: counted responses of the period above the cut-off `after_id` (stored while the
    publication was being made) become late, so the published figures hold only what the cut-off says."""
    ids = _period_ids(session, questionnaire_version_id, start, end, None, True, after_id)
    return _set_status(session, ids, LATE, reason, "response.late", commit)


def fold_in(session: Session, questionnaire_version_id: int, start: date, end: date, up_to_id: int, reason: str,
            *, commit: bool = True) -> int:
    """At a revision: late responses of the period up to the new cut-off are counted (call it after the
    revision is stored: `month_cutoff` must already see the new cut-off)."""
    ids = _period_ids(session, questionnaire_version_id, start, end, LATE, False, up_to_id)
    return _set_status(session, ids, None, reason, "response.revised_in", commit)


def _chunks(ids: list[int], size: int = 1000) -> Iterable[list[int]]:
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def bump_revision(session: Session) -> None:
    """Raise the tally revision in the caller's transaction (caches then stop trusting counts)."""
    row = session.get(TallyRevision, 1, with_for_update=True)
    if row is None:
        session.add(TallyRevision(id=1, revision=1, changed_at=utcnow()))
    else:
        row.revision += 1
        row.changed_at = utcnow()
    session.flush()


def _move(session: Session, rows: list[Any], sign: int) -> None:
    """Add (sign +1) or remove (−1) whole responses to/from their cells in the three count tables."""
    from survey.respond.store import upsert_add

    ids = [r.id for r in rows]
    answers: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for chunk in _chunks(ids):
        for rid, item_id, value in session.execute(select(Answer.response_id, Answer.item_id, Answer.value)
                                                   .where(Answer.response_id.in_(chunk))):
            answers[rid].append((item_id, value))
    cells: dict[tuple[int, int, date, str], list[Any]] = defaultdict(list)
    for r in rows:
        cells[(r.questionnaire_version_id, r.service_point_id, r.period, r.channel)].append(r)
    for cell in sorted(cells):  # one order for every writer: no lock cycles
        members = cells[cell]
        keys = dict(zip(("questionnaire_version_id", "service_point_id", "period", "channel"), cell, strict=True))
        upsert_add(session, RT, keys, sign * len(members))
        counts = Counter(pair for r in members for pair in answers.get(r.id, []))
        for (item_id, value), n in sorted(counts.items()):
            upsert_add(session, AT, {**keys, "item_id": item_id, "value": value}, sign * n)
        _move_moments(session, keys, members, answers, sign)
        where = [RT.c[k] == v for k, v in keys.items()]
        session.execute(RT.delete().where(*where, RT.c.count <= 0))
        session.execute(AT.delete().where(*[AT.c[k] == v for k, v in keys.items()], AT.c.count <= 0))


def _move_moments(session: Session, keys: dict[str, Any], members: list[Any],
                  answers: dict[int, list[tuple[int, int]]], sign: int) -> None:
    q, item_ids = questionnaire_for(session, keys["questionnaire_version_id"])
    spec = moments.spec_of(q)
    code_of = {item_ids[c]: c for c in spec.items if c in item_ids}
    values = {code: np.zeros(len(members), dtype=np.int64) for code in spec.items}
    for i, r in enumerate(members):
        for item_id, value in answers.get(r.id, []):
            code = code_of.get(item_id)
            if code is not None:
                values[code][i] = value
    g = moments.grams(spec, np.zeros(len(members), dtype=np.int64), 1, values)[0]
    where = [MT.c[k] == v for k, v in keys.items()]
    row = session.execute(select(MT.c.respondents, MT.c.gram, MT.c.last_response_id)
                          .where(*where).with_for_update()).first()
    top = max(r.id for r in members)
    if row is None:
        if sign < 0:
            raise QuarantineError("tallies_out_of_step")
        session.execute(MT.insert().values(**keys, respondents=len(members), gram=moments.pack(g),
                                           last_response_id=top))
        return
    respondents = int(row.respondents) + sign * len(members)
    if respondents <= 0:
        session.execute(MT.delete().where(*where))
        return
    total = moments.unpack(row.gram, g.shape[0]) + sign * g
    session.execute(MT.update().where(*where).values(
        respondents=respondents, gram=moments.pack(total),
        last_response_id=max(int(row.last_response_id or 0), top) if sign > 0 else int(row.last_response_id or 0)))


# ---------------------------------------------------------------- counts for pages


def excluded_count(session: Session, *, questionnaire_version_ids: Iterable[int] | None = None,
                   agency_ids: Iterable[int] | None = None, service_point_ids: Iterable[int] | None = None,
                   channels: Iterable[str] | None = None, period_from: date | None = None,
                   period_to: date | None = None, status: str = EXCLUDED) -> int:
    """Responses with `status` (default: excluded after review) in a scope given by ids and periods.  Pages
    count a dashboard selection through `survey.results.coverage.reviewed_count`, which resolves the
    selection's units and scope to service points and calls this (respond does not import results)."""
    stmt = select(func.count()).select_from(Response).where(Response.review_status == status)
    if questionnaire_version_ids is not None:
        stmt = stmt.where(Response.questionnaire_version_id.in_(list(questionnaire_version_ids)))
    if channels:
        stmt = stmt.where(Response.channel.in_(list(channels)))
    if agency_ids is not None:
        stmt = stmt.where(Response.agency_id.in_(list(agency_ids)))
    if service_point_ids is not None:
        stmt = stmt.where(Response.service_point_id.in_(list(service_point_ids)))
    if period_from is not None:
        stmt = stmt.where(Response.period >= period_from)
    if period_to is not None:
        stmt = stmt.where(Response.period <= period_to)
    return int(session.scalar(stmt) or 0)


def held_count(session: Session, **filters: Any) -> int:
    """Responses held and awaiting review in the same scope as `excluded_count`."""
    return excluded_count(session, status=HELD, **filters)


def late_count(session: Session, **filters: Any) -> int:
    """Responses received after publication, waiting for a revision, in the same scope as `excluded_count`."""
    return excluded_count(session, status=LATE, **filters)


def counted(column: Any = None) -> Any:
    """WHERE clause keeping counted responses only, for code that reads response rows (exports, comments)."""
    return (Response.review_status if column is None else column).is_(None)
