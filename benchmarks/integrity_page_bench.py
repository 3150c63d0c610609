"""The Integrity page (/homeaffairs/integrity/) on a demo database: CPU of a cold and a second request in one new
process, optionally a cProfile of the cold one, and (`--agree`) whether its early-warning list is exactly the
agency and unit pages that say they signal.

    DATABASE_URL=sqlite:////tmp/demo.sqlite .venv/bin/flask --app wsgi db upgrade   # then questionnaire load, demo
    OPENBLAS_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/integrity_page_bench.py sqlite:////tmp/demo.sqlite

The clock is the demo's (14 Dec 2022), as in docs/integrity.md; figures in benchmarks/README.md ("Integrity page,
cold")."""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import time
from datetime import UTC, datetime

from sqlalchemy import select

from survey import create_app

LISTED = re.compile(r'<tr class="signal-(?:agency|unit)"><th scope="row"><a href="([^"]+)"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db", help="database URL of a loaded demo")
    parser.add_argument("--profile", action="store_true", help="cProfile of the cold request (cumulative, top 45)")
    parser.add_argument("--agree", action="store_true", help="then every agency and unit page: do they agree")
    args = parser.parse_args()
    app = create_app({"DATABASE_URL": args.db, "SECRET_KEY": "bench", "TESTING": True, "RATELIMIT_ENABLED": False,
                      "HAILONG_CLOCK": lambda: datetime(2022, 12, 14, 3, tzinfo=UTC)})
    client = app.test_client()
    with app.app_context():
        html = client.get("/auth/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
        assert token is not None
        resp = client.post("/auth/login", data={"username": "noivu", "password": "demo-noivu-2022",
                                                "csrf_token": token.group(1)})
        assert resp.status_code == 302, resp.status_code
    listed: set[str] = set()
    for i in range(2):
        prof = cProfile.Profile() if args.profile and i == 0 else None
        c0, w0 = time.process_time(), time.perf_counter()
        if prof:
            prof.enable()
        resp = client.get("/homeaffairs/integrity/")
        if prof:
            prof.disable()
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        listed = set(LISTED.findall(resp.get_data(as_text=True)))
        print(f"request {i + 1}: status {resp.status_code}, CPU {cpu:.2f} s, wall {wall:.2f} s, load "
              f"{os.getloadavg()[0]:.1f}, listed {sorted(listed)}", flush=True)
        if prof:
            pstats.Stats(prof).sort_stats("cumulative").print_stats(45)
    if args.agree:
        from survey.extensions import db
        from survey.org.models import Agency, Unit

        with app.app_context():
            urls = [f"/dashboard/agency/{c}" for c in db.session.scalars(select(Agency.code).order_by(Agency.code))]
            urls += [f"/homeaffairs/unit/{u}" for u in db.session.scalars(select(Unit.id).order_by(Unit.id))]
        saying = set()
        for url in urls:
            page = client.get(url)
            assert page.status_code == 200, (url, page.status_code)
            if 'class="early-warning-signal"' in page.get_data(as_text=True):
                saying.add(url)
        print(f"pages saying they signal: {sorted(saying)}")
        print(f"{'agree' if saying == listed else 'DISAGREE'} ({len(urls)} pages)")


if __name__ == "__main__":
    main()
