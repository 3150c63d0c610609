"""Hidden cells carried forward (survey/results/carried.py) over a quarter's days on the demo: what more is hidden,
and what the pages cost.

    DATABASE_URL=sqlite:////tmp/demo.sqlite flask --app wsgi db upgrade && flask --app wsgi demo
    nice -n 10 .venv/bin/python benchmarks/carry_forward_bench.py --db sqlite:////tmp/demo.sqlite --days 2022-Q4
    nice -n 10 .venv/bin/python benchmarks/carry_forward_bench.py --db ... --password demo-noivu-2022 --pages

--days: replays the quarter day by day (the answers received up to each day, every earlier one counted; the
31 days after the quarter too, when late responses still arrive) and decides each day twice — afresh
(`CARRY_FORWARD = False`, as before) and starting from every cell hidden as secondary on an earlier day — for
the overall index and each element.  Prints per measure the cells hidden on the last day each way, and the cells
that were hidden to protect a small group on some day and SHOWN with responses on a later day by the fresh
decisions (each such return can be taken from a page of a day that hid a sibling instead, as in
tests/dashboard/test_disclosure_over_time.py); carried forward that count is 0 by construction (checked).

--pages: process CPU per request (in-process Flask test client) of the district comparison, the agency
comparison, the period report and an agency page, cold (results cache off) and warm (second identical
request), CARRY_FORWARD off and on alternated, median of --repeat.
"""

from __future__ import annotations

import argparse
import itertools
import re
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from survey import create_app  # noqa: E402


