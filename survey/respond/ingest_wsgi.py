"""The hot case of the kiosk API below Flask (issue 14 §1): a KNOWN kiosk's VALID new response on PostgreSQL.

A WSGI layer in front of the Flask app (installed by the api blueprint: `app.wsgi_app` wrapped, so gunicorn and the
test client both go through it).  For `POST /api/v1/responses` it stores one case by itself, without Flask's request
context, routing, hooks or the SQLAlchemy session: a kiosk whose credential stored a response through this process
before (the per-process hint of survey/respond/api.py), a JSON body within the cap, an envelope that parses, a
questionnaire version and parsed definition this process already holds, answers that validate — then the same
`hailong_kiosk_store` call as survey/respond/ingest.py on a pooled psycopg connection, one transaction, COMMIT, and
the same 201 the Flask path gives.  EVERYTHING ELSE is handed to the Flask app unchanged (the body put back), so every
refusal keeps its exact answer: an unknown, revoked or moved kiosk, too soon, a cap reached, invalid or unsafe input,
a resend, a body without Content-Length, a query string, a Host header that Flask would refuse or read as empty
(characters a host cannot have, or not in TRUSTED_HOSTS when that is set), a cookie it cannot read, SQLite, a
database without the function, a database error, an outage being noted, the first answer of each kind (whose
headers it learns).  So the request guard's checks (survey/guard.py: path and query characters, body caps, the JSON
rules of survey/inputs.py) and Flask's own Host check hold on this path too: what the lane cannot show would pass
them is Flask's to answer.

What it keeps, as the Flask path does:
- authentication before the body is read: the credential digest must match a kiosk that stored a response through
  this process (a hint, never trusted alone), and the database call authenticates the kiosk again (credential, not
  revoked, service point open) in the submission's own transaction; a refused call is rolled back and the Flask
  path answers (and is told not to make the call again: environ `CALLED`);
- the body cap (survey/guard.py API_MAX_BODY: longer or chunked bodies go to Flask) and survey.inputs.loads's rules;
- the per-kiosk API cap, counted once (a request handed on carries the count in environ `api.CAP_COUNTED`);
- the minimum interval, the version check, the publication lock, idempotency on client_id, both count tables and
  the moment cell (all in the server-side call), an accepted response committed before the 201 (no asynchronous
  commit);
- the answer: status, headers and body exactly as the Flask path's, learned from its own first 201 of each kind
  (scheme and X-Forwarded-Proto), with only the client id changed — nothing is served before one was learned, and a
  learned answer that carries a cookie is never copied;
- the request metrics (`hailong_request_duration_seconds`, `hailong_requests_total`, `hailong_submissions_total`)
  under the Flask endpoint's labels; nothing is logged (no client address anywhere).
Thread-safe (gunicorn's gthread worker runs it in several threads at once): a request's state lives in its environ
and locals; each call takes its own pooled connection; the shared state is the learned answers (a whole tuple put in
a dict, never changed after) and the per-process hints of api.py/store.py (single dict reads), and the `served`
count, kept under a lock.
`HAILONG_KIOSK_LANE = False` turns it off (every request then goes through Flask).
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import psycopg
from werkzeug.exceptions import SecurityError
from werkzeug.http import parse_cookie, parse_options_header
from werkzeug.sansio.utils import get_host

from survey import inputs, unavailable
from survey.database import Database
from survey.guard import API_MAX_BODY
from survey.i18n import CITIZEN_LANGUAGES
from survey.respond import ingest, store
from survey.respond.kiosk_auth import COOKIE
from survey.respond.store import Submission, SubmissionError, normalise_client_id

PATH = "/api/v1/responses"
CALLED = "hailong.lane.called"  # WSGI environ: the lane made the server-side call and it did not store
ENDPOINT = "api.submit_response"

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def install(app: Any) -> None:
    """Put the lane in front of the app's WSGI callable (once per app)."""
    if not isinstance(app.wsgi_app, KioskLane):
        app.wsgi_app = KioskLane(app, app.wsgi_app)


