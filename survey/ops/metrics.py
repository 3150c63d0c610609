"""`/metrics` for Prometheus (prometheus_client): latency by endpoint, submissions by outcome, kiosks, caches.

- `hailong_request_duration_seconds{endpoint,method}` histogram and `hailong_requests_total{endpoint,method,
  status}`: the Flask endpoint name (bounded: never the raw path, which carries receipt tokens).
- `hailong_submissions_total{outcome}`: kiosk API submissions stored / duplicate / rejected / throttled
  (/unauthorized / unavailable), from the answer's status.
- read at scrape time from the database: `hailong_kiosk_queue_length{stat=sum|max}` (what enrolled kiosks
  last reported), `hailong_kiosks{state=enrolled|stale}`.
- `hailong_cache_lookups_total{cache,result}` (hit / miss / refresh) and `hailong_cache_bytes{cache}` of the
  results cache and the month cells, per process.
Several gunicorn workers: set PROMETHEUS_MULTIPROC_DIR (an empty folder, e.g. systemd's RuntimeDirectory);
deploy/gunicorn.conf.py marks dead workers, and the scrape sums every worker.  Access: with
HAILONG_METRICS_TOKEN set, `Authorization: Bearer <token>`; without it only from this machine (127.0.0.1/::1,
after ProxyFix — so requests relayed by nginx from outside are refused).  No personal data in any label.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from flask import Flask, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from werkzeug.wrappers import Response

from survey.config import prometheus_multiproc_dir

LOCAL = {"127.0.0.1", "::1"}
SUBMIT_ENDPOINT = "api.submit_response"
OUTCOMES = {201: "stored", 200: "duplicate", 400: "rejected", 413: "rejected", 429: "throttled",
            401: "unauthorized", 503: "unavailable"}

REQUEST_SECONDS = Histogram("hailong_request_duration_seconds", "Time to answer a request, by Flask endpoint",
                            ["endpoint", "method"],
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
REQUESTS = Counter("hailong_requests_total", "Requests answered, by endpoint and status",
                   ["endpoint", "method", "status"])
SUBMISSIONS = Counter("hailong_submissions_total", "Kiosk API submissions by outcome", ["outcome"])


class _LiveCollector(Collector):
    """Figures read when Prometheus scrapes: kiosks from the database, caches from this process."""

    def collect(self) -> Iterator[Any]:
        from survey.results import cache, month_cells

        lookups = CounterMetricFamily("hailong_cache_lookups", "Cache lookups in this process",
                                      labels=["cache", "result"])
        for (name, result), n in sorted(cache.STATS.items()):
            lookups.add_metric([name, result], n)
        yield lookups
        size = GaugeMetricFamily("hailong_cache_bytes", "Bytes held by the caches of this process", labels=["cache"])
        size.add_metric(["results"], cache.held_bytes())
        size.add_metric(["month_cells"], month_cells.held_bytes())
        yield size
        yield from _kiosk_metrics()


def _kiosk_metrics() -> Iterator[Any]:
    from sqlalchemy import func, select

    from survey.database import utcnow
    from survey.extensions import db
    from survey.org.kiosk_service import STALE_AFTER
    from survey.org.models import Kiosk

    enrolled = (Kiosk.credential_hash.is_not(None), Kiosk.revoked_at.is_(None))
    row = db.session.execute(select(func.count(), func.coalesce(func.sum(Kiosk.queue_length), 0),
                                    func.coalesce(func.max(Kiosk.queue_length), 0)).where(*enrolled)).one()
    stale = db.session.scalar(select(func.count()).where(
        *enrolled, (Kiosk.last_seen_at.is_(None)) | (Kiosk.last_seen_at < utcnow() - STALE_AFTER)))
    queue = GaugeMetricFamily("hailong_kiosk_queue_length", "Responses waiting in kiosks' offline queues "
                              "(as last reported)", labels=["stat"])
    queue.add_metric(["sum"], float(row[1]))
    queue.add_metric(["max"], float(row[2]))
    yield queue
    kiosks = GaugeMetricFamily("hailong_kiosks", "Enrolled kiosks, and those not heard from for an hour",
                               labels=["state"])
    kiosks.add_metric(["enrolled"], float(row[0]))
    kiosks.add_metric(["stale"], float(stale or 0))
    yield kiosks


def _allowed() -> bool:
    token = str(current_app.config.get("HAILONG_METRICS_TOKEN") or "")
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    return request.remote_addr in LOCAL


def metrics_view() -> Response:
    if not _allowed():
        abort(404)  # do not advertise the endpoint
    registry = CollectorRegistry()
    multiproc = prometheus_multiproc_dir()
    if multiproc:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        for metric in (REQUEST_SECONDS, REQUESTS, SUBMISSIONS):
            registry.register(metric)
    registry.register(_LiveCollector())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})


@lru_cache(maxsize=4096)  # bounded label sets: endpoint names × methods × statuses
def _children(endpoint: str, method: str, status: int) -> tuple[Any, Any, Any]:
    """The labelled series of one kind of request, looked up once per process (labels() takes a lock and
    builds the label tuple on every call)."""
    outcome = SUBMISSIONS.labels(OUTCOMES.get(status, "other")) if endpoint == SUBMIT_ENDPOINT else None
    return (REQUEST_SECONDS.labels(endpoint, method), REQUESTS.labels(endpoint, method, str(status)), outcome)


def observe(endpoint: str, method: str, status: int, seconds: float) -> None:
    """Record one answered request (also called by the kiosk lane below Flask, through app.extensions, so that
    survey.respond need not import survey.ops)."""
    duration, count, outcome = _children(endpoint, method, status)
    duration.observe(seconds)
    count.inc()
    if outcome is not None:
        outcome.inc()


def init_app(app: Flask) -> None:
    """Time every request and expose /metrics."""
    app.extensions["hailong_observe_request"] = observe

    @app.before_request
    def _start() -> None:
        g._metrics_t0 = time.perf_counter()

    @app.after_request
    def _observe(resp: Response) -> Response:
        started = g.pop("_metrics_t0", None)
        endpoint = request.endpoint or "unmatched"
        if started is not None and endpoint != "metrics":
            observe(endpoint, request.method, resp.status_code, time.perf_counter() - started)
        return resp

    app.add_url_rule("/metrics", "metrics", metrics_view)