class _Rows:
    """Stands in for a session whose one query (cell_counts' GROUP BY) returns `rows`."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    def execute(self, _stmt: Any) -> _Rows:
        return self

    def all(self) -> list[tuple[Any, ...]]:
        return self.rows


def _quarter_start(d: date) -> date:
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def replay_days(db_url: str, label: str) -> None:
    from sqlalchemy import func, select

    from survey.extensions import db
    from survey.respond.models import Answer, Response, ResponseTally
    from survey.results import Selection, cell_counts
    from survey.results import protection as pr
    from survey.results.node_counts import measure_items
    from survey.results.totals import instrument

    app = create_app({"DATABASE_URL": db_url, "SECRET_KEY": "bench", "TESTING": True})
    with app.app_context():
        session = db.session
        qv_id = session.execute(select(ResponseTally.questionnaire_version_id).group_by(
            ResponseTally.questionnaire_version_id).order_by(func.sum(ResponseTally.count).desc()).limit(1)).scalar_one()
        n_min = int(app.config["HAILONG_N_MIN"])
        inst = instrument(session, Selection(questionnaire_version_ids=(qv_id,)))
        parent, above = pr._org_tree(session)
        spec_items = {int(i): c for i, c in inst.item_codes.items() if c in inst.spec.items}
        day = func.date(Response.received_at)
        rows = session.execute(
            select(Response.service_point_id, Response.period, Response.channel, Answer.item_id, day, func.count())
            .join(Answer, Answer.response_id == Response.id)
            .where(Response.questionnaire_version_id == qv_id, Response.review_status.is_(None), Answer.value > 0,
                   Answer.item_id.in_(list(spec_items)))
            .group_by(Response.service_point_id, Response.period, Response.channel, Answer.item_id, day)).all()
        measures = [(m, items) for m, items in measure_items(inst.spec.measures)
                    if m == "OVERALL" or "." not in m]
    year, q = int(label[:4]), int(label[-1])
    first = date(year, 3 * q - 2, 1)
    end = date(year + (q == 4), (3 * q) % 12 + 1, 1) + timedelta(days=31)
    by_day = [(date.fromisoformat(str(r[4])[:10]), r) for r in rows]
    days = sorted({d for d, _r in by_day if first <= d < end})
    print(f"questionnaire version {qv_id}, n_min {n_min}, {label}: {len(days)} days with responses "
          f"({days[0]} to {days[-1]}), measures {[m for m, _ in measures]}", flush=True)
    org = list(parent)
    carried: dict[str, set[tuple[Any, ...]]] = {m: set() for m, _ in measures}
    fresh_seen: dict[str, set[tuple[Any, ...]]] = {m: set() for m, _ in measures}
    returned: dict[str, set[tuple[Any, ...]]] = {m: set() for m, _ in measures}
    last: dict[str, tuple[int, int, int]] = {}
    cpu = {"fresh": 0.0, "carried": 0.0}
    for d in days:
        leaf: dict[tuple[Any, ...], int] = {}
        for when, r in by_day:
            if when <= d:
                key = (r[0], r[1], r[2], r[3])
                leaf[key] = leaf.get(key, 0) + int(r[5])
        cells = cell_counts.cell_counts(_Rows([(*k, v) for k, v in leaf.items()]), (qv_id,), spec_items, above,
                                        org)  # type: ignore[arg-type]
        quarter = _quarter_start(d)
        time_labels = [*cells.time, f"*{quarter.isoformat()[:7]}"]
        for m, items in measures:
            n, _answers = pr._measure_counts(cells, items, quarter)
            t0 = time.process_time()
            fresh = pr.decide(cells, parent, items, n_min, quarter).status
            t1 = time.process_time()
            forced = np.zeros(n.shape, dtype=bool)
            t_ix = {t: i for i, t in enumerate(time_labels)}
            for o, t, c in carried[m]:
                if t in t_ix:
                    forced[o, t_ix[t], c] = True
            kept = pr.decide(cells, parent, items, n_min, quarter, forced=forced).status
            cpu["fresh"] += t1 - t0
            cpu["carried"] += time.process_time() - t1
            assert not (forced & (n > 0) & (kept == 0)).any(), "a carried cell was shown"
            for o, t, c in np.argwhere(kept == 2).tolist():
                carried[m].add((o, time_labels[t], c))
            shown = {(o, time_labels[t], c) for o, t, c in np.argwhere((fresh == 0) & (n > 0)).tolist()}
            returned[m] |= shown & fresh_seen[m]
            fresh_seen[m] |= {(o, time_labels[t], c) for o, t, c in np.argwhere(fresh == 2).tolist()}
            last[m] = (int((n > 0).sum()), int((fresh == 2).sum()), int((kept == 2).sum()))
    print("measure | cells with responses (last day) | secondary afresh | secondary carried | "
          "cells hidden as secondary on a day and shown later, afresh")
    for m, _items in measures:
        cells_n, f, k = last[m]
        print(f"{m} | {cells_n} | {f} | {k} (+{k - f}, {100 * (k - f) / max(cells_n, 1):.2f}% of cells) | "
              f"{len(returned[m])}")
    print(f"decision CPU over the replay: afresh {cpu['fresh']:.1f} s, carried {cpu['carried']:.1f} s")


def _login(client: Any, username: str, password: str) -> None:
    html = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    resp = client.post("/auth/login", data={"username": username, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.status_code


def pages(db_url: str, user: str, password: str, period: str, repeat: int) -> None:
    import os

    from flask import g
    from sqlalchemy import func, select

    from survey.extensions import db
    from survey.org.models import Agency
    from survey.respond.models import ResponseTally
    from survey.results import cache
    from survey.results import protection as pr

    app = create_app({"DATABASE_URL": db_url, "SECRET_KEY": "bench", "TESTING": True, "RATELIMIT_ENABLED": False})
    with app.app_context():
        qv_id = db.session.execute(select(ResponseTally.questionnaire_version_id).group_by(
            ResponseTally.questionnaire_version_id).order_by(func.sum(ResponseTally.count).desc()).limit(1)).scalar_one()
        agency = db.session.scalars(select(Agency.code).order_by(Agency.code)).first()
    urls = {"district comparison": f"/homeaffairs/?period={period}&level=district&questionnaire={qv_id}",
            "agency comparison": f"/homeaffairs/?period={period}&level=agency&questionnaire={qv_id}",
            "period report": f"/homeaffairs/report/?period={period}&questionnaire={qv_id}",
            "agency page": f"/dashboard/agency/{agency}?from=2022-10&to=2022-12&questionnaire={qv_id}"}
    client = app.test_client()
    with app.app_context():
        _login(client, user, password)
    print(f"load average {os.getloadavg()}", flush=True)
    results: dict[tuple[str, str, bool], list[float]] = {}

    def cpu_of(url: str, warm: bool) -> float:
        """Process CPU of one request (`warm`: after the same request filled the results cache)."""
        for _ in range(2 if warm else 1):
            with app.app_context():
                g.pop("_login_user", None)
            c0 = time.process_time()
            resp = client.get(url)
            assert resp.status_code == 200, (url, resp.status_code)
        return time.process_time() - c0

    for _rep, carry, mode in itertools.product(range(repeat), (False, True), ("cold", "warm")):  # alternated
        pr.CARRY_FORWARD = carry
        app.config["HAILONG_RESULTS_CACHE"] = mode == "warm"
        cache.clear()
        for name, url in urls.items():
            results.setdefault((name, mode, carry), []).append(cpu_of(url, mode == "warm"))
    print(f"load average {os.getloadavg()}", flush=True)
    for (name, mode, carry), v in sorted(results.items()):
        print(f"{name:20s} {mode:4s} carry={'on ' if carry else 'off'} median {1000 * statistics.median(v):7.0f} ms "
              f"CPU ({', '.join(f'{1000 * x:.0f}' for x in v)})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--days", metavar="QUARTER", help="replay a quarter's days (e.g. 2022-Q4)")
    ap.add_argument("--pages", action="store_true")
    ap.add_argument("--user", default="noivu")
    ap.add_argument("--password", default="demo-noivu-2022")
    ap.add_argument("--period", default="2022-Q4")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    if args.days:
        replay_days(args.db, args.days)
    if args.pages:
        pages(args.db, args.user, args.password, args.period, args.repeat)


if __name__ == "__main__":
    main()
