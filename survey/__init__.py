"""HaiLong web application: create_app() wires configuration, extensions, blueprints and CLI."""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app.  `config` overrides settings read from the environment (tests pass a database URL)."""
    from survey.config import Settings

    app = Flask(__name__, instance_relative_config=False)
    app.config.update(Settings.from_env().to_flask())
    if config:
        app.config.update(config)
    if app.config.get("HAILONG_PROXY_HOPS"):
        # behind nginx every request comes from the proxy: per-network limits need the citizen's address
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["HAILONG_PROXY_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    from survey import guard, i18n
    from survey.extensions import csrf, db, limiter, login_manager

    guard.init_app(app)  # before any route: typed <int:> ids, body caps, refused characters (issue 11 §3)
    db.init_app(app)
    csrf.init_app(app)
    i18n.init_app(app)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)
    login_manager.init_app(app)

    from survey import auth, blueprints, cli, errors, nav, web

    auth.init_app(app)
    nav.init_app(app)
    web.init_app(app)
    errors.init_app(app)  # a refusal no view catches: 400 page or JSON body (survey/errors.py)
    from survey import unavailable

    unavailable.init_app(app)  # database down → 503 + Retry-After, one log line per outage
    from survey.ops import metrics

    metrics.init_app(app)  # /metrics for Prometheus (token or local only)
    blueprints.register(app)
    cli.register(app)
    from survey.dashboard import method_text

    method_text.init_app(app)
    guard.api_lane(app)  # last: the kiosk API skips the hooks that only serve pages (issue 14 §1)
    _one_blas_thread()
    return app


def _one_blas_thread() -> None:
    """Dashboard estimates multiply many small matrices.  Multi-threaded OpenBLAS spin-waits for its
    helper threads, and when the cores are shared with other requests (or PostgreSQL) a 10 ms product
    takes 100 ms (benchmarks/README.md); one thread per request is as fast on an idle machine.  Serving
    processes run one request per thread anyway."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # speed only
        return
    threadpool_limits(limits=1, user_api="blas")
