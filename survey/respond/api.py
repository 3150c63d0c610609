"""JSON API for kiosks: `POST /api/v1/responses` (also the offline queue's sync) and the heartbeat.

Authenticated by the kiosk's device credential (see kiosk_auth), exempt from CSRF.  Submissions are
idempotent on `client_id`: a resend of a stored response answers 200 with the same id and is never
throttled.  The minimum interval between two new submissions from one kiosk is enforced with a
conditional UPDATE of `kiosk.last_submission_at` in the same transaction as the insert — the database
decides, so the rule holds across any number of gunicorn workers without Redis.  Flask-Limiter adds a
generous per-kiosk cap on all API calls (shared storage from RATELIMIT_STORAGE_URI); nothing is limited
per IP address, because a whole office shares one.
"""

from __future__ import annotations

import math
import time
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_babel import force_locale
from flask_babel import gettext as _
from limits import RateLimitItem
from limits import parse as parse_limit
from sqlalchemy import Date, Integer, bindparam, exists, func, or_, select, update
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from survey import inputs
from survey.config import DEFAULT_KIOSK_API_LIMIT
from survey.database import table_of, utcnow
from survey.extensions import csrf, db, limiter
from survey.guard import API_PREFIX, read_body, reason_message
from survey.i18n import CITIZEN_LANGUAGES, LANGUAGES, local_datetime
from survey.org import kiosk_service
from survey.org.kiosk_service import digest
from survey.org.models import DEFAULT_KIOSK_INSTRUMENT, Kiosk, ServicePoint
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.respond import api_headers, ingest, ingest_wsgi, quarantine
from survey.respond.kiosk_auth import KioskCaller, api_caller, current_kiosk, presented_credential
from survey.respond.models import ResponseTally
from survey.respond.store import (
    MAX_CLOCK_SKEW,
    MAX_QUEUE_AGE,
    Checked,
    Submission,
    SubmissionError,
    existing_response,
    local_period,
    normalise_client_id,
    store_response,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
bp.record_once(lambda state: api_headers.install(state.app))  # security headers built once (after Talisman's init)
bp.record_once(lambda state: ingest_wsgi.install(state.app))  # a known kiosk's valid new response below Flask


def _not_limited_here() -> bool:
    """No decorator limits under /api/ (the per-kiosk cap is counted by over_api_cap, nothing per address):
    the limiter's per-request pass over its limits is skipped (`exempt` alone still resolved them)."""
    return request.path.startswith(API_PREFIX)


limiter.request_filter(_not_limited_here)
DEFAULT_API_LIMIT = DEFAULT_KIOSK_API_LIMIT


@lru_cache(maxsize=8)
def _api_limit(text: str) -> RateLimitItem:
    return parse_limit(text)


def over_api_cap(kiosk: Kiosk | KioskCaller) -> int:
    """0, or the seconds until this kiosk may call the API again (HAILONG_KIOSK_API_LIMIT, per kiosk).

    Counted in Flask-Limiter's storage (RATELIMIT_STORAGE_URI: Redis in production, so every gunicorn
    worker sees the same count).  Checked here rather than with the decorator, so that the limiter's
    headers do not overwrite the Retry-After of our own minimum-interval answer.  A request the WSGI lane
    (survey/respond/ingest_wsgi.py) handed on has been counted there: its figure is used, not counted again.
    """
    counted = request.environ.get(CAP_COUNTED)
    if counted is not None:
        return int(counted)
    return cap_seconds(current_app.config, kiosk.id)


CAP_COUNTED = "hailong.api_cap"  # WSGI environ: the cap's answer for this request, already counted by the lane


def cap_seconds(config: Any, kiosk_id: int) -> int:
    """over_api_cap without a request: counts one call of kiosk `kiosk_id` (also used by the WSGI lane)."""
    if not limiter.enabled or not limiter.initialized:
        return 0
    item = _api_limit(str(config.get("HAILONG_KIOSK_API_LIMIT") or DEFAULT_API_LIMIT))
    key = (str(config.get("RATELIMIT_KEY_PREFIX") or "hailong"), "kiosk-api", str(kiosk_id))
    if limiter.limiter.hit(item, *key):
        return 0
    reset = limiter.limiter.get_window_stats(item, *key).reset_time
    return max(1, math.ceil(reset - time.time()))


def _too_many(lang: str, seconds: int) -> tuple[Response, int]:
    with force_locale(lang):
        msg = _("Too many requests. Please wait a moment and try again.")
    return _error(429, "too_many_requests", msg, headers={"Retry-After": str(seconds)}, retry_after=seconds)


def request_language(body: Any = None) -> str:
    """The payload's `language` when valid, else the best of Accept-Language, else Vietnamese."""
    if isinstance(body, dict) and body.get("language") in LANGUAGES:
        return str(body["language"])
    return request.accept_languages.best_match(LANGUAGES) or "vi"


def _error(status: int, code: str, message: str, errors: dict[str, str] | None = None,
           headers: dict[str, str] | None = None, **extra: Any) -> tuple[Response, int]:
    payload: dict[str, Any] = {"error": code, "message": message, **extra}
    if errors is not None:
        payload["errors"] = errors
    resp = jsonify(payload)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp, status


def _unauthorized(lang: str) -> tuple[Response, int]:
    with force_locale(lang):
        msg = _("This kiosk is not enrolled or has been revoked.")
    return _error(401, "unauthorized", msg, headers={"WWW-Authenticate": "Kiosk"})


def _rolled_back(answer: tuple[Response, int]) -> tuple[Response, int]:
    """A refusal after the request used the database: nothing it did is kept (a claimed submission slot),
    then the JSON answer — the one place an API refusal rolls back (the answer itself reads no database)."""
    db.session.rollback()
    return answer


def _json_body() -> Any:
    """The parsed body (None when it is not JSON), read only after the kiosk is authenticated.

    Raises UnsafeInput or another ValueError for a body the guard refuses (nesting, huge numbers, control
    characters, malformed JSON); the body cap (survey/guard.py) holds while it is read, chunked or not.
    """
    if not request.is_json:
        return None
    return inputs.loads(read_body())


def _refused(exc: ValueError, lang: str) -> tuple[Response, int]:
    """A body refused before reading its fields: the usual 400 shape, the reason under `_`."""
    with force_locale(lang):
        message = reason_message(exc.reason if isinstance(exc, inputs.UnsafeInput) else "json")
    return _error(400, "invalid", message, {"_": message})


def parse_submission(body: Any, lang: str, *, hinted: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
    """Check the envelope (everything except the answers' meaning); returns (fields, errors by field).
    `hinted`: the version id may come from the per-process hint (`checksum` then holds what to check)."""
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {}
    with force_locale(lang):
        if not isinstance(body, dict):
            return fields, {"_": _("The request body must be a JSON object.")}
        try:
            fields["client_id"] = normalise_client_id(body.get("client_id"))
        except SubmissionError:
            errors["client_id"] = _("client_id must be a UUID.")
        instrument, version = body.get("questionnaire"), body.get("version")
        if not isinstance(instrument, str) or not instrument:
            errors["questionnaire"] = _("questionnaire must be the questionnaire's id.")
        if isinstance(version, bool) or not isinstance(version, int) or not inputs.in_db_range(version):
            errors["version"] = _("version must be a whole number.")
        if "questionnaire" not in errors and "version" not in errors:
            assert isinstance(instrument, str) and isinstance(version, int)  # checked just above
            fields["version_key"] = key = (_database(), instrument, version)
            found = _versions.get(key) if hinted else None
            if found is None:
                found = _published_version(key)
            if found is None:
                errors["questionnaire"] = _("There is no published questionnaire %(id)s version %(version)s.",
                                            id=instrument, version=version)
            else:
                fields["questionnaire_version_id"], fields["checksum"] = found
        raw_time = body.get("submitted_at")
        try:
            moment = datetime.fromisoformat(raw_time) if isinstance(raw_time, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            errors["submitted_at"] = _("submitted_at must be a date and time with a time zone (ISO 8601).")
        else:
            fields["submitted_at"] = moment
        language = body.get("language", "vi")
        if language not in CITIZEN_LANGUAGES:  # km: the kiosk in Khmer (issue 15)
            errors["language"] = _("language must be vi, en or km.")
        fields["language"] = language
        answers = body.get("answers")
        if not isinstance(answers, dict) or not all(plain_answer(v) for v in answers.values()):
            errors["answers"] = _("answers must be an object mapping item codes to a number, a list of "
                                  "numbers or a text.")
        else:
            fields["answers"] = answers
    return fields, errors


def plain_answer(v: Any) -> bool:
    """Whether `v` has the shape of one answer in a submission's `answers`: nothing, a number, a text or a list of
    numbers and texts (a bool is not a number here).  What each item accepts is checked later, by the questionnaire;
    this is the envelope's rule, shared with the kiosk lane (ingest_wsgi.py) so both refuse the same bodies."""
    if v is None or (isinstance(v, str | int) and not isinstance(v, bool)):
        return True
    return isinstance(v, list) and all(isinstance(x, int | str) and not isinstance(x, bool) for x in v)


def _whole(value: Any, low: int, high: int) -> bool:
    """An integer (not a bool) within [low, high]: anything wider than its column is a field error."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


_QV_ID = select(QuestionnaireVersion.id, QuestionnaireVersion.checksum).where(
    QuestionnaireVersion.instrument == bindparam("instrument"), QuestionnaireVersion.version == bindparam("version"),
    QuestionnaireVersion.status == "published")
# (database, instrument, version) → (id, checksum) of a published version, remembered per process.  Only a hint:
# the claim statement below reads the version's status and checksum by id in the same round trip, and any
# difference (withdrawn, or a database recreated under the same URL) falls back to the look-up.
_versions: dict[tuple[int, str, int], tuple[int, str]] = {}


def _published_version(key: tuple[int, str, int]) -> tuple[int, str] | None:
    """(id, checksum) of a published questionnaire version, looked up (a prebuilt Core statement: no ORM object,
    no JSON definition decoded) and kept as the hint for the next submissions."""
    row = db.session.connection().execute(_QV_ID, {"instrument": key[1], "version": key[2]}).first()
    if row is None:
        _versions.pop(key, None)
        return None
    if len(_versions) > 1024:
        _versions.clear()
    found = _versions[key] = (row[0], row[1])
    return found


def known_version(database: int, instrument: str, version: int) -> tuple[int, str] | None:
    """(id, checksum) of a published version this process has looked up, or None: only a hint (see `_versions`),
    for the kiosk lane (ingest_wsgi.py), whose database call checks the version again."""
    return _versions.get((database, instrument, version))


def _database() -> int:
    """Which database the hints belong to (the engine; a database recreated behind it is caught by the checks)."""
    return id(db.engine)


_KIOSK = table_of(Kiosk)
_CLAIM = (update(_KIOSK)
          .where(_KIOSK.c.id == bindparam("kiosk"),
                 or_(_KIOSK.c.last_submission_at.is_(None), _KIOSK.c.last_submission_at <= bindparam("threshold")))
          .values(last_submission_at=bindparam("now"), last_seen_at=bindparam("now")))
_CLAIM_ANY = (update(_KIOSK).where(_KIOSK.c.id == bindparam("kiosk"))
              .values(last_submission_at=bindparam("now"), last_seen_at=bindparam("now")))


def claim_submission_slot(kiosk_id: int, now: datetime) -> float:
    """0 when this kiosk may submit now (and marks it, and marks it seen), else the seconds to wait.

    Atomic across workers.  The same UPDATE records `last_seen_at` (rolled back with the submission if
    it is not stored), so a stored submission costs one UPDATE of the kiosk row, not two.
    """
    interval = int(current_app.config.get("HAILONG_KIOSK_MIN_INTERVAL_SECONDS", 0))
    if interval <= 0:
        db.session.connection().execute(_CLAIM_ANY, {"kiosk": kiosk_id, "now": now})
        return 0
    claimed = db.session.connection().execute(_CLAIM, {"kiosk": kiosk_id, "now": now,
                                          "threshold": now - timedelta(seconds=interval)})
    if claimed.rowcount == 1:
        return 0
    last = db.session.scalar(select(Kiosk.last_submission_at).where(Kiosk.id == kiosk_id))
    return max(1.0, interval - (now - last).total_seconds()) if last else float(interval)


_SP = table_of(ServicePoint)
_QV = table_of(QuestionnaireVersion)
_RT = table_of(ResponseTally)
# the questionnaire a service point's kiosks show (kiosk.kiosk_questionnaire_version): the same rule in SQL
_SHOWN = func.coalesce(func.nullif(_SP.c.kiosk_instrument, ""), DEFAULT_KIOSK_INSTRUMENT)
_OFFERED = select(_SHOWN).where(_SP.c.id == bindparam("sp"))
# counted kiosk responses of a questionnaire at a service point since a month: its kiosks showed it then
_SHOWN_SINCE = (select(_RT.c.count).join(_QV, _QV.c.id == _RT.c.questionnaire_version_id)
                .where(_RT.c.service_point_id == bindparam("sp"), _RT.c.channel == "kiosk",
                       _QV.c.instrument == bindparam("instrument"), _RT.c.period >= bindparam("since", type_=Date))
                .limit(1))
NOT_SHOWN_REASON = "Kiosk: questionnaire {instrument} is not the one this service point's kiosks show ({shown})"


def kiosk_questionnaire_rule(service_point_id: int, instrument: str, now: datetime) -> tuple[str, str] | None:
    """None when the service point's kiosks show `instrument` (any published version of it: a queue holding the
    previous version is fine); else (what they show, "held" or "refused").

    A kiosk page offers one questionnaire, its service point's `kiosk_instrument` (survey/respond/kiosk.py), so a
    kiosk credential sending another one is not a citizen at that kiosk: a counter-quick kiosk's credential stored
    30 all-best answers to the official SIPAS questionnaire, counted, 360 an hour (attacker pass, session 12).
    Refused, unless the service point's kiosks counted responses of that questionnaire this month or last (the
    kiosk questionnaire was changed while a kiosk's offline queue held answers to the previous one): those are
    stored held, out of every figure until Home Affairs reviews them."""
    conn = db.session.connection()
    shown = str(conn.execute(_OFFERED, {"sp": service_point_id}).scalar() or DEFAULT_KIOSK_INSTRUMENT)
    if instrument == shown:
        return None
    month = local_period(now)
    since = (month - timedelta(days=1)).replace(day=1)
    before = conn.execute(_SHOWN_SINCE, {"sp": service_point_id, "instrument": instrument, "since": since}).first()
    return shown, "held" if before is not None else "refused"


def _hinted_claim(interval: bool, dialect: str) -> Any:
    """For a kiosk this process has seen store a response: ONE statement authenticates it again (credential, not
    revoked, service point open), claims the minimum interval, marks it seen, and reads its service point, the
    point's agency, the version's checksum if it is published and whether the response's month is published
    (on PostgreSQL after taking the publication lock shared, held to commit as `quarantine.month_cutoff` does) —
    was five round trips: caller, version id, claim, service point + version, month.  No row: not authenticated,
    too soon, or a questionnaire the service point's kiosks do not show (the full path tells which)."""
    k = _KIOSK
    where = [k.c.id == bindparam("kiosk"), k.c.credential_hash == bindparam("digest"), k.c.revoked_at.is_(None),
             exists().where(_SP.c.id == k.c.service_point_id, ServicePoint.active,
                            _QV.c.id == bindparam("qv", type_=Integer), _QV.c.instrument == _SHOWN)]
    if interval:
        where.append(or_(k.c.last_submission_at.is_(None), k.c.last_submission_at <= bindparam("threshold")))
    where.append(or_(k.c.enrolled_at.is_(None), k.c.enrolled_at <= bindparam("enrolled_by")))  # see _before_enrolment
    agency = select(_SP.c.agency_id).where(_SP.c.id == k.c.service_point_id).scalar_subquery()
    checksum = (select(_QV.c.checksum).where(_QV.c.id == bindparam("qv"), _QV.c.status == "published")
                .scalar_subquery())
    # the rule of quarantine.month_cutoff: the latest cut-off of the publications covering the month
    pub = quarantine.PUBLISHED
    cutoff = select(func.max(pub.c.cutoff_response_id)).where(
        pub.c.questionnaire_version_id == bindparam("qv", type_=Integer),
        pub.c.start <= bindparam("period", type_=Date), pub.c.end >= bindparam("period", type_=Date)).scalar_subquery()
    # evaluated left to right: the lock is held before the cut-off is read
    lock = [func.pg_advisory_xact_lock_shared(quarantine.PUBLICATION_LOCK)] if dialect == "postgresql" else []
    return (update(k).where(*where).values(last_submission_at=bindparam("now"), last_seen_at=bindparam("now"))
            .returning(k.c.service_point_id, agency, checksum, *lock, cutoff))


_HINTED_CLAIM = {(interval, dialect): _hinted_claim(interval, dialect)
                 for interval in (True, False) for dialect in ("postgresql", "sqlite")}


def claim_as_known(kiosk_id: int, credential_digest: str, version_id: int, period: date, now: datetime,
                   submitted_at: datetime | None = None) -> Any:
    """(service point id, agency id, version checksum or None, [lock,] month cut-off or None) when the kiosk
    authenticates and may submit now (the slot is then claimed, rolled back with the submission if it is not
    stored), its service point shows the version's questionnaire and `submitted_at` (default `now`) is not before
    its first enrolment; None otherwise."""
    interval = int(current_app.config.get("HAILONG_KIOSK_MIN_INTERVAL_SECONDS", 0))
    conn = db.session.connection()
    return conn.execute(_HINTED_CLAIM[interval > 0, conn.dialect.name], {
        "kiosk": kiosk_id, "digest": credential_digest, "now": now, "threshold": now - timedelta(seconds=interval),
        "qv": version_id, "period": period, "enrolled_by": (submitted_at or now) + MAX_CLOCK_SKEW}).first()


# (database, credential digest) → id of a kiosk that stored a response through this process.  Only a hint that
# lets the body be read before the database is asked: the claim statement checks the credential, the revocation
# and the service point again, and every answer other than a stored response authenticates in full first — a
# revoked kiosk or a retired service point is refused at once, and nothing is stored for it.
_kiosks: dict[tuple[int, str], int] = {}


def known_kiosk(database: int, credential_digest: str) -> int | None:
    """The id of the kiosk whose credential (by digest) stored a response through this process, or None: only a
    hint (see `_kiosks`), for the kiosk lane (ingest_wsgi.py), whose database call authenticates the kiosk again."""
    return _kiosks.get((database, credential_digest))


@bp.post("/responses")
def submit_response() -> tuple[Response, int]:
    credential = presented_credential(allow_cookie=request.is_json)
    if credential and len(credential) <= 200:
        hint = (_database(), digest(credential))
        kiosk_id = _kiosks.get(hint)
        if kiosk_id is not None:
            return _submit(KioskCaller(kiosk_id, 0), hint)
        stored = _submit(api_caller(), None)
        if stored[1] == 201 and (caller := api_caller()) is not None:
            if len(_kiosks) > 100_000:
                _kiosks.clear()
            _kiosks[hint] = caller.id
        return stored
    return _submit(None, None)


def _unconfirmed(hint: tuple[int, str] | None) -> tuple[Response, int] | None:
    """401 when the caller came from the hint and no longer authenticates (then forgotten), else None."""
    if hint is None or api_caller() is not None:
        return None
    _kiosks.pop(hint, None)
    return _rolled_back(_unauthorized(request_language()))


def _submit(kiosk: KioskCaller | None, hint: tuple[int, str] | None, *, capped: bool = False) -> tuple[Response, int]:
    """Store one submission.  `hint` is set when `kiosk` comes from the per-process hint (not yet
    authenticated: the claim statement does it); `capped` when the per-kiosk cap was already counted."""
    if kiosk is None:  # authenticate before reading the body
        return _unauthorized(request_language())
    if not capped and (cap := over_api_cap(kiosk)):
        return _unconfirmed(hint) or _too_many(request_language(), cap)
    try:
        body = _json_body()
    except ValueError as exc:
        return _unconfirmed(hint) or _refused(exc, request_language())
    except HTTPException:  # the body is over the cap
        if (denied := _unconfirmed(hint)) is not None:
            return denied
        raise
    lang = request_language(body)
    fields, errors = parse_submission(body, lang, hinted=hint is not None)
    if errors:
        if (denied := _unconfirmed(hint)) is not None:
            return denied
        if "client_id" in fields and existing_response(db.session, fields["client_id"]) is not None:
            return _duplicate(kiosk, fields["client_id"])
        with force_locale(lang):
            return _error(400, "invalid", _("The response was not stored: please correct the fields listed."),
                          errors)
    # A resend is recognised by store_response (its first query), so the common case of a new response
    # does not look the client id up twice; the slot claimed below is rolled back for a resend.
    now = utcnow()
    checked = None
    hold = ""  # why the response is stored held (a questionnaire its kiosks showed until lately), else counted
    if hint is not None:
        if _stored_in_one_call(kiosk.id, hint[1], fields, now):
            db.session.commit()
            return jsonify({"id": fields["client_id"], "status": "created"}), 201
        try:
            period = local_period(fields["submitted_at"])
        except OverflowError:  # year 1 or 9999 at an offset Vietnam time cannot hold: implausible, and the full
            db.session.rollback()  # path refuses it with store_response's answer (a 500 before)
            return _unconfirmed(hint) or _submit(api_caller(), None, capped=True)
        row = claim_as_known(kiosk.id, hint[1], fields["questionnaire_version_id"], period, now,
                             fields["submitted_at"])
        if row is None or row[2] != fields["checksum"]:
            # not authenticated, too soon, or the version hint is out of date: the full path answers
            db.session.rollback()  # unit of work: the full path starts afresh, nothing of this attempt kept
            if row is not None:
                _versions.pop(fields["version_key"], None)
            return _unconfirmed(hint) or _submit(api_caller(), None, capped=True)
        kiosk = KioskCaller(kiosk.id, row[0])
        checked = Checked(agency_id=row[1], checksum=row[2], period=period, month_published=row[-1] is not None)
    else:
        if (refused := _before_enrolment(kiosk, fields, lang, now)) is not None:
            return refused
        wait = claim_submission_slot(kiosk.id, now)
        if wait:
            db.session.rollback()  # unit of work: ends the refused claim before the resend look-up, which commits
            if existing_response(db.session, fields["client_id"]) is not None:  # a resend is never throttled
                return _duplicate(kiosk, fields["client_id"])
            seconds = math.ceil(wait)
            with force_locale(lang):
                msg = _("Too many responses from this kiosk; retry in %(n)s seconds.", n=seconds)
            return _error(429, "too_soon", msg, headers={"Retry-After": str(seconds)}, retry_after=seconds)
        instrument = fields["version_key"][1]
        rule = kiosk_questionnaire_rule(kiosk.service_point_id, instrument, now)
        if rule is not None and rule[1] == "refused":
            db.session.rollback()  # the claimed slot too: a refused response does not use up the interval
            if existing_response(db.session, fields["client_id"]) is not None:  # a resend is answered as before
                return _duplicate(kiosk, fields["client_id"])
            with force_locale(lang):
                return _error(400, "invalid", _("The response was not stored: please correct the fields listed."),
                              {"questionnaire": _("This kiosk's service point does not offer questionnaire %(id)s: "
                                                  "its kiosks show %(shown)s.", id=instrument, shown=rule[0])})
        if rule is not None:
            hold = NOT_SHOWN_REASON.format(instrument=instrument, shown=rule[0])
    sub = Submission(service_point_id=kiosk.service_point_id,
                     questionnaire_version_id=fields["questionnaire_version_id"], answers=fields["answers"],
                     channel="kiosk", language=fields["language"], client_id=fields["client_id"],
                     submitted_at=fields["submitted_at"], kiosk_id=kiosk.id, hold=bool(hold), hold_reason=hold)
    try:
        response, created = store_response(db.session, sub, commit=False, checked=checked)
    except SubmissionError as exc:
        with force_locale(lang):
            return _rolled_back(_error(400, "invalid",
                                       _("The response was not stored: please correct the fields listed."),
                                       exc.errors))
    if not created:  # stored before (a resend, or another worker a moment ago): no new submission happened
        db.session.rollback()  # unit of work: gives the claimed slot back before _duplicate commits
        return _duplicate(kiosk, fields["client_id"])
    db.session.commit()  # the kiosk's last_seen_at was set by the claim
    return jsonify({"id": response.client_id, "status": "created"}), 201


def _before_enrolment(kiosk: KioskCaller, fields: dict[str, Any], lang: str,
                      now: datetime) -> tuple[Response, int] | None:
    """400 for a response stated more than MAX_CLOCK_SKEW before the kiosk's first enrolment, else None.

    A kiosk cannot have queued an answer before it existed; without this rule a kiosk enrolled today stored 80
    all-satisfied answers spread over the previous 20 working days (the 31 days a queue may hold), and no signal
    saw them: the late-arrival signal needs responses out of order within one source, which a new source never
    is (attacker pass, helper H, session 12).  A resend of a stored response is answered as a resend; a time
    outside the window any response must be in (store_response: "Implausible submission time.") is left to it."""
    enrolled = kiosk.enrolled_at
    if enrolled is None or not now - MAX_QUEUE_AGE <= fields["submitted_at"] < enrolled - MAX_CLOCK_SKEW:
        return None
    if existing_response(db.session, fields["client_id"]) is not None:
        return _duplicate(kiosk, fields["client_id"])
    with force_locale(lang):
        return _error(400, "invalid", _("The response was not stored: please correct the fields listed."),
                      {"submitted_at": _("This kiosk was enrolled on %(date)s: a response it made before then "
                                         "cannot be stored.", date=local_datetime(enrolled))})


def _stored_in_one_call(kiosk_id: int, credential_digest: str, fields: dict[str, Any], now: datetime) -> bool:
    """PostgreSQL: a known kiosk's valid new response stored by one server-side call (survey/respond/ingest.py).
    False: nothing was stored (rolled back) and the usual path below decides and answers, refusals included."""
    if db.session.get_bind().dialect.name != "postgresql" or request.environ.get(ingest_wsgi.CALLED):
        return False  # (the WSGI lane made this very call and it was refused: the usual path answers)
    sub = Submission(service_point_id=0, questionnaire_version_id=fields["questionnaire_version_id"],
                     answers=fields["answers"], channel="kiosk", language=fields["language"],
                     client_id=fields["client_id"], submitted_at=fields["submitted_at"], kiosk_id=kiosk_id)
    interval = int(current_app.config.get("HAILONG_KIOSK_MIN_INTERVAL_SECONDS", 0))
    if ingest.store_known(db.session, sub, credential_digest=credential_digest, checksum=fields["checksum"],
                          interval=interval, now=now):
        return True
    db.session.rollback()  # unit of work: the one-call attempt leaves nothing for the usual path
    return False


def _duplicate(caller: KioskCaller, client_id: str) -> tuple[Response, int]:
    """200 for a response stored before: the kiosk may drop it from its queue (and it was seen now)."""
    kiosk = db.session.get(Kiosk, caller.id)
    assert kiosk is not None  # authenticated in this request
    kiosk_service.heartbeat(kiosk, kiosk.queue_length, None)
    db.session.commit()
    return jsonify({"id": client_id, "status": "duplicate"}), 200


@bp.post("/kiosk/heartbeat")
def kiosk_heartbeat() -> tuple[Response, int]:
    kiosk = current_kiosk(api=True)  # authenticate before reading the body
    if kiosk is None:
        return _unauthorized(request_language())
    if cap := over_api_cap(kiosk):
        return _too_many(request_language(), cap)
    try:
        body = _json_body()
    except ValueError as exc:
        return _refused(exc, request_language())
    lang = request_language(body)
    body = body if isinstance(body, dict) else {}
    errors: dict[str, str] = {}
    queue = body.get("queue_length", 0)
    version = body.get("software_version")
    failing, failure_status = body.get("failing_items"), body.get("last_failure_status")
    with force_locale(lang):
        if not _whole(queue, 0, inputs.DB_INT_MAX):
            errors["queue_length"] = _("%(field)s must be a whole number from 0 to %(max)s.",
                                       field="queue_length", max=inputs.DB_INT_MAX)
        if version is not None and (not isinstance(version, str) or len(version) > 64):
            errors["software_version"] = _("software_version must be a text of at most 64 characters.")
        if failing is not None and not _whole(failing, 0, inputs.DB_INT_MAX):
            errors["failing_items"] = _("%(field)s must be a whole number from 0 to %(max)s.",
                                        field="failing_items", max=inputs.DB_INT_MAX)
        if failure_status is not None and not _whole(failure_status, 0, 999):
            errors["last_failure_status"] = _("%(field)s must be a whole number from 0 to %(max)s.",
                                              field="last_failure_status", max=999)
        if errors:
            return _error(400, "invalid", _("The heartbeat was not recorded."), errors)
    # kiosks before this field existed do not send it: their last report stays as it was
    report = None if failing is None else (failing, failure_status)
    kiosk_service.heartbeat(kiosk, queue, version, report)
    db.session.commit()
    from survey.respond.kiosk import kiosk_questionnaire_version

    qv = kiosk_questionnaire_version(kiosk)
    return jsonify({"status": "ok", "kiosk": kiosk.code,
                    "questionnaire": {"id": qv.instrument, "version": qv.version} if qv else None}), 200


@bp.errorhandler(HTTPException)
def _json_http_error(exc: HTTPException) -> tuple[Response, int]:
    """API errors are JSON (including Flask-Limiter's 429), never the HTML error page."""
    code = exc.code or 500
    return _error(code, exc.name.lower().replace(" ", "_"), str(exc.description))
