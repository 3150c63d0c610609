"""Dashboard speed at 1,000,000 stored responses, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/dashboard_bench.py [--db sqlite|postgresql|both] [--responses 1000000]
        [--repeat 30] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

What is loaded (a Cần Thơ-sized city: 9 districts, 81 communes, 120 agencies, 270 service points, 12 months):
- `response` rows: 1,000,000 (bulk insert), kiosk responses on the counter-quick questionnaire, QR/web/paper
  responses on SIPAS 2017; 4% carry a comment (`comment` rows).
- the count tables `response_tally`, `answer_tally` and `moment_tally` are GENERATED directly (from respondent-level
  answers simulated cell by cell, never stored) rather than by inserting ~25 M
  `answer` rows and running `rebuild_tallies`.  Equivalence: `answer_tally` is by definition the GROUP BY
  (questionnaire version, service point, month, channel, item, value) of the answer rows (store_response keeps
  it so; tests/results/test_results.py::test_rebuilt_tallies_give_the_same_figures checks rebuild = incremental),
  and a cell's counts are drawn from the same multinomial/binomial laws a respondent-level simulation would
  sum to.  Dashboard pages never read `answer` rows, so their absence changes no page's work.
Then every agency-dashboard page (and the Home Affairs index, when present) is requested through the Flask test
client, logged in, `--repeat` times each, and p50/p95 of wall time and of this process's CPU time (the app's own
work; PostgreSQL's query time is in the wall figure only) are printed in three modes:
- cold: results cache off — every request runs every GROUP BY and every estimate;
- live: cache on, two new responses stored before every request (what a running system sees: the current
  month's tally chunk and every computed result are invalid, the eleven other months come from the cache);
- warm: cache on, no new responses (repeated identical requests).
In live and warm modes one untimed request per page comes first: a serving process has answered the page
before, or warmed the month cache at start-up (survey/results/prewarm.py); cold mode is the worst case of
a first request with nothing cached at all.

`--keep NAME` keeps the loaded databases (/tmp/NAME.sqlite, PostgreSQL database NAME); `--reuse NAME` times them
again without loading (e.g. after a code change).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from questionnaires.loader import load_file, shipped  # noqa: E402
from survey import create_app  # noqa: E402
from survey.auth.models import User  # noqa: E402
from survey.auth.passwords import hash_password  # noqa: E402
from survey.database import make_engine  # noqa: E402
from survey.extensions import db  # noqa: E402
from survey.migrate import upgrade  # noqa: E402
from survey.org.models import Agency, Level, ServicePoint, Unit  # noqa: E402
from survey.questionnaire_versions.service import questionnaire_for, store_questionnaire  # noqa: E402
from survey.respond import moments  # noqa: E402
from survey.respond.models import AnswerTally, Comment, MomentTally, Response, ResponseTally  # noqa: E402

PASSWORD = "bench-password-1"
MONTHS = [date(2024, m, 1) for m in range(1, 13)]
BATCH = 50_000


def build_tree(session) -> dict[str, list]:
    for rank, (code, vi, en) in enumerate([("city", "Thành phố", "City"), ("district", "Quận/Huyện", "District"),
                                           ("commune", "Xã/Phường", "Commune")]):
        session.add(Level(code=code, rank=rank, name_vi=vi, name_en=en))
    city = Unit(code="CT", name_vi="Thành phố Cần Thơ", name_en="Can Tho", level_code="city")
    session.add(city)
    session.flush()
    agencies, points, districts = [], [], []

    def agency(code: str, unit: Unit, n_points: int) -> None:
        a = Agency(code=code, name_vi=f"Cơ quan {code}", name_en=f"Agency {code}", unit_id=unit.id)
        session.add(a)
        session.flush()
        agencies.append(a)
        for k in range(n_points):
            sp = ServicePoint(code=f"{code}-SP{k + 1}", name_vi=f"Điểm {code} {k + 1}", name_en=f"Point {code} {k + 1}",
                              agency_id=a.id)
            session.add(sp)
            points.append(sp)

    for i in range(30):  # city departments
        agency(f"SO{i + 1:02d}", city, 2)
    for d in range(9):
        du = Unit(code=f"D{d + 1}", name_vi=f"Quận {d + 1}", name_en=f"District {d + 1}", level_code="district",
                  parent_id=city.id)
        session.add(du)
        session.flush()
        districts.append(du)
        agency(f"UBND-D{d + 1}", du, 4)
        for c in range(9):
            cu = Unit(code=f"D{d + 1}C{c + 1}", name_vi=f"Phường {d + 1}.{c + 1}", name_en=f"Ward {d + 1}.{c + 1}",
                      level_code="commune", parent_id=du.id)
            session.add(cu)
            session.flush()
            agency(f"UBND-D{d + 1}C{c + 1}", cu, 2)
    session.flush()
    return {"agencies": agencies, "points": points, "districts": districts}


def add_users(session, tree) -> None:
    for username, role, agency_id, unit_id in [
        ("admin", "admin", None, None), ("noivu", "home_affairs", None, None),
        ("quan1", "unit_manager", None, tree["districts"][0].id),
        ("viewer", "agency_viewer", tree["agencies"][30].id, None)]:
        session.add(User(username=username, display_name=username, password_hash=hash_password(PASSWORD), role=role,
                         agency_id=agency_id, unit_id=unit_id))


def _insert(session, table, rows: list[dict]) -> None:
    for i in range(0, len(rows), BATCH):
        session.execute(insert(table), rows[i:i + BATCH])


def loaded_sipas() -> int:
    """The SIPAS version `load` wrote its responses under: the highest (it stores every shipped version and keeps
    the last).  The first one found was used before: since sipas-2017 v2 shipped (6 Dec 2026, 19:28) that was
    v1, without data, and the "other questionnaire (SIPAS)" pages timed their fallback to counter-quick."""
    from sqlalchemy import func, select

    from survey.questionnaire_versions.models import QuestionnaireVersion

    return int(db.session.scalar(select(func.max(QuestionnaireVersion.id))
                                 .where(QuestionnaireVersion.instrument == "sipas-2017")))


def load(session, n_responses: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    tree = build_tree(session)
    add_users(session, tree)
    qvs = {}
    for path in shipped():
        out = store_questionnaire(session, load_file(path))
        qvs[out.record.instrument] = out.record
    session.commit()
    points = tree["points"]
    size = rng.gamma(2.0, 1.0, len(points))
    share = size / size.sum()
    quality = rng.uniform(0.55, 0.95, len(points))
    channels = np.array(["kiosk", "qr", "web", "paper"])
    ch_p = np.array([0.6, 0.25, 0.1, 0.05])
    sp_idx = rng.choice(len(points), n_responses, p=share)
    month_idx = rng.integers(0, 12, n_responses)
    ch_idx = rng.choice(4, n_responses, p=ch_p)
    order = np.lexsort((ch_idx, month_idx, sp_idx))
    sp_idx, month_idx, ch_idx = sp_idx[order], month_idx[order], ch_idx[order]
    t0 = time.perf_counter()
    # responses (+ comments)
    now = datetime.now(UTC)
    rows, comments = [], []
    for i in range(n_responses):
        sp = points[sp_idx[i]]
        m = MONTHS[month_idx[i]]
        ch = channels[ch_idx[i]]
        at = datetime(m.year, m.month, 1 + i % 27, 3 + i % 8, i % 60, tzinfo=UTC)
        qv = qvs["counter-quick"] if ch == "kiosk" else qvs["sipas-2017"]
        rows.append({"id": i + 1, "client_id": str(uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | i)),
                     "questionnaire_version_id": qv.id, "agency_id": sp.agency_id, "service_point_id": sp.id,
                     "channel": ch, "language": "vi", "submitted_at": at, "received_at": now, "period": m})
        if i % 25 == 0:
            comments.append({"id": len(comments) + 1, "response_id": i + 1, "item_code": "COMMENT",
                             "text": f"Ý kiến số {i}: cán bộ {'nhiệt tình' if i % 2 else 'chậm trễ'} tại {sp.code}"})
        if len(rows) == BATCH:
            session.execute(insert(Response.__table__), rows)
            rows = []
    if rows:
        session.execute(insert(Response.__table__), rows)
    _insert(session, Comment.__table__, comments)
    if session.get_bind().dialect.name == "postgresql":  # explicit ids above: move the sequences past them
        for table in ("response", "comment"):
            session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"(SELECT max(id) FROM {table}))"))
    session.commit()
    print(f"  responses + {len(comments)} comments inserted in {time.perf_counter() - t0:.0f} s", flush=True)
    # count tables, generated per cell
    t0 = time.perf_counter()
    cells: dict[tuple[int, int, int], int] = {}
    key = (sp_idx.astype(np.int64) * 12 + month_idx) * 4 + ch_idx
    uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    last_ids = np.zeros(len(uniq), dtype=np.int64)  # response i has id i + 1 (inserted above)
    np.maximum.at(last_ids, inverse, np.arange(1, len(key) + 1))
    rt, at, mt = [], [], []
    items = {name: questionnaire_for(session, qv.id) for name, qv in qvs.items()}
    specs = {name: q.index_spec() for name, (q, _) in items.items()}
    for k, n, last_id in zip(uniq.tolist(), counts.tolist(), last_ids.tolist(), strict=True):
        ch = int(k % 4)
        month = int((k // 4) % 12)
        spi = int(k // 48)
        cells[(spi, month, ch)] = n
        name = "counter-quick" if ch == 0 else "sipas-2017"
        qv = qvs[name]
        q, ids = items[name]
        base = {"questionnaire_version_id": qv.id, "service_point_id": points[spi].id, "period": MONTHS[month],
                "channel": str(channels[ch])}
        rt.append({**base, "count": n})
        scored: dict[str, np.ndarray] = {}
        for it in q.items():
            if it.type == "scale":  # n respondents' answers (0 = not answered), then counted like the database
                sat = list(it.scale.satisfied)
                levels = list(it.scale.values)
                p_sat = quality[spi]
                p = np.array([p_sat / len(sat) if v in sat else (1 - p_sat) / (len(levels) - len(sat)) for v in levels])
                values = levels
                if it.offers_no_opinion:
                    p = np.append(p * 0.95, 0.05)
                    values = [*levels, 0]
                drawn = rng.choice(np.array(values), size=n, p=p / p.sum())
                answered = np.ones(n, bool) if it.required else rng.random(n) < 0.8
                scored[it.code] = np.where(answered, drawn, 0)
                for v in values:
                    c = int(np.count_nonzero(answered & (drawn == v)))
                    if c:
                        at.append({**base, "item_id": ids[it.code], "value": v, "count": c})
            elif it.type == "choice":
                for opt in it.options:
                    c = int(rng.binomial(n, 0.25))
                    if c:
                        at.append({**base, "item_id": ids[it.code], "value": opt.value, "count": c})
        g = moments.grams(specs[name], np.zeros(n, dtype=np.int64), 1, scored)[0]
        mt.append({**base, "respondents": n, "gram": moments.pack(g), "last_response_id": last_id})
    _insert(session, ResponseTally.__table__, rt)
    _insert(session, AnswerTally.__table__, at)
    _insert(session, MomentTally.__table__, mt)
    session.commit()
    print(f"  count tables generated: {len(rt)} response_tally, {len(at)} answer_tally, {len(mt)} moment_tally rows "
          f"in {time.perf_counter() - t0:.0f} s", flush=True)


def _login(client, username: str) -> None:
    import re

    from flask import g

    for k in ("_login_user", "csrf_token", "_flask_babel"):
        g.pop(k, None)
    html = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    resp = client.post("/auth/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302, resp.status_code


def pages(app) -> list[tuple[str, str, str]]:
    big = "UBND-D1"  # district People's Committee: 4 service points
    out = [
        ("landing (all agencies)", "noivu", "/dashboard/"),
        ("landing, unit manager", "quan1", "/dashboard/"),
        ("agency page (district)", "noivu", f"/dashboard/agency/{big}"),
        ("agency page, quarter trend", "noivu", f"/dashboard/agency/{big}?trend=quarter"),
        ("agency page, filtered", "noivu", f"/dashboard/agency/{big}?from=2024-04&to=2024-06&channel=kiosk"),
        ("agency page, viewer", "viewer", "/dashboard/agency/UBND-D1"),
        ("agency page, other questionnaire", "noivu", f"/dashboard/agency/{big}?questionnaire=__sipas__"),
        ("agency XLSX export", "noivu", f"/dashboard/agency/{big}?format=xlsx"),
        ("comments", "noivu", f"/dashboard/agency/{big}/comments"),
        ("comments search", "noivu", f"/dashboard/agency/{big}/comments?q=ch%E1%BA%ADm"),
        ("comments CSV", "noivu", f"/dashboard/agency/{big}/comments?format=csv"),
    ]
    if "homeaffairs.index" in app.view_functions:
        out += [
            ("Home Affairs index", "noivu", "/homeaffairs/"),
            ("Home Affairs, agencies city-wide", "noivu", "/homeaffairs/?level=agency"),
            ("Home Affairs, district drill-down", "noivu", "/homeaffairs/unit/__D1__"),
            ("Home Affairs, agency drill-down", "noivu", f"/homeaffairs/agency/__{big}__"),
            ("Home Affairs XLSX export", "noivu", "/homeaffairs/export.xlsx"),
            ("period report (HTML)", "noivu", "/homeaffairs/report/"),
        ]
    return out


def _resolve(url: str) -> str:
    """Ids in URLs: __D1__ → the unit's id, __UBND-D1__ → the agency's id."""
    import re

    from sqlalchemy import select

    def repl(m: re.Match[str]) -> str:
        code = m.group(1)
        model = Agency if "-" in code else Unit
        return str(db.session.scalar(select(model.id).where(model.code == code)))

    return re.sub(r"__([A-Z][A-Z0-9-]*)__", repl, url)


def rss_mb() -> float:
    """Resident set size of this process now (MB): what one serving worker holds (pages shared with other
    processes, e.g. month files mapped by every worker, counted whole)."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """The highest RSS this process reached (MB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _p(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    v = sorted(values)
    return v[min(len(v) - 1, round(q * (len(v) - 1)))]


def new_responses(points: list[int], qvs: dict[str, int], rng: np.random.Generator) -> None:
    """Two citizens answer (one per questionnaire), in the last month: what a live system sees between requests."""
    from survey.respond.store import Submission, store_response

    for name, answers in (("counter-quick", {"C.ATT": 2, "C.HANDLING": 3}),
                          ("sipas-2017", {"E1.1": 4, "E3.1": 5, "OVERALL.SAT": 4})):
        store_response(db.session, Submission(
            service_point_id=int(rng.choice(points)), questionnaire_version_id=qvs[name], answers=answers,
            channel="paper", client_id=str(uuid.uuid4()), submitted_at=datetime(2024, 12, 20, 3, tzinfo=UTC)))


def time_pages(app, repeat: int, mode: str, page_list: list[tuple[str, str, str]] | None = None
               ) -> list[tuple[str, float, float, float, float]]:
    """mode: cold (results cache off), live (cache on, two new responses before every request), warm.
    page_list: (label, user, url) of the pages to time (default: `pages(app)`)."""
    from sqlalchemy import select

    from survey.questionnaire_versions.models import QuestionnaireVersion
    from survey.results import cache as results_cache

    app.config["HAILONG_RESULTS_CACHE"] = mode != "cold"
    results_cache.clear()
    qvs = dict(db.session.execute(select(QuestionnaireVersion.instrument, QuestionnaireVersion.id)).all())
    points = list(db.session.scalars(select(ServicePoint.id)))
    rng = np.random.default_rng(5)
    sipas = loaded_sipas()
    results = []
    clients = {}
    for label, user, url in page_list if page_list is not None else pages(app):
        url = _resolve(url.replace("__sipas__", str(sipas)))
        if user not in clients:
            clients[user] = app.test_client()
            _login(clients[user], user)
        client = clients[user]
        times, cpu = [], []
        if mode != "cold":  # a running server has served this page before (or warmed up at start, prewarm.py)
            from flask import g

            for k in ("_login_user", "_flask_babel"):  # as every real request starts: no user from the last one
                g.pop(k, None)
            db.session.remove()
            client.get(url)
        for _ in range(repeat):
            from flask import g

            for k in ("_login_user", "_flask_babel"):
                g.pop(k, None)
            if mode == "live":
                new_responses(points, qvs, rng)
            db.session.remove()
            t0, c0 = time.perf_counter(), time.process_time()
            resp = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            assert resp.status_code in (200, 302), (url, resp.status_code)
        p50, p95 = _p(times, 0.5), _p(times, 0.95)
        c50, c95 = _p(cpu, 0.5), _p(cpu, 0.95)
        results.append((label, p50, p95, c50, c95))
        print(f"    | {label:34s} | {p50:7.1f} | {p95:7.1f} | {c50:7.1f} | {c95:7.1f} |", flush=True)
    return results


def run(kind: str, url: str, n: int, repeat: int, *, reuse: bool = False, design: str | None = None,
        modes: tuple[str, ...] = ("cold", "live", "warm")) -> dict[str, list]:
    print(f"== {kind}: {n:,} responses ({url.split('@')[-1]})", flush=True)
    if not reuse:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
    from survey.results import cache as results_cache
    from survey.results import month_cells

    print(f"  design: {design or 'the default'}", flush=True)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True, "RATELIMIT_ENABLED": False,
                      **({"HAILONG_DESIGN": design} if design else {}),
                      "WTF_CSRF_ENABLED": True})
    with app.app_context():
        if not reuse:
            load(db.session, n)
        if kind == "postgresql":
            with db.engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
        out = {}
        titles = {"cold": "cold: results cache off, every request runs every GROUP BY and estimate",
                  "live": "live: cache on, two new responses stored before every request",
                  "warm": "warm: cache on, no new responses (repeated identical requests)"}
        for mode in modes:
            print(f"  {titles[mode]} ({repeat} requests each):")
            print("    | page | wall p50 (ms) | wall p95 (ms) | app CPU p50 (ms) | app CPU p95 (ms) |")
            print("    |---|---|---|---|---|")
            out[mode] = time_pages(app, repeat, mode)
            print(f"  RSS of this process after {mode}: {rss_mb():.0f} MB, peak {peak_rss_mb():.0f} MB "
                  f"(results cache {results_cache.held_bytes() / 2**20:.0f} MB, "
                  f"month cells {month_cells.held_bytes() / 2**20:.0f} MB; "
                  f"load average {os.getloadavg()[0]:.1f})", flush=True)
        db.session.remove()
        db.engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--responses", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--pg", default=os.environ.get("HAILONG_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--keep", metavar="NAME", help="keep the loaded databases (/tmp/NAME.sqlite, database NAME)")
    ap.add_argument("--reuse", metavar="NAME", help="time the databases kept earlier with --keep NAME (no loading)")
    ap.add_argument("--design", choices=["counters", "clusters"], help="sampling design (default: the app's)")
    ap.add_argument("--modes", default="cold,live,warm", help="comma-separated subset of cold,live,warm")
    args = ap.parse_args()
    name = args.reuse or args.keep or f"hailong_bench_{os.getpid()}"
    keep = bool(args.keep or args.reuse)
    if args.db in ("sqlite", "both"):
        path = Path("/tmp") / f"{name}.sqlite"
        if not args.reuse:
            path.unlink(missing_ok=True)
        try:
            run("sqlite", f"sqlite:///{path}", args.responses, args.repeat, reuse=bool(args.reuse), design=args.design,
                modes=tuple(args.modes.split(",")))
        finally:
            if not keep:
                path.unlink(missing_ok=True)
    if args.db in ("postgresql", "both"):
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        if not args.reuse:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run("postgresql", args.pg.rsplit("/", 1)[0] + "/" + name, args.responses, args.repeat,
                reuse=bool(args.reuse), design=args.design, modes=tuple(args.modes.split(",")))
        finally:
            if not keep:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
