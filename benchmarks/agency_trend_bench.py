"""CPU per agency page with the trend's periods as domains of one span (A, before) or with strata = service
point × period (B, now: docs/methodology-design.md, "One period, one interval"), in one process, alternated.

    DATABASE_URL=sqlite:////tmp/demo.sqlite nice -n 10 .venv/bin/python benchmarks/agency_trend_bench.py \
        [--agency UB-NK] [--questionnaire counter-quick:3] [--from 2021-01] [--to 2022-12] [--repeat 15]

On a database loaded by `flask --app wsgi demo` (20,000 responses over 2021–2022).  A is the code before the
change, switched in by making `survey.results.design.period_stratum` answer None (no period splits the strata:
the trend's periods are domains of the range's design again); B is the code as shipped.  Cold: results cache
off and every cache cleared before the request (every GROUP BY and estimate runs); warm: cache on, the same
request answered once untimed, then timed.  Process CPU time per request (the machine is shared: wall time
follows the load), medians and the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from survey import create_app
from survey.demo.users import DEMO_USERS
from survey.results import cache
from survey.results import design as design_module
from survey.results import totals as totals_module
from tests.dashboard.helpers import forget_user, login

SHIPPED = design_module.period_stratum


def _no_split(dom: tuple[str, ...]) -> str | None:
    return None


def use(variant: str) -> None:
    """A: periods as domains of the span (before); B: strata split by period (now)."""
    fn = _no_split if variant == "A" else SHIPPED
    design_module.period_stratum = fn  # type: ignore[assignment]
    totals_module.period_stratum = fn  # type: ignore[attr-defined]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agency", default="UB-NK")
    ap.add_argument("--questionnaire", default="counter-quick:3")
    ap.add_argument("--from", dest="first", default="2021-01")
    ap.add_argument("--to", dest="last", default="2022-12")
    ap.add_argument("--trend", default="month")
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    app = create_app()
    instrument, version = args.questionnaire.split(":")
    client = app.test_client()
    with app.app_context():
        from sqlalchemy import select

        from survey.extensions import db
        from survey.questionnaire_versions.models import QuestionnaireVersion

        qv = db.session.scalar(select(QuestionnaireVersion.id).where(QuestionnaireVersion.instrument == instrument,
                                                                     QuestionnaireVersion.version == int(version)))
        admin = next(u for u in DEMO_USERS if u.role == "admin")
        assert login(client, admin.username, admin.password).status_code == 302
        url = (f"/dashboard/agency/{args.agency}?questionnaire={qv}&from={args.first}&to={args.last}"
               f"&trend={args.trend}")

        def timed() -> float:
            forget_user()
            start = time.process_time()
            resp = client.get(url)
            spent = time.process_time() - start
            assert resp.status_code == 200, resp.status_code
            return spent * 1000

        print(f"{url}  load before: {os.getloadavg()}")
        out: dict[tuple[str, str], list[float]] = {}
        for mode in ("cold", "warm"):
            app.config["HAILONG_RESULTS_CACHE"] = 0 if mode == "cold" else 1
            for i in range(args.repeat):
                for variant in ("A", "B") if i % 2 == 0 else ("B", "A"):
                    use(variant)
                    cache.clear()
                    if mode == "warm":
                        timed()  # answered once before: what a serving process has cached
                    out.setdefault((mode, variant), []).append(timed())
        use("B")
        print(f"load after: {os.getloadavg()}")
        for (mode, variant), ms in sorted(out.items()):
            label = "A (periods as domains of the span)" if variant == "A" else "B (strata = point x period)"
            print(f"{mode:5} {label:38} median {statistics.median(ms):7.1f} ms CPU  "
                  f"(min {min(ms):.1f}, max {max(ms):.1f}, n = {len(ms)})")


if __name__ == "__main__":
    main()