class KioskLane:
    def __init__(self, app: Any, inner: WSGIApp) -> None:
        from survey.extensions import db
        from survey.respond import api

        self.app, self.inner, self.db, self.api = app, inner, db, api
        # (scheme, X-Forwarded-Proto) → (status line, headers without Content-Length, body before and after the id)
        self.answers: dict[tuple[str, str], tuple[str, list[tuple[str, str]], bytes, bytes]] = {}
        self.served = 0  # responses stored and answered here (the rest went through Flask)
        self._count = threading.Lock()  # `served += 1` is a read and a write: threads would lose counts

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if (environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST"
                or not self.app.config.get("HAILONG_KIOSK_LANE", True)):
            return self.inner(environ, start_response)
        started = time.perf_counter()
        kind = (str(environ.get("wsgi.url_scheme", "")), str(environ.get("HTTP_X_FORWARDED_PROTO", "")))
        answer = self.answers.get(kind)
        client_id = self._store(environ) if answer is not None else None
        if client_id is None:
            return self._flask(environ, start_response, kind)
        assert answer is not None
        status, headers, before, after = answer
        body = before + client_id.encode("ascii") + after
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        with self._count:
            self.served += 1
        observe = self.app.extensions.get("hailong_observe_request")  # survey.ops.metrics, when installed
        if observe is not None:  # what the Flask path's hook records for a stored submission
            observe(ENDPOINT, "POST", 201, time.perf_counter() - started)
        return [body]

    # ------------------------------------------------------------------------------------------------------------
    def _store(self, environ: dict[str, Any]) -> str | None:
        """The stored response's client id, or None: nothing stored, the Flask path answers (environ prepared)."""
        if environ.get("QUERY_STRING") or environ.get("HTTP_TRANSFER_ENCODING") or unavailable.in_outage():
            return None
        if not _host_accepted(environ, self.app.config.get("TRUSTED_HOSTS")):
            return None
        db: Database = self.db
        engine = db.engine
        if engine is None or engine.dialect.name != "postgresql" or ingest.lacks_function(engine):
            return None
        content_type = str(environ.get("CONTENT_TYPE", ""))
        credential = _credential(environ, _is_json(content_type))
        if not credential or len(credential) > 200:
            return None
        api = self.api
        digest = _digest(credential)
        kiosk_id = api.known_kiosk(id(engine), digest)
        if kiosk_id is None:
            return None  # not known to this process: authenticated in full by the Flask path
        config = self.app.config
        # the cap first, as the Flask path counts it before reading the body; handed on with the request
        try:
            cap = api.cap_seconds(config, kiosk_id)
        except Exception:
            return None
        environ[api.CAP_COUNTED] = cap
        if cap:
            return None
        length = str(environ.get("CONTENT_LENGTH") or "")
        if not _is_json(content_type) or not length.isdigit() or not 0 < int(length) < API_MAX_BODY:
            return None
        raw_body = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(raw_body)  # the Flask path reads it again if it answers
        if len(raw_body) != int(length):
            return None
        try:
            body = inputs.loads(raw_body)
        except ValueError:
            return None
        fields = _envelope(body)
        if fields is None:
            return None
        found = api.known_version(id(engine), fields["questionnaire"], fields["version"])
        if found is None:
            return None
        version_id, checksum = found
        version = store.kept_version(_url(engine), version_id, checksum)
        if version is None:
            return None
        clock = config.get("HAILONG_CLOCK")
        now: datetime = clock() if clock is not None else datetime.now(UTC)
        interval = int(config.get("HAILONG_KIOSK_MIN_INTERVAL_SECONDS", 0))
        sub = Submission(service_point_id=0, questionnaire_version_id=version_id, answers=fields["answers"],
                         channel="kiosk", language=fields["language"], client_id=fields["client_id"],
                         submitted_at=fields["submitted_at"], kiosk_id=kiosk_id)
        call = ingest.prepared(version, sub, credential_digest=digest, checksum=checksum, interval=interval, now=now)
        if call is None:
            return None
        return fields["client_id"] if self._commit(environ, engine, call) else None

    def _commit(self, environ: dict[str, Any], engine: Any, call: ingest.Call) -> bool:
        """The call in a transaction of its own on a pooled connection; True once committed."""
        conn = engine.raw_connection()
        try:
            raw: psycopg.Connection[Any] = conn.driver_connection
            try:
                stored = ingest.run(raw, call)
                if stored:
                    raw.commit()
                    return True
                environ[CALLED] = True
                raw.rollback()
                return False
            except psycopg.errors.UndefinedFunction:
                ingest.note_missing(engine)
                raw.rollback()
                return False
            except psycopg.Error as exc:
                # any doubt (the database went away, even during COMMIT): this connection is discarded and the
                # Flask path decides — a response that was committed after all is then found by client_id (200)
                conn.invalidate(exc)
                return False
        finally:
            conn.close()

    # ------------------------------------------------------------------------------------------------------------
    def _flask(self, environ: dict[str, Any], start_response: StartResponse,
               kind: tuple[str, str]) -> Iterable[bytes]:
        """The Flask app answers; its first 201 of each kind is kept as the lane's answer (headers and body)."""
        if kind in self.answers:
            return self.inner(environ, start_response)
        seen: list[Any] = []

        def remember(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen[:] = [status, headers]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        result = self.inner(environ, remember)
        if not seen or not str(seen[0]).startswith("201 "):
            return result
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        self._learn(kind, str(seen[0]), list(seen[1]), body)
        return [body]

    def _learn(self, kind: tuple[str, str], status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        if any(name.lower() in ("set-cookie", "vary") for name, _ in headers):
            return  # an answer that depends on more than the client id is never copied
        try:
            client_id = json.loads(body)["id"]
        except (ValueError, KeyError, TypeError):
            return
        if not isinstance(client_id, str) or body.count(client_id.encode("ascii")) != 1:
            return
        before, after = body.split(client_id.encode("ascii"))
        self.answers[kind] = (status, [(n, v) for n, v in headers if n.lower() != "content-length"], before, after)


def _host_accepted(environ: dict[str, Any], trusted: Any) -> bool:
    """Whether Flask would take this request's Host as it is: present, made of characters a host may have, and one
    of TRUSTED_HOSTS when that is set (Flask answers 400 otherwise; werkzeug reads a malformed one as empty)."""
    header = environ.get("HTTP_HOST")
    if not header:
        return False
    try:
        return bool(get_host(str(environ.get("wsgi.url_scheme", "http")), str(header), None, trusted or None))
    except SecurityError:
        return False


def _credential(environ: dict[str, Any], json_body: bool) -> str | None:
    """survey/respond/kiosk_auth.py presented_credential(allow_cookie=<JSON request>), from the environ."""
    scheme, _, value = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
    if scheme.lower() == "kiosk" and value.strip():
        return value.strip()
    if json_body and environ.get("HTTP_COOKIE"):
        return parse_cookie(environ).get(COOKIE) or None
    return None


def _is_json(content_type: str) -> bool:
    """werkzeug's Request.is_json."""
    mimetype = parse_options_header(content_type)[0].lower()
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def _digest(credential: str) -> str:
    from survey.org.kiosk_service import digest

    return digest(credential)


_urls: dict[int, tuple[Any, str]] = {}


def _url(engine: Any) -> str:
    """str(engine.url), as store.version_of keys its cache (rendered once per engine)."""
    hit = _urls.get(id(engine))
    if hit is None or hit[0] is not engine:
        hit = _urls[id(engine)] = (engine, str(engine.url))
    return hit[1]


def _envelope(body: Any) -> dict[str, Any] | None:
    """The fields of api.parse_submission when it would find no error, else None (then Flask names them)."""
    if not isinstance(body, dict):
        return None
    try:
        client_id = normalise_client_id(body.get("client_id"))
    except SubmissionError:
        return None
    instrument, version = body.get("questionnaire"), body.get("version")
    if not isinstance(instrument, str) or not instrument:
        return None
    if isinstance(version, bool) or not isinstance(version, int) or not inputs.in_db_range(version):
        return None
    raw_time = body.get("submitted_at")
    if not isinstance(raw_time, str):
        return None
    try:
        moment = datetime.fromisoformat(raw_time)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    language = body.get("language", "vi")
    if language not in CITIZEN_LANGUAGES:
        return None
    answers = body.get("answers")
    from survey.respond.api import plain_answer

    if not isinstance(answers, dict) or not all(plain_answer(v) for v in answers.values()):
        return None
    return {"client_id": client_id, "questionnaire": instrument, "version": version, "submitted_at": moment,
            "language": language, "answers": answers}


