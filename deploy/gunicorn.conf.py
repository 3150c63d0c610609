"""gunicorn settings for HaiLong: `gunicorn -c deploy/gunicorn.conf.py wsgi:app` (README, production).

Ops settings (workers, bind, timeouts) are added by the deployment work (issue 14); this file starts with
the part that protects respondents (issue 11 §5, docs/security.md): access log lines carry neither the
client address nor a receipt token (`/r/<token>`), so a log cannot join a citizen to an answer.
"""

from survey.access_log import ACCESS_LOG_FORMAT, install_gunicorn_filter

# --- access logging (issue 11 §5): no client address, no query string, /r/<token> masked -------------
accesslog = "-"
access_log_format = ACCESS_LOG_FORMAT


def on_starting(server: object) -> None:  # gunicorn hook: runs once in the master, workers inherit
    install_gunicorn_filter()
# --- end of access logging ---------------------------------------------------------------------------

# --- serving (issue 14): workers from cores, port shared on restart, graceful timeouts ----------------
import multiprocessing  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

# One worker per core (at least 2, so one crash never leaves nothing serving); more workers only add memory (each
# keeps its own caches: docs/scaling.md).  WEB_CONCURRENCY overrides.
workers = int(os.environ.get("WEB_CONCURRENCY") or max(2, multiprocessing.cpu_count()))
# The gthread worker, HAILONG_THREADS (default 4) requests per worker at once; HAILONG_THREADS=1 gives sync workers.
# Kiosk submissions wait for the WAL flush of their COMMIT (~2-9 ms on this machine's disk): with one request per
# worker at most `workers` commits are in flight, and responses/s stop at workers / flush time however idle the CPU;
# threads let PostgreSQL flush many commits at once (group commit), and gthread keeps the proxy's connections alive.
# Measured with the kiosk lane, -w 2: sync 324/s, 4 threads 685/s (p99 60 ms) at load 10; 40-69 vs 167-199/s at load
# 20-30 (benchmarks/README.md "Below Flask"); 8 threads were slower than 4 (471/s).  The whole app is safe threaded
# (docs/scaling.md "Threads": every per-process cache is locked or immutable once built; tests/ops/
# test_threaded_server.py serves pages, exports and submissions at once and compares each answer with it alone).
threads = max(1, int(os.environ.get("HAILONG_THREADS") or 4))
worker_class = "gthread" if threads > 1 else "sync"
bind = os.environ.get("HAILONG_BIND", "127.0.0.1:8000")
# SO_REUSEPORT: a master restarted while workers orphaned by a killed master still hold the port binds
# anyway (instead of exiting "Connection in use" and leaving nothing listening).  systemd's
# KillMode=mixed (deploy/systemd/hailong.service) ends such orphans as well.
reuse_port = True
timeout = 60  # a worker silent this long is killed and replaced (the longest page, the period report, is ~1 s)
graceful_timeout = 30  # on stop/reload, requests in flight get this long to finish
keepalive = 5  # behind nginx (upstream keepalive)
# a worker is replaced after about this many requests (jitter: not all at once), against slow leaks; the caches are
# bounded by their budgets anyway (docs/scaling.md).  Was 5,000: with 4 threads a worker at full kiosk load reached it
# every ~15 s, and each new worker meets every kiosk for the first time (the full Flask path) and warms up again
# (benchmarks/README.md, "Threads by default").
max_requests = 50000
max_requests_jitter = 5000
forwarded_allow_ips = "127.0.0.1"  # nginx on the same host; the app trusts X-Forwarded-* via HAILONG_PROXY_HOPS
# --- end of serving ------------------------------------------------------------------------------------

# --- memory (issue 14 §4): the app built once in the master, its imports shared copy-on-write ----------
# Without it every worker imported NumPy, SciPy, pandas, Flask and the app itself: ~140 MB private per
# worker before its first request (benchmarks/workers_memory_bench.py; docs/scaling.md "Memory per serving
# process").  Safe here because no database connection crosses a fork: create_app() only builds engines (no
# connection); the master reads the database only in its warm-up before the first fork (when_ready) and
# closes every connection after it; each worker starts its own warm-up thread after the fork
# (post_worker_init, not wsgi.py); post_fork drops any pool state a worker inherited.  HAILONG_PRELOAD=0
# turns it off.
preload_app = os.environ.get("HAILONG_PRELOAD", "1") != "0"
if preload_app and "gunicorn.config" in sys.modules:  # gunicorn reading this file (not a test's runpy)
    os.environ["HAILONG_PREWARM_AFTER_FORK"] = "1"  # read by wsgi.py: the master must not start the warm-up


def when_ready(server: object) -> None:  # gunicorn hook (master): the port bound, no worker forked yet
    """The preloaded master's warm-up (issue 14 §4, first page after a restart; survey/results/prewarm.py:
    before_fork): every worker is forked with the lexicon, stored comment topics, compiled templates and
    whole-city figures in memory (shared copy-on-write), and takes no request before they are ready.  Here
    rather than in wsgi.py: the port is already bound, so a request arriving meanwhile waits in the listen
    queue instead of being refused.  Ends with every database connection closed."""
    if server.cfg.preload_app:  # type: ignore[attr-defined]
        from survey.results import prewarm

        took = prewarm.before_fork(server.app.wsgi())  # type: ignore[attr-defined]
        server.log.info("warmed up before forking: %s",  # type: ignore[attr-defined]
                        ", ".join(f"{k} {v:.1f} s" for k, v in took.items()))


def pre_fork(server: object, worker: object) -> None:  # gunicorn hook (master), before each fork
    """Objects that exist now are left alone by the cyclic GC, which would otherwise write to (and so copy)
    every page of the shared imports in each worker."""
    import gc

    gc.freeze()


def post_fork(server: object, worker: object) -> None:  # gunicorn hook (worker), right after the fork
    """A worker never uses a database connection of the master's (there should be none): drop the copied
    pool state without closing the master's sockets (SQLAlchemy's recipe for forked processes)."""
    if worker.cfg.preload_app:  # type: ignore[attr-defined]
        from survey.extensions import db

        for engine in (db.engine, db.replica_engine):
            if engine is not None:
                engine.dispose(close=False)


def post_worker_init(worker: object) -> None:  # gunicorn hook (worker), the app loaded
    """With the app preloaded, the warm-up thread belongs to each worker (as without preloading)."""
    if worker.cfg.preload_app:  # type: ignore[attr-defined]
        from survey.results import prewarm

        prewarm.start(worker.wsgi)  # type: ignore[attr-defined]
# --- end of memory -------------------------------------------------------------------------------------


def child_exit(server: object, worker: object) -> None:  # gunicorn hook (master): a worker ended
    """With PROMETHEUS_MULTIPROC_DIR set, /metrics sums every worker's files: drop a dead worker's gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
