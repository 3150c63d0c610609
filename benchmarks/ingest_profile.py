"""Where a kiosk submission's CPU goes: N submissions through the Flask test client on PostgreSQL, profiled.

    .venv/bin/python benchmarks/ingest_profile.py [--n 1200] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

Same database set-up as ingest_bench.py (60 service points, 600 enrolled kiosks, limits on: 1 s interval, the
per-kiosk cap in Redis db 13), then: CPU milliseconds per submission without the profiler (in-process: no
gunicorn, no wrk, no HTTP parsing), and cProfile with a CPU clock over `--n` submissions, printed as the share
of each part of the request (the table in benchmarks/README.md).  Shares are steadier than absolute figures
when the machine is shared.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from werkzeug.test import EnvironBuilder

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest_bench as bench

DB_NAME = "hailong_ingest_profile"
PARTS = [  # (label, file:function) - cumulative CPU of each, as a share of the whole request
    ("whole request (the app's WSGI call: the kiosk lane, or Flask behind it)", "app.py:__call__"),
    ("  kiosk lane below Flask (survey/respond/ingest_wsgi.py)", "ingest_wsgi.py:_store"),
    ("    per-kiosk API cap (Redis)", "api.py:cap_seconds"),
    ("    guarded JSON parse", "inputs.py:loads"),
    ("    envelope check", "ingest_wsgi.py:_envelope"),
    ("    answers -> call parameters (validation, u.uT)", "ingest.py:prepared"),
    ("    pool checkout, call + cell UPDATE, COMMIT, check-in", "ingest_wsgi.py:_commit"),
    ("      the call + the cell's UPDATE (psycopg, 2 statements)", "ingest.py:run"),
    ("  Flask (the first submission of each kiosk, or with the lane off)", "app.py:wsgi_app"),
    ("  request hooks before the view (guard, limiter, Talisman, CSRF, login, metrics)", "app.py:preprocess_request"),
    ("  after the view (security headers, session, metrics, no-store)", "app.py:finalize_request"),
    ("  request context push + pop (session open, teardown)", "ctx.py:push", "ctx.py:pop"),
    ("  the view: submit_response", "api.py:submit_response"),
    ("    kiosk credential -> caller (1 SELECT; a kiosk's first submission in a process)", "kiosk_auth.py:api_caller"),
    ("    per-kiosk API cap (Redis)", "api.py:over_api_cap"),
    ("    body read + guarded JSON parse", "api.py:_json_body"),
    ("    envelope check + version id (1 SELECT)", "api.py:parse_submission"),
    ("    minimum interval claim (1 UPDATE)", "api.py:claim_submission_slot"),
    ("    known kiosk on PostgreSQL: hailong_kiosk_store call + moment cell write", "ingest.py:store_known"),
    ("      psycopg Connection.execute (lane and view alike: the call + the cell's UPDATE)", "connection.py:execute"),
    ("      respondent's u.uT (kept per answer pattern) and the packed add", "ingest.py:respondent_gram",
     "ingest.py:added"),
    ("      answer validation", "store.py:plain_problems", "answers.py:answer_problems"),
    ("    known kiosk, usual path: credential, interval claim, point, version, month (1 UPDATE)",
     "api.py:claim_as_known"),
    ("    store_response", "store.py:store_response"),
    ("      service point + version state, answer validation (1 SELECT)", "store.py:_check"),
    ("      published-month look-up (lock + SELECT; first submission)", "quarantine.py:month_cutoff"),
    ("      answers + response + answer cells + moment read (PG: 1 statement)", "store.py:_store_and_count_pg"),
    ("      moment cell: Gram of the respondent + UPDATE", "moments.py:add_response"),
    ("    COMMIT", "scoping.py:commit"),
]


def _body(instrument: str, version: int, items: list[str], stamp: str) -> dict:
    answers: dict = {it: random.randint(1, 3) for it in items}
    if random.random() < 0.05:
        answers["COMMENT"] = "Cán bộ nhiệt tình"
    return {"client_id": str(uuid.uuid4()), "questionnaire": instrument, "version": version, "submitted_at": stamp,
            "language": "vi", "answers": answers}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1200)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--dump", help="also write the cProfile statistics to this file (pstats format)")
    args = ap.parse_args()
    admin, url = bench.fresh_database(args.pg, DB_NAME)
    try:
        creds, instrument, version, items = bench.setup_database(url, 600)
        os.environ.update({"DATABASE_URL": url, "SECRET_KEY": "profile-" + "x" * 40, "HAILONG_PREWARM": "0",
                           "RATELIMIT_STORAGE_URI": bench.REDIS, "HAILONG_KIOSK_MIN_INTERVAL_SECONDS": "1",
                           "HAILONG_KIOSK_API_LIMIT": "100000 per minute"})
        from survey import create_app

        client = create_app().test_client()
        stamp = datetime.now(UTC).isoformat()
        sent = 0

        def post() -> None:
            nonlocal sent
            resp = client.post("/api/v1/responses", json=_body(instrument, version, items, stamp),
                               headers={"Authorization": "Kiosk " + creds[sent % len(creds)]})
            sent += 1
            if resp.status_code != 201:
                raise SystemExit(f"unexpected answer {resp.status_code}: {resp.get_data(as_text=True)[:200]}")
            if sent % len(creds) == 0:
                time.sleep(1.05)  # every kiosk's 1 s interval has passed before its next response

        for _ in range(len(creds)):  # imports, statement compilation; every kiosk known to the process
            post()
        cpu = time.process_time()
        for _ in range(300):
            post()
        print(f"load average {os.getloadavg()[0]:.1f}; CPU per submission, no profiler: "
              f"{1000 * (time.process_time() - cpu) / 300:.2f} ms (test client included)")
        # the app alone: requests built beforehand (what gunicorn hands the app), only the WSGI call timed
        time.sleep(1.05)
        environs = [EnvironBuilder(path="/api/v1/responses", method="POST",
                                   json=_body(instrument, version, items, stamp),
                                   headers={"Authorization": "Kiosk " + creds[i]}).get_environ()
                    for i in range(len(creds))]
        app = client.application
        statuses: list[str] = []

        def start_response(status: str, _headers: object, _exc: object = None) -> None:
            statuses.append(status)

        cpu = time.process_time()
        for environ in environs:
            b"".join(app(environ, start_response))
        if any(not s.startswith("201") for s in statuses):
            raise SystemExit(f"unexpected answers {sorted(set(statuses))}")
        print(f"CPU per submission in the app's WSGI call alone: "
              f"{1000 * (time.process_time() - cpu) / len(environs):.2f} ms ({len(environs)} submissions)")
        time.sleep(1.05)
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for _ in range(args.n):
            post()
        profile.disable()
        if args.dump:
            profile.dump_stats(args.dump)
        stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]

        def cumulative(*names: str) -> float:
            return sum(v[3] for (f, _line, fn), v in stats.items() if f"{Path(f).name}:{fn}" in names)

        whole = cumulative(PARTS[0][1])
        for label, *names in PARTS:
            print(f"{label:<80} {100 * cumulative(*names) / whole:5.1f}%")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
