"""What one serving process's results cache holds across the national pages, and whether they stay warm.

    .venv/bin/python benchmarks/results_cache_bench.py --reuse NAME [--results-mb MB] [--rounds 2]

NAME is a database kept by `benchmarks/national_bench.py --keep NAME` (e.g. `--responses 30000`).  In ONE
process (as one worker serves them), every page of national_bench.py is requested once per round; per request:
app CPU, results-cache misses and hits, SQL statements and how many of them read the data version (the newest
response), and what the cache holds afterwards — the page results and the material they were built from
(survey/results/cache.py: material is evicted first) — and the closed-months cache beside it.  A page whose
request in the second round misses was evicted by the others: the budget is too small for these pages.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

NEWEST = re.compile(r"FROM response ORDER BY response\.id DESC", re.I)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reuse", required=True, metavar="NAME")
    ap.add_argument("--results-mb", type=int, default=0, help="HAILONG_RESULTS_CACHE_MB (default: the app's)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--pg", default=os.environ.get("HAILONG_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args()

    import national_bench as nb
    from flask import g
    from sqlalchemy import event

    from survey import create_app
    from survey.extensions import db
    from survey.results import cache, closed_months

    url = args.pg.rsplit("/", 1)[0] + "/" + args.reuse
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True, "RATELIMIT_ENABLED": False,
                      "WTF_CSRF_ENABLED": True, "HAILONG_MONTH_CELLS_DIR": "off",
                      **({"HAILONG_RESULTS_CACHE_MB": args.results_mb} if args.results_mb else {})})
    statements: list[str] = []
    print(f"results budget {cache.MAX_BYTES // 2**20 if not args.results_mb else args.results_mb} MB; "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| round | page | app CPU (ms) | misses | hits | SQL statements | data-version reads | results held (MB) "
          "| of it material (MB) | closed months (MB) | load |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute",
                     lambda conn, cursor, statement, *rest: statements.append(statement))
        clients = {}
        for rnd in range(1, args.rounds + 1):
            for label, user, page in nb.loaded_pages(app):
                if user not in clients:
                    clients[user] = app.test_client()
                    nb.dash._login(clients[user], user)
                for k in ("_login_user", "_flask_babel"):
                    g.pop(k, None)
                db.session.remove()
                before = dict(cache.STATS)
                statements.clear()
                c0 = time.process_time()
                resp = clients[user].get(nb.dash._resolve(page))
                cpu = (time.process_time() - c0) * 1000
                assert resp.status_code == 200, (page, resp.status_code)
                delta = {k[1]: v - before.get(k, 0) for k, v in cache.STATS.items() if k[0] == "results"}
                material = sum(cache._sizes.get(k, 0) for k in list(cache._inner))
                versions = sum(1 for s in statements if NEWEST.search(" ".join(s.split())))
                print(f"| {rnd} | {label} | {cpu:,.0f} | {delta.get('miss', 0)} | {delta.get('hit', 0)} | "
                      f"{len(statements)} | {versions} | {cache.held_bytes() / 2**20:,.0f} | {material / 2**20:,.0f} | "
                      f"{closed_months._held / 2**20:,.0f} | {os.getloadavg()[0]:.1f} |", flush=True)
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
