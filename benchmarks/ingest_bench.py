"""Kiosk submissions per second through gunicorn on PostgreSQL, with every stored response checked.

    .venv/bin/python benchmarks/ingest_bench.py [--seconds 20] [--connections 16] [--kiosks 600]
        [--workers N] [--worker-threads N] [--conf FILE|none] [--interval 1] [--warmup 0] [--app-dir DIR]
        [--path /api/v1/responses|/healthz] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test] [--keep]

What it does:
- creates a fresh PostgreSQL database (`hailong_ingest_bench`), migrates it, loads the shipped questionnaires and a
  city with 60 agencies (one service point each), and registers + enrols `--kiosks` kiosks (10 per point);
- starts gunicorn as deployed — `-c deploy/gunicorn.conf.py` of the tree benchmarked, so by default its workers
  (one per core, at least 2), threads (HAILONG_THREADS, default 4: the gthread worker), preloading, warm-up and
  access log (to /dev/null) — with `--workers` / `--worker-threads` overriding the count of workers / threads
  (`--worker-threads 1`: sync workers) and `--conf none` giving gunicorn's own defaults (one sync worker unless
  `--workers`); the app from `--app-dir`, default this tree — point it at an exported older tree, e.g.
  `git archive HEAD | tar -x -C /tmp/before`, for an A/B run on the same machine load; per-kiosk limits ON: a
  minimum interval of `--interval` s between two responses of one kiosk and the per-kiosk API cap counted in
  Redis (db 13), as in production;
- runs wrk (Debian package `wrk`; traffic only to 127.0.0.1) for `--seconds` with `--connections`; each request
  is a new counter-quick response (random levels, a comment in 1 of 20) with a fresh client_id from the next
  kiosk of the thread's round robin, so no kiosk is asked faster than its interval at the target rate;
- prints responses/s, p50/p99 latency, the status counts, gunicorn's CPU milliseconds per request (robust
  when the machine is shared: compare A/B runs by it as well) and the CPU of the PostgreSQL server processes
  serving the workers' connections (WAL writer, checkpointer and autovacuum not counted), then verifies in the
  database that the number of stored responses equals the number of 201 answers, that no client_id is stored twice, and
  that `response_tally`, `answer_tally` and `moment_tally` equal a recount (rebuilt in a rolled-back
  transaction and compared cell by cell).
Exit status 1 when a check fails.  `--path /healthz` measures the per-request floor instead (GET, no checks).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from questionnaires.loader import load_file, shipped  # noqa: E402
from survey.migrate import upgrade  # noqa: E402
from survey.org import kiosk_service  # noqa: E402
from survey.org.models import Agency, Level, ServicePoint, Unit  # noqa: E402
from survey.questionnaire_versions.service import store_questionnaire  # noqa: E402
from survey.respond.models import AnswerTally, MomentTally, Response, ResponseTally  # noqa: E402
from survey.respond.store import rebuild_tallies  # noqa: E402

DB_NAME = "hailong_ingest_bench"
POINTS = 60
REDIS = "redis://127.0.0.1:6379/13"

LUA = r"""
local creds = {CREDS}
local items = {ITEMS}
local instrument, version, stamp = "{INSTRUMENT}", {VERSION}, "{STAMP}"
local threads = {}
local n_threads = {THREADS}
local counter = 0

local function hex(n) return string.format("%0" .. n .. "x", math.random(0, 16 ^ n - 1)) end
local function uuid4()
  return hex(4) .. hex(4) .. "-" .. hex(4) .. "-4" .. hex(3) .. "-" .. string.format("%x", math.random(8, 11))
    .. hex(3) .. "-" .. hex(6) .. hex(6)
end

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + tid * 7919 + math.floor(os.clock() * 1e6))
  statuses = {}
  pos = tid
  created = io.open("{IDS}" .. tid, "w")
  created:setvbuf("line")
end

