"""The first page a serving process answers after a restart, at 1 M responses (issue 14 §4).

    .venv/bin/python benchmarks/cold_start_bench.py --reuse NAME [--repeat 3] [--db postgresql|sqlite]

NAME is a database loaded by `benchmarks/dashboard_bench.py --keep NAME`.  A logged-in session cookie is made
once; then each measurement starts a NEW Python process that creates the app (as a gunicorn worker does, no
start-up warm-up), sends that cookie and times its very first request: wall and CPU time, and the process's
RSS afterwards; the process's start (imports, app, warm-up) in wall and CPU time.  Two situations:
- `no files`: nothing but the database (HAILONG_MONTH_CELLS_DIR=off): every month's Gram cells are read
  from the database — what the issue measured (~2.6 s);
- `month files`: the decoded month cells an earlier process wrote (survey/results/month_files.py) are on
  local disk, the data unchanged since — a restart;
- `month files, 1 new response`: as above, but a response arrived while the process was down: the month it
  changed is read from the database again, the others from disk;
- `…, warm-up at start`: the process first runs its start-up warm-up (survey/results/prewarm.py, in a
  serving process a background thread started with the app) to its end; its time is in the "process start"
  column: how long after a restart the first page is as fast as the "wall" column says;
- `preloaded: new machine`: as `preloaded: month files` on a machine that has never served: the folder for
  month files and stored comment topics is on but empty (a new one for each process), so the master's warm-up
  builds them;
- `preloaded: …`: what gunicorn does with deploy/gunicorn.conf.py (preload_app): the process runs the
  master's warm-up (`prewarm.before_fork`, called by its `when_ready` hook) — its time is in the "process
  start" column, while no worker exists yet, so no request waits for it — then FORKS; the child drops the pool state as
  `post_fork` does, starts the worker's own warm-up thread as `post_worker_init` does, and at once times
  its first request (a request arriving while that thread runs).  CPU is the request thread's own
  (`time.thread_time`), the warm-up thread's CPU is not in it; `…, no worker warm-up` leaves the thread
  out, to show whether a request beside it is slower.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

SITUATIONS = {  # situation → how the process warms up (child's `warm`)
    "no files": "0", "month files": "0", "month files, 1 new response": "0",
    "no files, warm-up at start": "1", "month files, warm-up at start": "1",
    "preloaded: no files": "fork", "preloaded: month files": "fork",
    "preloaded: month files, 1 new response": "fork", "preloaded: month files, no worker warm-up": "fork-quiet",
    "preloaded: new machine": "fork",
}
DEFAULT = ("no files;month files;month files, 1 new response;preloaded: no files;preloaded: month files;"
           "preloaded: month files, 1 new response;preloaded: month files, no worker warm-up")
PAGES = [("agency page, SIPAS", "/dashboard/agency/UBND-D1?questionnaire=__sipas__"),
         ("Home Affairs index", "/homeaffairs/")]


def _config(url: str, files: str) -> dict[str, object]:
    return {"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True, "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": True, "HAILONG_MONTH_CELLS_DIR": files}


def child(url: str, files: str, page: str, cookie: str, warm: str = "0") -> None:
    """One fresh process: create the app, send the session cookie, time the first request; print JSON.
    warm = "1": first run the start-up warm-up (survey/results/prewarm.py) to its end, timed as part of boot;
    "fork" / "fork-quiet": the preloaded gunicorn master's warm-up, then a forked worker (module docstring)."""
    import resource

    t_start = time.perf_counter()
    from survey import create_app
    from survey.results import prewarm

    app = create_app(_config(url, files))
    if warm == "1":
        prewarm.prewarm(app)
    elif warm.startswith("fork"):
        prewarm.before_fork(app)
    boot = time.perf_counter() - t_start
    # CPU so far: imports, app, warm-up, with the processes the warm-up forked and waited for (classifying)
    boot_cpu = time.process_time() + os.times().children_user + os.times().children_system
    worker = None
    if warm.startswith("fork"):
        import gc
        import threading

        gc.freeze()  # deploy/gunicorn.conf.py: pre_fork
        read, write = os.pipe()
        worker = os.fork()
        if worker:  # the master: wait for the worker's figures
            os.close(write)
            with os.fdopen(read) as pipe:
                print(pipe.read().strip())
            os.waitpid(worker, 0)
            return
        os.close(read)
        from survey.extensions import db

        db.engine.dispose(close=False)  # post_fork
        if warm == "fork":  # post_worker_init: the worker's own warm-up thread (app.testing: started by hand)
            threading.Thread(target=prewarm.prewarm, args=(app,), daemon=True).start()
    client = app.test_client()
    client.set_cookie("session", cookie)
    with app.app_context():
        t0, c0, r0 = time.perf_counter(), time.process_time(), time.thread_time()
        resp = client.get(page)
        wall, cpu, own = time.perf_counter() - t0, time.process_time() - c0, time.thread_time() - r0
    assert resp.status_code == 200, (page, resp.status_code)
    out = json.dumps({"wall": wall * 1000, "cpu": (own if worker == 0 else cpu) * 1000, "boot": boot * 1000,
                      "boot_cpu": boot_cpu * 1000,
                      "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    if worker == 0:  # the forked worker: hand the figures to the master and end at once
        os.write(write, out.encode())
        os._exit(0)
    print(out)


def _cookie_and_urls(url: str) -> tuple[str, list[tuple[str, str]]]:
    import dashboard_bench as dash

    from survey import create_app
    from survey.extensions import db

    app = create_app(_config(url, "off"))
    with app.app_context():
        client = app.test_client()
        dash._login(client, "noivu")
        cookie = client.get_cookie("session").value
        sipas = dash.loaded_sipas()
        pages = [(label, dash._resolve(p.replace("__sipas__", str(sipas)))) for label, p in PAGES]
        db.session.remove()
        db.engine.dispose()
    return cookie, pages


def _run(url: str, files: str, page: str, cookie: str, warm: str = "0") -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", url, files, page, cookie, warm],
                         capture_output=True,
                         text=True, check=False,
                         # the master's warm-up reads the setting (app.testing keeps `start` off anyway)
                         env={**os.environ, "HAILONG_PREWARM": "1" if warm.startswith("fork") else "0"})
    if out.returncode:
        sys.stderr.write(out.stderr[-3000:])
        raise SystemExit(out.returncode)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _new_response(url: str) -> None:
    import dashboard_bench as dash
    import numpy as np
    from sqlalchemy import select

    from survey import create_app
    from survey.extensions import db
    from survey.org.models import ServicePoint
    from survey.questionnaire_versions.models import QuestionnaireVersion

    app = create_app(_config(url, "off"))
    with app.app_context():
        qvs = dict(db.session.execute(select(QuestionnaireVersion.instrument, QuestionnaireVersion.id)).all())
        points = list(db.session.scalars(select(ServicePoint.id)))
        dash.new_responses(points, qvs, np.random.default_rng(int(time.time())))
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:7])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reuse", required=True, metavar="NAME")
    ap.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--situations", default=DEFAULT, help=f"separated by ';', of: {'; '.join(SITUATIONS)}")
    ap.add_argument("--pages", default="", help="only pages whose label contains this")
    ap.add_argument("--pg", default=os.environ.get("HAILONG_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args()
    url = (args.pg.rsplit("/", 1)[0] + "/" + args.reuse if args.db == "postgresql"
           else f"sqlite:////tmp/{args.reuse}.sqlite")
    cookie, pages = _cookie_and_urls(url)
    with tempfile.TemporaryDirectory(prefix="hailong-cells-") as files:
        print(f"first request of a new process, median of {args.repeat} processes (ms; load average "
              f"{os.getloadavg()[0]:.1f}):")
        print("| page | situation | wall | CPU | process start + warm-up (not in wall) | its CPU | peak RSS (MB) |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for label, page in [p for p in pages if args.pages in p[0]]:
            _run(url, files, page, cookie)  # an earlier process wrote the month files
            for situation in args.situations.split(";"):
                runs = []
                for _ in range(args.repeat):
                    if "1 new response" in situation:
                        _new_response(url)  # the measured process rewrites that month: the next round too
                    if "new machine" in situation:
                        with tempfile.TemporaryDirectory(prefix="hailong-new-") as empty:
                            runs.append(_run(url, empty, page, cookie, warm=SITUATIONS[situation]))
                        continue
                    runs.append(_run(url, "off" if "no files" in situation else files, page, cookie,
                                     warm=SITUATIONS[situation]))
                med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                print(f"| {label} | {situation} | {med['wall']:.0f} | {med['cpu']:.0f} | {med['boot']:.0f} | "
                      f"{med['boot_cpu']:.0f} | {med['rss']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
