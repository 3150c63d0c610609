"""Period report PDF: seconds to build the PDF of one questionnaire and period on the 2022 demo.

    .venv/bin/python benchmarks/report_pdf_bench.py [--responses 20000] [--repeat 3] [--keep DIR] [--published]

Loads the demo (SQLite, temporary file), logs in as noivu and downloads /homeaffairs/report/report.pdf for
counter-quick and sipas-2017 (each at its default period), `--repeat` times; prints the first time (cold:
figures computed, PDF laid out by survey/dashboard/report_pdf_layout.py) and the best later one (the PDF
served from the store in the temporary instance folder, survey/dashboard/report_pdf.py), each also as CPU
seconds of this process (a busy machine inflates them far less than wall-clock time), the page count and the
size.  With --published each
period is first published as Home Affairs (publication pre-renders its PDF in both languages in the
background; the time until both are stored is printed), so the first download is the published report's.
Goal (issue 12): <= 2 s.
Figures go to benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--responses", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="write the PDFs into this folder")
    ap.add_argument("--published", action="store_true", help="publish each period first, then download")
    args = ap.parse_args(argv)

    from pypdf import PdfReader
    from sqlalchemy import select

    from survey import create_app
    from survey.database import make_engine
    from survey.demo.load import load_demo
    from survey.extensions import db
    from survey.migrate import upgrade
    from survey.questionnaire_versions.models import QuestionnaireVersion

    with tempfile.TemporaryDirectory(prefix="hailong-pdf-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        upgrade(make_engine(url))
        app = create_app({"TESTING": False, "DATABASE_URL": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                          "RATELIMIT_ENABLED": False, "HAILONG_PREWARM": 0, "HAILONG_INSTANCE": tmp})
        with app.app_context():
            started = time.perf_counter()
            load_demo(db.session, "2022", responses=args.responses)
            db.session.commit()
            print(f"demo loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            versions = {qv.instrument: qv.id for qv in db.session.scalars(select(QuestionnaireVersion))
                        if qv.instrument in ("counter-quick", "sipas-2017")}
        client = app.test_client()
        resp = client.post("/auth/login", data={"username": "noivu", "password": "demo-noivu-2022"})
        assert resp.status_code == 302, resp.status_code
        first = "first s" if args.published else "cold s"
        print(f"{'questionnaire':<15} {first:>8} {'cpu s':>6} {'stored s':>8} {'cpu s':>6} {'pages':>6} {'kB':>6}")
        for instrument in ("counter-quick", "sipas-2017"):
            if args.published:
                _publish(app, client, versions[instrument], Path(tmp) / "report-pdf")
            times, cpu = [], []
            data = b""
            for _ in range(args.repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                resp = client.get(f"/homeaffairs/report/report.pdf?questionnaire={versions[instrument]}")
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
                assert resp.status_code == 200, (instrument, resp.status_code)
                data = resp.data
            pages = len(PdfReader(io.BytesIO(data)).pages)
            name = re.search(r"filename\*=UTF-8''(.*)$", resp.headers["Content-Disposition"])
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                (args.keep / f"{instrument}.pdf").write_bytes(data)
            stored = f"{min(times[1:]):>8.2f} {min(cpu[1:]):>6.2f}" if len(times) > 1 else f"{'-':>8} {'-':>6}"
            print(f"{instrument:<15} {times[0]:>8.2f} {cpu[0]:>6.2f} {stored} {pages:>6} {len(data) / 1024:>6.0f}"
                  f"  {name.group(1) if name else ''}")
    return 0


def _publish(app, client, version_id: int, store: Path) -> None:
    """Publish the default period as the report page's form does; wait until its two PDFs are stored."""
    import html

    page = client.get(f"/homeaffairs/report/?questionnaire={version_id}").get_data(as_text=True)
    action = re.search(r'action="(/homeaffairs/report/publish\?[^"]*)"', page)
    assert action, "no publish form on the report page"
    before = len(list(store.glob("*.pdf"))) if store.exists() else 0
    app.config["HAILONG_PREWARM"] = 1  # only for the POST: publishing pre-renders, the page above did not
    t0 = time.perf_counter()
    resp = client.post(html.unescape(action.group(1)), data={"reason": "benchmark"})
    app.config["HAILONG_PREWARM"] = 0
    assert resp.status_code in (302, 303), resp.status_code
    posted = time.perf_counter() - t0
    while len(list(store.glob("*.pdf"))) < before + 2:
        time.sleep(0.2)
    print(f"published in {posted:.2f} s; both PDFs stored {time.perf_counter() - t0:.1f} s after the click",
          file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
