"""Fault drill: kiosks keep posting while a gunicorn worker and then the master are killed with SIGKILL.

    .venv/bin/python benchmarks/fault_drill.py [--seconds 30] [--kiosks 40] [--pg postgresql+psycopg://…/test]

Kiosk emulators (threads, traffic only to 127.0.0.1) behave like kiosk.js: each response keeps its client_id
until the server answers 201/200; on 429/503 they wait Retry-After, on a connection error they back off and
resend.  Timeline: at 1/4 of the run one worker gets SIGKILL (the master replaces it); at 1/2 the master
gets SIGKILL and a new master is started at once while the orphaned workers may still hold the port — with
`reuse_port` (deploy/gunicorn.conf.py) it must bind and serve (under systemd, KillMode=mixed also ends the
orphans).  Then the queues drain and the database is checked: every response generated is stored exactly
once, and the count tables equal a recount.  Prints the answers seen by status (a 500 is a failure).
With `--db-outage N` (only where this PostgreSQL may be stopped: it stops the local cluster with pg_ctlcluster),
at 3/4 of the run PostgreSQL is stopped for N seconds and started again: the answers during the outage must be
503 with Retry-After (never 500), and the kiosks' resends after it are stored once.  Without it the 503 path is
tested with an unreachable database in tests/ops/test_unavailable.py.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ingest_bench import DB_NAME, REDIS, _free_port, setup_database, verify  # noqa: E402

LOGS: list[Path] = []  # each master's stderr (gunicorn and app log), read at the end


def start_master(url: str, port: int) -> subprocess.Popen:
    """gunicorn with deploy/gunicorn.conf.py at its defaults (workers by cores, 4 threads each, preloaded app and
    warm-up): only the database, secret, Redis, kiosk interval and port are set."""
    env = {k: v for k, v in os.environ.items() if k not in ("WEB_CONCURRENCY", "HAILONG_THREADS", "HAILONG_PREWARM",
                                                            "HAILONG_PRELOAD")}
    env.update({"DATABASE_URL": url, "SECRET_KEY": "drill-" + "x" * 40, "RATELIMIT_STORAGE_URI": REDIS,
                "HAILONG_KIOSK_MIN_INTERVAL_SECONDS": "1", "HAILONG_BIND": f"127.0.0.1:{port}"})
    log = Path(tempfile.mkdtemp(prefix="fault-drill-")) / "stderr.log"
    LOGS.append(log)
    with log.open("w") as err:  # a file, not a pipe: a pipe nobody reads would block the master once full
        return subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-c", str(ROOT / "deploy/gunicorn.conf.py"),
                                 "--log-level", "warning", "--access-logfile", "/dev/null", "wsgi:app"],
                                cwd=ROOT, env=env, start_new_session=True, stderr=err, text=True)


class Kiosk(threading.Thread):
    def __init__(self, port: int, credentials: list[str], items: list[str], stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port, self.credentials, self.items, self.stop = port, credentials, items, stop
        self.generated: list[str] = []
        self.acked: set[str] = set()
        self.statuses: Counter[str] = Counter()
        self.queue: list[dict] = []

    def _post(self, body: dict, credential: str) -> tuple[int | None, float]:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
            conn.request("POST", "/api/v1/responses", json.dumps(body),
                         {"Content-Type": "application/json", "Authorization": f"Kiosk {credential}"})
            resp = conn.getresponse()
            resp.read()
            retry = float(resp.headers.get("Retry-After") or 1)
            conn.close()
            return resp.status, retry
        except OSError:
            return None, 1.0

    def run(self) -> None:
        turn = 0
        while not (self.stop.is_set() and not self.queue):
            if not self.stop.is_set() and len(self.queue) < 3:
                body = {"client_id": str(uuid.uuid4()), "questionnaire": "counter-quick", "version": 1,
                        "submitted_at": datetime.now(UTC).isoformat(), "language": "vi",
                        "answers": {code: 1 + (turn + i) % 3 for i, code in enumerate(self.items)}}
                self.queue.append(body)
                self.generated.append(body["client_id"])
            body = self.queue[0]
            credential = self.credentials[turn % len(self.credentials)]
            turn += 1
            status, retry = self._post(body, credential)
            self.statuses[str(status)] += 1
            if status in (200, 201):
                self.acked.add(body["client_id"])
                self.queue.pop(0)
            elif status in (429, 503):
                time.sleep(min(retry, 2.0))
            elif status is None:
                time.sleep(0.5)
            else:  # 400/500: never acceptable; drop it, it will show as a failure
                self.queue.pop(0)


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cluster(action: str) -> None:
    """Stop or start the machine's one PostgreSQL cluster (Debian's pg_ctlcluster, as the README starts it)."""
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action, *(["-m", "fast"]
                    if action == "stop" else [])], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--kiosks", type=int, default=40)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--db-outage", type=float, default=0.0,
                    help="stop the local PostgreSQL cluster (pg_ctlcluster) this many seconds at 3/4 of the run")
    args = ap.parse_args()
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    url = args.pg.rsplit("/", 1)[0] + "/" + DB_NAME
    masters: list[subprocess.Popen] = []
    orphans: list[int] = []
    try:
        creds, _instrument, _version, items = setup_database(url, args.kiosks)
        port = _free_port()
        masters.append(start_master(url, port))
        load = os.getloadavg()
        print(f"gunicorn -c deploy/gunicorn.conf.py at its defaults ({os.cpu_count()} cores); load average "
              f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        time.sleep(8)
        stop = threading.Event()
        # 4 emulators, each cycling 10 credentials: every kiosk posts at most about once a second
        kiosks = [Kiosk(port, creds[i::4], items, stop) for i in range(4)]
        for k in kiosks:
            k.start()
        time.sleep(args.seconds / 4)
        victim = children(masters[-1].pid)[0]
        os.kill(victim, signal.SIGKILL)
        print(f"t={args.seconds / 4:.0f}s: SIGKILL worker {victim}")
        time.sleep(args.seconds / 4)
        old = masters[-1]
        orphans = children(old.pid)
        os.kill(old.pid, signal.SIGKILL)
        old.wait()
        masters.append(start_master(url, port))
        print(f"t={args.seconds / 2:.0f}s: SIGKILL master {old.pid} (orphaned workers {orphans}); new master "
              f"{masters[-1].pid} started at once")
        time.sleep(args.seconds / 4)
        if args.db_outage:
            before = sum((k.statuses for k in kiosks), Counter())
            _cluster("stop")
            print(f"t={3 * args.seconds / 4:.0f}s: PostgreSQL stopped for {args.db_outage:g} s")
            time.sleep(args.db_outage)
            _cluster("start")
            during = sum((k.statuses for k in kiosks), Counter()) - before
            print(f"PostgreSQL started again; answers while it was down: {dict(during)}")
        time.sleep(args.seconds / 4)
        alive = masters[-1].poll() is None
        err = "" if alive else LOGS[-1].read_text()[-300:]
        print(f"new master {'serving' if alive else 'EXITED: ' + err}")
        stop.set()
        for k in kiosks:
            k.join(timeout=120)
        statuses = sum((k.statuses for k in kiosks), Counter())
        generated = [c for k in kiosks for c in k.generated]
        acked = set().union(*(k.acked for k in kiosks))
        left = sum(len(k.queue) for k in kiosks)
        print(f"answers seen: {dict(statuses)} (None = connection refused/reset while a process was down)")
        print(f"generated {len(generated)}, acknowledged {len(acked)}, still queued {left}; load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        logged = "".join(log.read_text() for log in LOGS)
        tracebacks = logged.count("Traceback")
        outage_lines = sum("database unavailable" in line.lower() for line in logged.splitlines())
        print(f"server log: {len(logged.splitlines())} lines, {tracebacks} tracebacks, {outage_lines} lines "
              "saying the database is unavailable")
        failures = verify(url, sorted(acked), connections=0)
        if tracebacks:
            failures.append(f"{tracebacks} tracebacks in the server log")
        if not alive:
            failures.append("the restarted master did not keep serving")
        if statuses.get("500"):
            failures.append(f"{statuses['500']} answers were 500")
        if left or len(acked) != len(generated):
            failures.append("some responses were never acknowledged")
        for f in failures:
            print(f"FAIL: {f}")
        print("OK: 0 lost, 0 duplicated, no 500, master restarted cleanly" if not failures else "FAILED")
        if failures:
            sys.exit(1)
    finally:
        for m in masters:
            if m.poll() is None:
                os.killpg(m.pid, signal.SIGTERM)
                m.wait(timeout=40)
        for pid in orphans:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        admin.dispose()  # its pooled connection died with a --db-outage restart
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