function request()
  local cred = creds[(pos % #creds) + 1]
  pos = pos + n_threads
  local parts = {}
  for i, it in ipairs(items) do
    parts[#parts + 1] = string.format('"%s": %d', it, math.random(1, 3))
  end
  if math.random(1, 20) == 1 then parts[#parts + 1] = '"COMMENT": "C\\u00e1n b\\u1ed9 nhi\\u1ec7t t\\u00ecnh"' end
  local body = string.format('{"client_id": "%s", "questionnaire": "%s", "version": %d, "submitted_at": "%s", '
    .. '"language": "vi", "answers": {%s}}', uuid4(), instrument, version, stamp, table.concat(parts, ", "))
  return wrk.format("POST", "/api/v1/responses",
    {["Content-Type"] = "application/json", ["Authorization"] = "Kiosk " .. cred}, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 then created:write(string.match(body, '"id": ?"([^"]+)"'), "\n") end
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do total[k] = (total[k] or 0) + v end
  end
  local out = {}
  for k, v in pairs(total) do out[#out + 1] = string.format('"%d": %d', k, v) end
  io.write("STATUSES {" .. table.concat(out, ", ") .. "}\n")
  io.write(string.format("LATENCY_US p50=%d p90=%d p99=%d\n", latency:percentile(50), latency:percentile(90),
    latency:percentile(99)))
end
"""


def _lua_list(values: list[str]) -> str:
    return "{" + ", ".join(json.dumps(v) for v in values) + "}"


def setup_database(url: str, n_kiosks: int) -> tuple[list[str], str, int, list[str]]:
    """Migrated database with a city, 60 service points and enrolled kiosks; returns credentials etc."""
    engine = create_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        for rank, (code, vi, en) in enumerate([("city", "Thành phố", "City"), ("district", "Quận", "District")]):
            session.add(Level(code=code, rank=rank, name_vi=vi, name_en=en))
        city = Unit(code="CT", name_vi="Thành phố Cần Thơ", name_en="Can Tho", level_code="city")
        session.add(city)
        session.flush()
        qv = None
        for path in shipped():
            out = store_questionnaire(session, load_file(path))
            if out.record.instrument == "counter-quick":
                qv = out.record
        assert qv is not None
        points = []
        for i in range(POINTS):
            a = Agency(code=f"A{i:03d}", name_vi=f"Cơ quan {i}", name_en=f"Agency {i}", unit_id=city.id)
            session.add(a)
            session.flush()
            sp = ServicePoint(code=f"A{i:03d}-SP1", name_vi=f"Điểm {i}", name_en=f"Point {i}", agency_id=a.id)
            session.add(sp)
            points.append(sp)
        session.flush()
        creds = []
        for k in range(n_kiosks):
            enrolment = kiosk_service.register_kiosk(session, points[k % POINTS].code, f"Tablet {k}")
            _, credential = kiosk_service.redeem_code(session, enrolment.code)
            creds.append(credential)
        session.commit()
        instrument, version = qv.instrument, qv.version
        items = [it.code for it in next(load_file(p) for p in shipped() if "counter-quick" in p.name).items()
                 if it.type == "scale"]
    engine.dispose()
    return creds, instrument, version, items


def fresh_database(pg: str, name: str) -> tuple[Any, str]:
    """(an AUTOCOMMIT engine on the server, the URL of database `name`), dropped first and created empty."""
    admin = create_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return admin, pg.rsplit("/", 1)[0] + "/" + name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _workers(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def _cpu_seconds(pid: int) -> float:
    """CPU of the gunicorn master, its live workers and the workers it has reaped: utime+stime of each live process
    plus the master's cutime+cstime, so a worker replaced during the run (max_requests) still counts."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in [pid, *_workers(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if p == pid else 0)) / tick
        except OSError:
            pass
    return total


def _backends(url: str) -> list[int]:
    """PostgreSQL server processes connected to the benchmark database (the workers' pooled connections)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND pid <> pg_backend_pid()")).scalars().all()
    engine.dispose()
    return list(pids)


def _pids_cpu(pids: list[int]) -> dict[int, float]:
    """utime+stime of each of these processes that is still there and readable."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for p in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            out[p] = (int(fields[11]) + int(fields[12])) / tick
    return out


def _backends_cpu(before: dict[int, float], url: str) -> tuple[float, int]:
    """CPU the workers' PostgreSQL server processes used since `before`: the change of those still there, all of
    those connected since (a replaced worker's new connections); and how many ended meanwhile (their last
    moments are not counted)."""
    now = _pids_cpu(_backends(url))
    used = sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items())
    return used, len(set(before) - set(now))


def start_gunicorn(app_dir: Path, url: str, workers: int | None, interval: int, port: int,
                   conf: str | None, threads: int | None = None) -> subprocess.Popen:
    """gunicorn on `port` with the deployed settings of `conf` (None: gunicorn's defaults); `workers` and
    `threads` override them when given (threads 1 = sync workers)."""
    env = {k: v for k, v in os.environ.items() if k not in ("WEB_CONCURRENCY", "HAILONG_THREADS", "HAILONG_BIND")}
    env.update({"DATABASE_URL": url, "SECRET_KEY": "bench-" + "x" * 40, "RATELIMIT_STORAGE_URI": REDIS,
                "HAILONG_KIOSK_MIN_INTERVAL_SECONDS": str(interval), "HAILONG_KIOSK_API_LIMIT": "120 per minute",
                "PYTHONPATH": str(app_dir)})
    cmd = [str(ROOT / ".venv/bin/gunicorn"), "-b", f"127.0.0.1:{port}", "--log-level", "warning"]
    if conf:
        cmd += ["-c", conf]
    if workers is not None:
        cmd += ["-w", str(workers)]
    if threads is not None:  # gthread: keep-alive connections, a worker's threads wait for COMMIT together
        cmd += ["-k", "gthread", "--threads", str(threads)] if threads > 1 else ["-k", "sync", "--threads", "1"]
    proc = subprocess.Popen([*cmd, "wsgi:app"], cwd=app_dir, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL)  # the deployed access log goes to stdout: formatted, dropped
    settings = "deploy/gunicorn.conf.py" if conf else "gunicorn's defaults"
    print(f"gunicorn: {settings}" + (f", -w {workers}" if workers is not None else "")
          + (f", threads {threads}" if threads is not None else ""))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("gunicorn did not start") from None
            time.sleep(0.2)
    # one request per worker so imports and connections are not in the timed window
    for _ in range((workers or os.cpu_count() or 2) * 2):
        subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/healthz"], check=False)
    return proc


def commit_latency(url: str, n: int = 100) -> str:
    """p50 / p90 of a one-row INSERT + COMMIT (synchronous_commit on): the WAL flush every accepted response waits
    for.  With W sync workers at most W commits are in flight, so W / this is a ceiling on responses per second
    whatever the CPU (group commit needs several commits waiting at once)."""
    import psycopg

    times = []
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_commit_probe (x int)")  # not TEMP: those skip the WAL
        conn.commit()
        for _ in range(n):
            t = time.perf_counter()
            conn.execute("INSERT INTO bench_commit_probe VALUES (1)")
            conn.commit()
            times.append(time.perf_counter() - t)
        conn.execute("DROP TABLE bench_commit_probe")
        conn.commit()
    times.sort()
    return f"p50 {1000 * times[n // 2]:.1f} ms, p90 {1000 * times[n * 9 // 10]:.1f} ms"


def verify(url: str, created: list[str], connections: int) -> list[str]:
    """Every 201 stored once; count tables equal a recount.  Returns the failures (empty = all good).

    A request still in flight when wrk stops may be stored without its 201 being read: at most one per
    connection, reported but not a failure (the kiosk would resend it and get "duplicate").
    """
    failures: list[str] = []
    engine = create_engine(url)
    with Session(engine) as session:
        ids = session.scalars(select(Response.client_id)).all()
        stored = set(ids)
        lost = set(created) - stored
        unread = len(stored - set(created))
        print(f"  stored responses: {len(ids)}; 201 answers: {len(created)}; of those not stored: {len(lost)}; "
              f"stored twice: {len(ids) - len(stored)}; stored while wrk stopped (201 unread): {unread}")
        if lost:
            failures.append(f"{len(lost)} responses answered 201 but not stored")
        if len(ids) != len(stored) or len(created) != len(set(created)):
            failures.append("a client id stored or acknowledged twice")
        if unread > connections:
            failures.append(f"{unread} stored responses were never acknowledged")

        def snapshot() -> dict[str, list]:
            rt, at, mt = ResponseTally.__table__, AnswerTally.__table__, MomentTally.__table__
            return {
                "response_tally": sorted(session.execute(select(rt.c.questionnaire_version_id, rt.c.service_point_id,
                                                                rt.c.period, rt.c.channel, rt.c.count)).all()),
                "answer_tally": sorted(session.execute(select(at.c.questionnaire_version_id, at.c.service_point_id,
                                                              at.c.period, at.c.channel, at.c.item_id, at.c.value,
                                                              at.c.count)).all()),
                "moment_tally": sorted(session.execute(select(mt.c.questionnaire_version_id, mt.c.service_point_id,
                                                              mt.c.period, mt.c.channel, mt.c.respondents,
                                                              mt.c.gram)).all()),
            }

        live = snapshot()
        rebuild_tallies(session)
        recount = snapshot()
        session.rollback()
        for table in live:
            ok = live[table] == recount[table]
            print(f"  {table}: {len(live[table])} cells, {'equal to' if ok else 'DIFFERENT from'} a recount")
            if not ok:
                failures.append(f"{table} differs from a recount")
    engine.dispose()
    return failures


def run_wrk(port: int, seconds: int, connections: int, threads: int, script: Path | None, path: str) -> str:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script:
        cmd += ["-s", str(script)]
    return subprocess.run([*cmd, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True,
                          check=True).stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--kiosks", type=int, default=600)
    ap.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: the config's, by cores)")
    ap.add_argument("--worker-threads", type=int, default=None,
                    help="threads per gunicorn worker (default: the config's, 4; 1: sync workers)")
    ap.add_argument("--interval", type=int, default=1, help="kiosk minimum interval between responses (s)")
    ap.add_argument("--app-dir", type=Path, default=ROOT)
    ap.add_argument("--conf", default="deploy/gunicorn.conf.py",
                    help="gunicorn config file, relative to --app-dir (default: the deployed one); none: no file")
    ap.add_argument("--path", default="/api/v1/responses")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    ap.add_argument("--warmup", type=int, default=0,
                    help="post for this many seconds first, untimed (each worker then knows every kiosk: "
                         "a kiosk's first response in a process authenticates in full); its responses are checked too")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")

    admin, url = fresh_database(args.pg, DB_NAME)
    proc = None
    try:
        t0 = time.perf_counter()
        creds, instrument, version, items = setup_database(url, args.kiosks)
        print(f"set-up: {len(creds)} kiosks enrolled on {POINTS} service points in {time.perf_counter() - t0:.1f} s")
        load = os.getloadavg()
        print(f"machine load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
              f"({os.cpu_count()} cores)")
        port = _free_port()
        print(f"durable COMMIT round trip on this server (1-row insert, fsync): {commit_latency(url)}")
        app_dir = args.app_dir.resolve()
        conf = None if args.conf == "none" else str(app_dir / args.conf)
        proc = start_gunicorn(app_dir, url, args.workers, args.interval, port, conf, args.worker_threads)
        script = warm = None
        work = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
        if args.path == "/api/v1/responses":
            stamp = datetime.now(UTC).isoformat()

            def lua_script(name: str) -> Path:
                lua = (LUA.replace("{CREDS}", _lua_list(creds)).replace("{ITEMS}", _lua_list(items))
                       .replace("{INSTRUMENT}", instrument).replace("{VERSION}", str(version))
                       .replace("{STAMP}", stamp).replace("{THREADS}", str(args.threads))
                       .replace("{IDS}", str(work / f"created-{name}-")))
                (work / f"{name}.lua").write_text(lua)
                return work / f"{name}.lua"

            script, warm = lua_script("timed"), lua_script("warmup")
        warm_statuses: dict[str, int] = {}
        if args.warmup and warm is not None:
            warm_out = run_wrk(port, args.warmup, args.connections, args.threads, warm, args.path)
            warm_statuses = json.loads(re.search(r"STATUSES (\{.*\})", warm_out).group(1))
            print(f"warm-up: {args.warmup} s, statuses {warm_statuses}")
            time.sleep(args.interval + 0.5)  # every kiosk's interval has passed before the timed run
        workers0 = set(_workers(proc.pid))
        cpu0, pg0 = _cpu_seconds(proc.pid), _pids_cpu(_backends(url))
        out = run_wrk(port, args.seconds, args.connections, args.threads, script, args.path)
        cpu = _cpu_seconds(proc.pid) - cpu0
        pg_cpu, pg_gone = _backends_cpu(pg0, url)
        replaced = len(workers0 - set(_workers(proc.pid)))
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        total = int(re.search(r"(\d+) requests in", out).group(1))
        pct = dict(re.findall(r"^\s+(\d+)%\s+([\d.]+\w+)", out, flags=re.M))
        load = os.getloadavg()
        print(f"gunicorn ({'as deployed' if conf else 'no config'}; workers {args.workers or 'default'}, threads "
              f"{args.worker_threads or 'default'}), {args.connections} connections, {args.seconds} s, {args.path}; "
              f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        print(f"  {rate:.0f} responses/s ({total} requests); latency p50 {pct.get('50')}, p90 {pct.get('90')}, "
              f"p99 {pct.get('99')}")
        print(f"  gunicorn CPU: {1000 * cpu / max(total, 1):.2f} ms per request ({cpu / args.seconds:.2f} cores); "
              f"workers replaced during the run (max_requests): {replaced}")
        print(f"  PostgreSQL CPU (the server processes of the workers' connections; {pg_gone} ended during the run, "
              f"not counted after the start): {1000 * pg_cpu / max(total, 1):.2f} ms per request "
              f"({pg_cpu / args.seconds:.2f} cores)")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        proc = None
        if script is None:
            return
        statuses = json.loads(re.search(r"STATUSES (\{.*\})", out).group(1))
        print(f"  statuses: {statuses}")
        for k, v in warm_statuses.items():
            statuses[k] = statuses.get(k, 0) + v
        timed = [line for f in sorted(work.glob("created-timed-*")) for line in f.read_text().split()]
        print(f"  stored per second: {len(timed) / args.seconds:.0f}")
        created = [line for f in sorted(work.glob("created-*")) for line in f.read_text().split()]
        # at most one unread 201 per connection and wrk run (the warm-up is a run of its own)
        failures = verify(url, created, args.connections * (2 if args.warmup else 1))
        unexpected = {k: v for k, v in statuses.items() if k not in ("201",)}
        if unexpected:
            failures.append(f"answers other than 201: {unexpected}")
        for f in failures:
            print(f"FAIL: {f}")
        print("OK: 0 lost, 0 duplicated, tallies = recount" if not failures else "FAILED")
        if failures:
            sys.exit(1)
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
