"""Protection of small groups across periods and channels on the demo: leaks before/after and the cost.

    DATABASE_URL=sqlite:////tmp/demo.sqlite flask --app wsgi db upgrade && flask --app wsgi demo
    nice -n 10 .venv/bin/python benchmarks/disclosure_bench.py --db sqlite:////tmp/demo.sqlite [--repeat 3]

Leaks (overall index, all measures' n as the pages print them): for every node of the tree (city, units,
agencies, service points) a reader pairs figures the pages show — a quarter against each run of its months
(the agency page's From–To), a year against January–November and February–December, all channels against one
channel — and subtracts: a leak is a pair with both figures shown whose difference holds 1 to n_min − 1
responses (a hidden group's figure, exact for a single item).  Counted with the periods and channels linked
(survey/results/protection.py LINKED = True) and not (the tree per period and channel alone).

Cost: process CPU per request (in-process Flask test client) of the district comparison and an agency page,
cold (results cache off) and warm (second identical request), LINKED off and on alternated.

    nice -n 10 .venv/bin/python benchmarks/disclosure_bench.py --db ... --password ... --agency-pages

Every agency's default page (no From–To: every month so far, the trend with its fallback), one fresh process per
setting (LINKED off, then on), results cache on but empty: the process CPU of the pages in all, and the trend
granularity each page chose.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from survey import create_app  # noqa: E402


def _months(q: str) -> list[date]:
    y, k = int(q[:4]), int(q[-1])
    return [date(y, 3 * k - 2 + i, 1) for i in range(3)]


def leaks(session, qv_id: int, n_min: int, quarters: list[str], linked: bool) -> dict[str, int]:
    from survey.respond.models import CHANNELS
    from survey.results import protection as pr
    from survey.results.selection import Selection

    pr.LINKED = linked
    cells, _parent, wanted = pr._cells(session, (qv_id,))
    items = dict(wanted)["OVERALL"]
    cols = [cells.items.index(i) for i in items]
    tix = {t: i for i, t in enumerate(cells.time)}
    cix = {c: i for i, c in enumerate(cells.channel)}

    def n_of(o: int, months: list[date], ch: str = "*") -> int:
        idx = [tix[f"{m.year}-{m.month:02d}"] for m in months if f"{m.year}-{m.month:02d}" in tix]
        if not idx:
            return 0
        return int(cells.counts[o][idx][:, cix[ch]][:, cols].sum(axis=0).min())

    def shown(months: list[date], ch: str | None) -> dict[int, bool]:
        sel = Selection(questionnaire_version_ids=(qv_id,), period_from=months[0], period_to=months[-1],
                        channels=(ch,) if ch else ())
        p = pr.protection(session, sel, "OVERALL", n_min)
        return {o: n_of(o, months, ch or "*") >= n_min and not p.of(*node) for o, node in enumerate(cells.org)}

    out = {"period pairs": 0, "channel pairs": 0}
    for q in quarters:
        ms = _months(q)
        runs = [ms, ms[:2], ms[1:], ms[:1], ms[1:2], ms[2:]]
        vis = [shown(r, None) for r in runs]
        for o in range(len(cells.org)):
            whole = n_of(o, ms)
            for r, v in zip(runs[1:], vis[1:], strict=True):
                if vis[0][o] and v[o] and 0 < whole - n_of(o, r) < n_min:
                    out["period pairs"] += 1
        for ch in CHANNELS:
            v = shown(ms, ch)
            for o in range(len(cells.org)):
                if vis[0][o] and v[o] and 0 < n_of(o, ms) - n_of(o, ms, ch) < n_min:
                    out["channel pairs"] += 1
    years = sorted({q[:4] for q in quarters})
    for y in years:
        ms = [date(int(y), m, 1) for m in range(1, 13)]
        runs = [ms, ms[:11], ms[1:]]
        vis = [shown(r, None) for r in runs]
        for o in range(len(cells.org)):
            for r, v in zip(runs[1:], vis[1:], strict=True):
                if vis[0][o] and v[o] and 0 < n_of(o, ms) - n_of(o, r) < n_min:
                    out["period pairs"] += 1
    pr.LINKED = True
    return out


def _login(client, username: str, password: str) -> None:
    html = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    resp = client.post("/auth/login", data={"username": username, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.status_code


def agency_pages(db_url: str, user: str, password: str, linked: bool) -> None:
    """One cold process: every agency's default page as `user`; prints the CPU in all and the trend kinds."""
    app = create_app({"DATABASE_URL": db_url, "SECRET_KEY": "bench", "TESTING": True, "RATELIMIT_ENABLED": False})
    from collections import Counter

    from sqlalchemy import select

    from survey.extensions import db
    from survey.org.models import Agency
    from survey.results import protection as pr

    pr.LINKED = linked
    with app.app_context():
        codes = list(db.session.scalars(select(Agency.code).order_by(Agency.code)))
    client = app.test_client()
    with app.app_context():
        _login(client, user, password)
    kinds: Counter[str] = Counter()
    c0, w0 = time.process_time(), time.perf_counter()
    for code in codes:
        resp = client.get(f"/dashboard/agency/{code}")
        assert resp.status_code == 200, (code, resp.status_code)
        html = resp.get_data(as_text=True)
        form = html[html.index('id="f-trend"'):] if 'id="f-trend"' in html else ""
        found = re.search(r'<option value="([^"]+)" selected>', form[:form.find("</select>")])
        kinds[found.group(1) if found else "none"] += 1
    print(f"linked={linked}: {len(codes)} agency pages, CPU {time.process_time() - c0:.1f} s, "
          f"wall {time.perf_counter() - w0:.1f} s, trend {dict(sorted(kinds.items()))}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--user", default="noivu")
    ap.add_argument("--password", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--period", default="2022-Q4")
    ap.add_argument("--agency-pages", action="store_true", help="every agency's default page, cold process each")
    ap.add_argument("--linked", choices=["off", "on"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.linked:
        agency_pages(args.db, args.user, args.password, args.linked == "on")
        return
    if args.agency_pages:
        import os
        import subprocess

        print(f"load average {os.getloadavg()}", flush=True)
        for setting in ("off", "on"):
            subprocess.run([sys.executable, __file__, "--db", args.db, "--user", args.user, "--password",
                            args.password, "--linked", setting], check=True)
        print(f"load average {os.getloadavg()}", flush=True)
        return
    app = create_app({"DATABASE_URL": args.db, "SECRET_KEY": "bench", "TESTING": True, "RATELIMIT_ENABLED": False})
    from flask import g

    from survey.extensions import db
    from survey.results import cache
    from survey.results import protection as pr
    from survey.results.comparison import periods_with_data

    with app.app_context():
        from sqlalchemy import func, select

        from survey.org.models import Agency, ServicePoint
        from survey.respond.models import ResponseTally

        qv_id, _n = db.session.execute(select(ResponseTally.questionnaire_version_id, func.sum(ResponseTally.count))
                                       .group_by(ResponseTally.questionnaire_version_id)
                                       .order_by(func.sum(ResponseTally.count).desc())).first()
        n_min = int(app.config["HAILONG_N_MIN"])
        agency = db.session.execute(select(Agency.code).join(ServicePoint, ServicePoint.agency_id == Agency.id)
                                    .join(ResponseTally, ResponseTally.service_point_id == ServicePoint.id)
                                    .where(ResponseTally.questionnaire_version_id == qv_id).group_by(Agency.code)
                                    .order_by(func.sum(ResponseTally.count)).limit(1)).scalar_one()
        quarters = [p.label for p in periods_with_data(db.session, qv_id, "quarter")]
        print(f"questionnaire version {qv_id}, n_min {n_min}, quarters {len(quarters)}, agency page {agency}")
        app.config["HAILONG_RESULTS_CACHE"] = False
        for linked in (False, True):
            print(f"leaks, linked={linked}:", leaks(db.session, qv_id, n_min, quarters, linked), flush=True)
            db.session.rollback()
    pages = {"district comparison": f"/homeaffairs/?period={args.period}&level=district&questionnaire={qv_id}",
             "agency page": f"/dashboard/agency/{agency}?from=2022-10&to=2022-12&questionnaire={qv_id}"}
    client = app.test_client()
    with app.app_context():
        _login(client, args.user, args.password)
    results: dict[tuple[str, str, bool], list[float]] = {}
    for _rep in range(args.repeat):
        for linked in (False, True):
            pr.LINKED = linked
            for mode in ("cold", "warm"):
                app.config["HAILONG_RESULTS_CACHE"] = mode == "warm"
                cache.clear()
                for name, url in pages.items():
                    if mode == "warm":
                        with app.app_context():
                            g.pop("_login_user", None)
                        client.get(url)
                    c0 = time.process_time()
                    resp = client.get(url)
                    results.setdefault((name, mode, linked), []).append((time.process_time() - c0) * 1000)
                    assert resp.status_code == 200, (url, resp.status_code)
    for (name, mode, linked), cpu in sorted(results.items()):
        print(f"{name:22s} {mode:5s} linked={linked!s:5s} CPU ms median {statistics.median(cpu):7.0f} "
              f"(runs {', '.join(f'{c:.0f}' for c in cpu)})")


if __name__ == "__main__":
    main()
