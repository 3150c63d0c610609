"""Regenerate the review screenshots: `.venv/bin/python -m tests.browser.screenshots [--out DIR] [NAME ...]`.

Serves the app from a thread on a fresh SQLite file with a fixed city and a fixed clock (15/02/2023, so the
pictures never depend on today's date), opens each page in headless Debian Chromium as the role named, and
writes `<DIR>/<name>.png` (default DIR: screenshots/).  Names given on the command line limit the run.

To add a picture, append a `Shot` to SHOTS (or call `register`): a name, the user to log in as (None for a
citizen), the path, the viewport, and optionally `prepare(page, server)` to act before the picture (e.g.
enrol a kiosk, fill the first page of a form).  Kiosk and phone-form pictures belong here too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.browser import citizen_shots

CHROMIUM = "/usr/bin/chromium"
DEFAULT_OUT = Path("screenshots")


@dataclass
class Server:
    """The running app: `url`, `app`, and the seeded data (`data.city` has units, agencies, service points)."""

    url: str
    app: Any
    data: Any
    database_url: str = ""


@dataclass(frozen=True)
class Shot:
    name: str
    user: str | None
    path: str | Callable[[Server], str]
    viewport: tuple[int, int] = (1280, 900)
    full_page: bool = True
    is_mobile: bool = False
    prepare: Callable[[Any, Server], None] | None = None
    lang: str = "vi"
    notes: tuple[str, ...] = field(default_factory=tuple)


SHOTS: list[Shot] = [
    Shot("homeaffairs-default-noivu", "noivu", "/homeaffairs/"),
    Shot("homeaffairs-default-quanly", "ninhkieu", "/homeaffairs/"),
    Shot("homeaffairs-default-admin", "admin", "/homeaffairs/"),
    Shot("homeaffairs-unfinished-quarter-noivu", "noivu", "/homeaffairs/?period=2023-Q1&level=commune"),
    Shot("agency-page", "noivu", "/dashboard/agency/UBND-NK"),
    Shot("agency-page-quanly", "ninhkieu", "/dashboard/agency/UBND-NK-TA"),
    Shot("agency-page-viewer", "tuphap", "/dashboard/agency/STP"),
    Shot("period-report", "noivu", "/homeaffairs/report/"),
    # citizens: the phone form (390 × 844) on its first and last page, the kiosk upright and lying down
    Shot("phone-first-page", None, f"/s/{citizen_shots.PHONE_POINT}", (390, 844), is_mobile=True),
    Shot("phone-last-page", None, f"/s/{citizen_shots.PHONE_POINT}", (390, 844), is_mobile=True,
         prepare=citizen_shots.phone_last_page),
    Shot("kiosk-portrait", None, "/kiosk", (800, 1280), full_page=False, prepare=citizen_shots.enrolled_kiosk),
    Shot("kiosk-landscape", None, "/kiosk", (1280, 800), full_page=False, prepare=citizen_shots.enrolled_kiosk),
]


def register(shot: Shot) -> None:
    """Add a picture (other modules may call this before `main`)."""
    SHOTS.append(shot)


def _quiet_handler() -> type:
    from werkzeug.serving import WSGIRequestHandler

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:  # one line per request drowns the file list
            pass

    return Quiet


@contextmanager
def serve() -> Iterator[Server]:
    """The app on a free port over a seeded SQLite file, with the clock fixed at publishkit.TODAY."""
    from werkzeug.serving import make_server

    from survey import create_app
    from survey.database import make_engine
    from survey.extensions import db
    from survey.migrate import upgrade
    from tests.dashboard.publishkit import N_MIN, TODAY, publish_city, standard_history

    with tempfile.TemporaryDirectory(prefix="hailong-shots-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'shots.sqlite'}"
        engine = make_engine(url)
        upgrade(engine)
        app = create_app({"TESTING": False, "DATABASE_URL": url, "SECRET_KEY": "screenshots-secret",
                          "RATELIMIT_STORAGE_URI": "memory://", "HAILONG_KIOSK_MIN_INTERVAL_SECONDS": 0,
                          "HAILONG_N_MIN": N_MIN, "HAILONG_BOOTSTRAP_B": 200, "HAILONG_CLOCK": lambda: TODAY,
                          "HAILONG_PREWARM": 0})
        with app.app_context():
            data = publish_city(db.session)
            standard_history(db.session, data)
            db.session.remove()
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_quiet_handler())
        thread = threading.Thread(target=server.serve_forever, name="screenshots", daemon=True)
        thread.start()
        try:
            yield Server(f"http://127.0.0.1:{server.server_port}", app, data, url)
        finally:
            server.shutdown()
            thread.join(timeout=5)
            engine.dispose()


def _login(page: Any, server: Server, username: str) -> None:
    from tests.factories import PASSWORD

    page.goto(f"{server.url}/auth/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def take(shots: list[Shot], out: Path, server: Server | None = None, browser: Any = None) -> list[Path]:
    """Every shot as a PNG in `out` (on `server`, else on a fresh one; with `browser`, else a new headless
    Chromium); returns the files written."""
    if server is None:
        with serve() as fresh:
            return take(shots, out, fresh, browser)
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            launched = pw.chromium.launch(executable_path=CHROMIUM,
                                          args=["--no-sandbox", "--disable-gpu", "--disable-quic"])
            try:
                return take(shots, out, server, launched)
            finally:
                launched.close()
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for shot in shots:
        context = browser.new_context(viewport={"width": shot.viewport[0], "height": shot.viewport[1]},
                                      is_mobile=shot.is_mobile, locale=shot.lang)
        try:
            page = context.new_page()
            page.goto(f"{server.url}/lang/{shot.lang}")
            if shot.user:
                _login(page, server, shot.user)
            path = shot.path(server) if callable(shot.path) else shot.path
            page.goto(f"{server.url}{path}")
            if shot.prepare is not None:
                shot.prepare(page, server)
            target = out / f"{shot.name}.png"
            page.screenshot(path=str(target), full_page=shot.full_page)
            written.append(target)
        finally:
            context.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the PNG files")
    parser.add_argument("names", nargs="*", help="only these shots (default: all)")
    args = parser.parse_args(argv)
    unknown = set(args.names) - {s.name for s in SHOTS}
    if unknown:
        parser.error(f"unknown shot(s): {', '.join(sorted(unknown))}; known: {', '.join(s.name for s in SHOTS)}")
    chosen = [s for s in SHOTS if not args.names or s.name in args.names]
    for path in take(chosen, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
