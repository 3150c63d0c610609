"""Memory of a real multi-worker gunicorn after every dashboard page (issue 14 §4: 4 workers ≤ 1.5 GB at 1 M).

    .venv/bin/python benchmarks/workers_memory_bench.py --reuse NAME [--workers 4]
        [--set HAILONG_PRELOAD=0] [--set HAILONG_RESULTS_CACHE_MB=64 ...] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--instance DIR]   # a folder an earlier run left: a restart (month files, stored topics); default new

NAME is a PostgreSQL database loaded by `benchmarks/dashboard_bench.py --db postgresql --keep NAME`.  The
script starts `gunicorn -c deploy/gunicorn.conf.py wsgi:app` (the production settings and entry point: the app
preloaded in the master unless HAILONG_PRELOAD=0, the start-up warm-up in every worker, month files and
stored comment topics in a fresh instance folder — a new machine — or in --instance DIR; until 7 Dec 2026
10:00 they went to the app's default instance folder, which an earlier run had filled) with --workers
workers, prints when the port first answered (the master's start: imports and its warm-up), logs
in over HTTP as each role of the benchmark (Home Affairs, unit manager, agency viewer), then requests every
page of `dashboard_bench.pages` in concurrent batches until EVERY worker has served it (the worker is read
from the access log, whose format here adds the worker's pid).  Then, per process (master and workers):
- RSS (resident pages, shared ones counted in every process that maps them),
- PSS (proportional: a page shared by k processes counts 1/k in each; the sum over the processes is the
  memory the app really occupies) and its anonymous/file split, USS (private pages), peak RSS (VmHWM),
all from /proc/PID/smaps_rollup and /proc/PID/status.  The sum of PSS is the figure to hold against a budget;
the sum of RSS over-counts what the workers share (copy-on-write pages after fork, mapped month files,
shared libraries).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

FIELDS = ("Rss", "Pss", "Pss_Anon", "Pss_File", "Private_Clean", "Private_Dirty")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _page_urls(url: str) -> list[tuple[str, str, str]]:
    """(label, user, path) of every dashboard benchmark page, ids resolved in the database."""
    import dashboard_bench as dash

    from survey import create_app
    from survey.extensions import db

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True, "HAILONG_MONTH_CELLS_DIR": "off"})
    with app.app_context():
        sipas = dash.loaded_sipas()
        out = [(label, user, dash._resolve(path.replace("__sipas__", str(sipas))))
               for label, user, path in dash.pages(app)]
        db.session.remove()
        db.engine.dispose()
    return out


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as fh:
                    stat = fh.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return sorted(out)


def memory(pid: int) -> dict[str, float]:
    """MB per smaps_rollup field of FIELDS, USS (private pages) and the peak RSS (VmHWM)."""
    kb: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 3 and parts[0].rstrip(":") in FIELDS:
                kb[parts[0].rstrip(":")] = int(parts[1])
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    out = {k: v / 1024 for k, v in kb.items()}
    out["USS"] = (kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0)) / 1024
    out["peak RSS"] = hwm / 1024
    return out


def _login(base: str, username: str, password: str) -> requests.Session:
    s = requests.Session()
    html = s.get(f"{base}/auth/login", timeout=120).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    resp = s.post(f"{base}/auth/login", data={"username": username, "password": password, "csrf_token": token},
                  allow_redirects=False, timeout=120)
    assert resp.status_code == 302, (username, resp.status_code)
    return s


class AccessLog:
    """The gunicorn output file, read from where the last call stopped: pids of the workers that answered."""

    PID = re.compile(r'"GET (\S+) HTTP/[\d.]+" (\d{3}) .* pid=<?(\d+)')

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0

    def new(self) -> list[tuple[str, int, int]]:
        with open(self.path, encoding="utf-8", errors="replace") as fh:
            fh.seek(self.offset)
            text = fh.read()
            self.offset = fh.tell()
        return [(m.group(1), int(m.group(2)), int(m.group(3))) for m in self.PID.finditer(text)]


def drive(base: str, pages: list[tuple[str, str, str]], sessions: dict[str, requests.Session], log: AccessLog,
          workers: list[int], max_batches: int) -> None:
    """Request each page in batches of 2 × workers concurrent requests until every worker has served it."""
    batch = 2 * len(workers)
    with concurrent.futures.ThreadPoolExecutor(batch) as pool:
        for label, user, path in pages:
            served: set[int] = set()
            t0 = time.perf_counter()
            n = 0
            failed: dict[int, int] = {}
            log.new()
            for _ in range(max_batches):
                session, url = sessions[user], base + path
                codes = [r.status_code for r in pool.map(lambda _, s=session, u=url: s.get(u, timeout=300),
                                                         range(batch))]
                n += batch
                for c in codes:
                    if c != 200:  # 503: database unreachable for a moment (retried); others: a bug, shown
                        failed[c] = failed.get(c, 0) + 1
                # a worker that answered 5xx other than 503 has still done the page's work up to the failure
                served |= {pid for _, status, pid in log.new() if status != 503}
                if served >= set(workers):
                    break
            print(f"  {label:34s} {n:3d} requests, served by {len(served & set(workers))}/{len(workers)} workers "
                  f"({time.perf_counter() - t0:5.1f} s, load average {os.getloadavg()[0]:.1f})"
                  + "".join(f", {k} answered {c}" for c, k in sorted(failed.items())), flush=True)


def report(master: int, workers: list[int], title: str) -> dict[str, float]:
    print(f"\n{title} (MB; load average {os.getloadavg()[0]:.1f}):")
    print("| process | RSS | PSS | PSS anon | PSS file | USS (private) | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    total: dict[str, float] = {}
    for name, pid in [("master", master)] + [(f"worker {i + 1}", p) for i, p in enumerate(workers)]:
        m = memory(pid)
        for k, v in m.items():
            total[k] = total.get(k, 0.0) + v
        print(f"| {name} (pid {pid}) | {m['Rss']:.0f} | {m['Pss']:.0f} | {m.get('Pss_Anon', 0):.0f} | "
              f"{m.get('Pss_File', 0):.0f} | {m['USS']:.0f} | {m['peak RSS']:.0f} |")
    print(f"| **total** | {total['Rss']:.0f} | **{total['Pss']:.0f}** | {total.get('Pss_Anon', 0):.0f} | "
          f"{total.get('Pss_File', 0):.0f} | {total['USS']:.0f} | {total['peak RSS']:.0f} |", flush=True)
    return total


def main() -> None:
    import dashboard_bench as dash

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reuse", required=True, metavar="NAME", help="PostgreSQL database kept by dashboard_bench")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="extra environment for the app, e.g. HAILONG_RESULTS_CACHE_MB=64")
    ap.add_argument("--log", metavar="PATH", help="keep gunicorn's output (access log with pids, errors) there")
    ap.add_argument("--start-timeout", type=float, default=900, help="seconds to wait for the first answer")
    ap.add_argument("--instance", metavar="DIR", help="instance folder (month files, stored topics) to start with: "
                    "one an earlier run left is a restart; default a new empty one (a new machine)")
    ap.add_argument("--max-batches", type=int, default=12, help="give up on a page after this many batches")
    ap.add_argument("--pg", default=os.environ.get("HAILONG_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args()
    from survey.access_log import ACCESS_LOG_FORMAT

    url = args.pg.rsplit("/", 1)[0] + "/" + args.reuse
    pages = _page_urls(url)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="hailong-workers-") as tmp:
        out = Path(tmp) / "gunicorn.log"
        instance = args.instance or tmp
        # month files and stored topics in that folder (by default they go to the app's own instance folder,
        # which a run left filled for the next: not a new machine)
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": os.urandom(32).hex(), "HAILONG_INSTANCE": instance,
               "HAILONG_MONTH_CELLS_DIR": os.path.join(instance, "month-cells"),
               "WEB_CONCURRENCY": str(args.workers), "HAILONG_BIND": f"127.0.0.1:{port}",
               **dict(s.split("=", 1) for s in args.set)}
        cmd = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
               "--access-logformat", ACCESS_LOG_FORMAT + " pid=%(p)s", "wsgi:app"]
        print(f"gunicorn, {args.workers} workers, preload_app {'off' if env.get('HAILONG_PRELOAD') == '0' else 'on'}, "
              f"database {args.reuse}"
              f"{', ' + ' '.join(args.set) if args.set else ''}", flush=True)
        with open(out, "w", encoding="utf-8") as fh:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
        try:
            t0 = time.perf_counter()
            while True:
                try:
                    if requests.get(f"{base}/healthz", timeout=30).status_code == 200:
                        break
                except (requests.ConnectionError, requests.Timeout):  # bound, workers still importing
                    pass
                # the master warms up with the port bound, before forking: on a new machine it also classifies the
                # comments (survey/results/prewarm.py), minutes at a high load average
                if proc.poll() is not None or time.perf_counter() - t0 > args.start_timeout:
                    sys.stderr.write(out.read_text()[-3000:])
                    raise SystemExit("gunicorn did not start")
                time.sleep(0.5)
            workers = _children(proc.pid)
            # the first answered: forking on
            while len(workers) < args.workers and time.perf_counter() - t0 < args.start_timeout + 60:
                time.sleep(0.2)
                workers = _children(proc.pid)
            assert len(workers) == args.workers, workers
            print(f"listening after {time.perf_counter() - t0:.1f} s; workers {workers}", flush=True)
            report(proc.pid, workers, "after start-up (the warm-up threads may still run)")
            sessions = {user: _login(base, user, dash.PASSWORD) for user in sorted({u for _, u, _ in pages})}
            print("\nevery page until every worker has served it:")
            drive(base, pages, sessions, AccessLog(out), workers, args.max_batches)
            time.sleep(2)
            assert _children(proc.pid) == workers, "a worker was replaced during the run"
            report(proc.pid, workers, f"after every page through all {args.workers} workers")
        finally:
            errors = [line for line in out.read_text(errors="replace").splitlines()
                      if "ERROR" in line or "WARNING" in line or "Traceback" in line]
            if errors:
                print("\ngunicorn's log, errors and warnings:\n" + "\n".join(errors[-20:]))
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
            if args.log:
                Path(args.log).write_bytes(out.read_bytes())


if __name__ == "__main__":
    main()
