"""Shared browser-test fixtures: the app served from a thread on a SQLite file database with the small
test city, and headless Debian Chromium through pytest-playwright (see /work/shared/browser-tests.md).

- `live_server`: the running server (`.url`, `.app`, `.scalar(stmt)` / `.count(Model)` on its database,
  `.enrol_kiosk(context, service_point)` to put a kiosk credential into a browser context);
- `base_url` points at it, so `page.goto("/kiosk")` works;
- the app's settings can be changed per test through `live_config` (restored afterwards);
- `live_clock`: the app's clock fixed at DEFAULT_NOW for one module (tests/results/factories.py), so data dated
  from it shows the same figures whatever the day; kiosk and phone pages keep the real clock (the browser's).

The database layer keeps one global engine, and every `create_app` re-points it; so before each browser
test the engine is pointed back at the live server's database (other tests may have run in between).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from werkzeug.serving import BaseWSGIServer, make_server

from survey import create_app
from survey.database import make_engine
from survey.extensions import db as _db
from survey.migrate import upgrade
from tests.factories import City, small_city
from tests.results.factories import clock_at

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium, never a downloaded one (`playwright install` is not used here)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-quic"]}


@dataclass
class LiveServer:
    url: str
    app: Flask
    database_url: str
    engine: Engine
    city: City

    def scalar(self, stmt: Any) -> Any:
        with Session(self.engine) as session:
            return session.scalar(stmt)

    def count(self, model: Any, *where: Any) -> int:
        return int(self.scalar(select(func.count()).select_from(model).where(*where)))

    def enrol_kiosk(self, context: Any, service_point: str = "STP-SP1") -> str:
        """Register and enrol a kiosk, give `context` its credential cookie; returns the kiosk code."""
        from survey.org import kiosk_service
        from survey.respond.kiosk_auth import COOKIE

        with self.app.app_context():
            enrolment = kiosk_service.register_kiosk(_db.session, service_point, "Browser test kiosk")
            kiosk, credential = kiosk_service.redeem_code(_db.session, enrolment.code)
            _db.session.commit()
            code = kiosk.code
        context.add_cookies([{"name": COOKIE, "value": credential, "url": self.url, "httpOnly": True,
                              "sameSite": "Strict"}])
        return code


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    path = tmp_path_factory.mktemp("live") / "live.sqlite"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    app = create_app({"TESTING": False, "DATABASE_URL": url, "SECRET_KEY": "browser-test-secret",
                      "RATELIMIT_STORAGE_URI": "memory://", "HAILONG_KIOSK_MIN_INTERVAL_SECONDS": 0})
    with app.app_context():
        city = small_city(_db.session)
        _db.session.remove()
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, url, engine, city)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        engine.dispose()


@pytest.fixture(scope="session")
def base_url(live_server: LiveServer) -> str:
    return live_server.url


@pytest.fixture(autouse=True)
def _database_points_at_live_server(live_server: LiveServer) -> Iterator[None]:
    _db.configure(live_server.database_url)
    yield
    _db.session.remove()


@pytest.fixture
def live_config(live_server: LiveServer) -> Iterator[dict[str, Any]]:
    """Change app settings for one test: `live_config["HAILONG_KIOSK_IDLE_SECONDS"] = 2`."""
    saved = dict(live_server.app.config)
    yield live_server.app.config  # type: ignore[misc]
    live_server.app.config.clear()
    live_server.app.config.update(saved)


@pytest.fixture(scope="module")
def live_clock(live_server: LiveServer) -> Iterator[datetime]:
    """DEFAULT_NOW as the live app's clock for the module's tests: date its data from the value."""
    with clock_at(live_server.app) as moment:
        yield moment
