"""`flask --app wsgi doctor`: check a server's configuration and say what to fix, before users find out.

Each check answers OK, WARN (works, but not as production should) or FAIL (something will break); the
command exits 1 when anything FAILs, so it can gate a deployment script.  Checks read settings and probe
the services; they change nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import text

from survey.config import INSTANCE_DIR, SECRET_KEY_MIN_BYTES, environment_secret_key

OK, WARN, FAIL = "OK", "WARN", "FAIL"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    message: str
    fix: str = ""


def check_secret_key(app: Flask) -> Check:
    key = environment_secret_key()
    size = len(key.encode())
    if not key:
        if app.config.get("HAILONG_PRODUCTION"):
            return Check("secret key", FAIL, "SECRET_KEY is not set",
                         "set SECRET_KEY in the environment file: "
                         "python3 -c 'import secrets;print(secrets.token_hex(32))'")
        return Check("secret key", WARN, "no SECRET_KEY: a generated key in the instance folder signs sessions",
                     "set SECRET_KEY (the same on every server behind one address)")
    if size < SECRET_KEY_MIN_BYTES:
        return Check("secret key", FAIL, f"SECRET_KEY is {size} bytes, at least {SECRET_KEY_MIN_BYTES} are needed",
                     "generate a longer one: python3 -c 'import secrets;print(secrets.token_hex(32))'")
    return Check("secret key", OK, f"{size} bytes")


def check_database(app: Flask) -> Check:
    from survey.extensions import db
    from survey.migrate import schema_differences

    assert db.engine is not None
    url = db.engine.url.render_as_string(hide_password=True)
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error: report it, do not crash the report
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        return Check("database", FAIL, f"cannot connect to {url}: {reason}",
                     "check DATABASE_URL, that the server runs and that this user may connect")
    try:
        diff = schema_differences(db.engine)
    except Exception as exc:  # e.g. no alembic_version table at all
        return Check("database", FAIL, f"{url} is reachable but its schema cannot be compared: {exc}",
                     "run: flask --app wsgi db upgrade")
    if diff:
        return Check("database", FAIL, f"{url} is reachable but not migrated ({len(diff)} differences)",
                     "run: flask --app wsgi db upgrade")
    if db.engine.dialect.name == "sqlite" and app.config.get("HAILONG_PRODUCTION"):
        return Check("database", WARN, f"{url}: SQLite serialises writers (fine for one small province)",
                     "use PostgreSQL for several workers or servers (README, Production)")
    return Check("database", OK, f"{url} reachable and migrated")


def check_redis(app: Flask) -> Check:
    uri = str(app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if not uri.startswith(("redis://", "rediss://")):
        if app.config.get("HAILONG_PRODUCTION"):
            return Check("rate-limit store", WARN, f"{uri}: each worker counts limits on its own",
                         "set RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379 (apt install redis-server)")
        return Check("rate-limit store", OK, f"{uri} (development)")
    try:
        import redis

        client = redis.Redis.from_url(uri, socket_connect_timeout=3, socket_timeout=3)
        client.ping()
    except Exception as exc:  # connection refused, auth, DNS…
        return Check("rate-limit store", FAIL, f"Redis at {_hide_password(uri)} does not answer: {exc}",
                     "start Redis (systemctl start redis-server) or fix RATELIMIT_STORAGE_URI")
    return Check("rate-limit store", OK, f"Redis at {_hide_password(uri)} answers")


def _hide_password(uri: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(uri).render_as_string(hide_password=True)
    except Exception:
        return uri.split("@")[-1]


def check_public_url(app: Flask) -> Check:
    url = str(app.config.get("HAILONG_PUBLIC_URL") or "")
    if not url.startswith(("http://", "https://")):
        return Check("public URL", FAIL, f"HAILONG_PUBLIC_URL={url!r} is not an address",
                     "set HAILONG_PUBLIC_URL=https://your.domain (printed on every QR poster)")
    if app.config.get("HAILONG_PRODUCTION") and not url.startswith("https://"):
        return Check("public URL", FAIL, f"{url} is not https: QR links would send citizens over plain http",
                     "set HAILONG_PUBLIC_URL=https://your.domain and serve it with nginx (deploy/nginx)")
    if "127.0.0.1" in url or "localhost" in url:
        return Check("public URL", WARN, f"{url}: phones cannot reach this address",
                     "set HAILONG_PUBLIC_URL to the address citizens' phones use")
    return Check("public URL", OK, url)


def _writable(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def check_folders(app: Flask) -> Check:
    problems: list[str] = []
    fixes: list[str] = []
    instance = Path(app.config.get("HAILONG_INSTANCE") or INSTANCE_DIR)
    if not _writable(instance):
        problems.append(f"instance folder {instance} is missing or not writable")
        fixes.append(f"install -d -o <service user> -m 0750 {instance}")
    downloads = Path(app.config.get("HAILONG_DOWNLOAD_DIR") or instance / "downloads")
    if downloads.exists():
        mode = downloads.stat().st_mode & 0o777
        if mode & 0o077:
            problems.append(f"{downloads} is readable by others (mode {mode:o}); it holds answers and tokens")
            fixes.append(f"chmod 0700 {downloads}")
    from survey.ops.backup import backup_dir

    backups = backup_dir(app)
    if backups.exists() and not _writable(backups):
        problems.append(f"backup folder {backups} is not writable")
        fixes.append(f"chown <service user> {backups}")
    if problems:
        return Check("folders", FAIL, "; ".join(problems), "; ".join(fixes))
    return Check("folders", OK, f"{instance} writable" + (f", {downloads} private" if downloads.exists() else ""))


def check_timezone(app: Flask) -> Check:
    name = str(app.config.get("HAILONG_TIMEZONE") or "Asia/Ho_Chi_Minh")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return Check("time zone", FAIL, f"time zone {name!r} is unknown on this machine",
                     "apt install tzdata (or pip install tzdata)")
    return Check("time zone", OK, f"{name} (months and report periods are local to it)")


def check_pdf_fonts(app: Flask) -> Check:
    """Period reports are laid out by ReportLab with a TrueType font that has Vietnamese letters (the very
    font look-up the report uses); invitation cards still go through WeasyPrint, which needs pango."""
    from survey.dashboard.report_pdf_layout import font_files

    try:
        regular, _bold = font_files()
    except RuntimeError as exc:
        return Check("PDF reports", FAIL, str(exc), "apt install fonts-dejavu-core (or fonts-noto-core)")
    try:
        import weasyprint  # noqa: F401
    except Exception as exc:  # missing pango etc. raise OSError at import
        return Check("PDF reports", FAIL, f"invitation cards: WeasyPrint cannot load: {str(exc).splitlines()[0][:160]}",
                     "apt install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0")
    return Check("PDF reports", OK, f"reports in {Path(regular).name}; WeasyPrint for invitation cards")


def check_speech(app: Flask) -> Check:
    """The kiosk's "Listen to the question" audio (survey/respond/speech.py); without it, device voices only."""
    from survey.respond.speech import LANGS, engine_path, voice_for

    engine = engine_path(app)
    if engine is None:
        return Check("kiosk speech", WARN, "espeak-ng is missing or HAILONG_SPEECH_ENGINE=off: kiosks read questions "
                     "aloud only where the device has a voice (most have none for Vietnamese)",
                     "apt install espeak-ng, then: flask --app wsgi speech build")
    voiced = [lang for lang in LANGS if voice_for(engine, lang)]
    if "vi" not in voiced:
        return Check("kiosk speech", FAIL, f"{engine} has no Vietnamese voice", "apt install espeak-ng-data")
    missing = [lang for lang in LANGS if lang not in voiced]
    return Check("kiosk speech", OK, f"{engine}: voices for {', '.join(voiced)}"
                 + (f"; none for {', '.join(missing)} (device voices only)" if missing else ""))


CHECKS: list[Callable[[Flask], Check]] = [
    check_secret_key, check_database, check_redis, check_public_url, check_folders, check_timezone, check_pdf_fonts,
    check_speech,
]


def run_checks(app: Flask) -> list[Check]:
    """Every check, in order; a check that itself crashes is reported as FAIL rather than hiding the rest."""
    out = []
    for check in CHECKS:
        try:
            out.append(check(app))
        except Exception as exc:  # the report must go on
            out.append(Check(check.__name__.removeprefix("check_").replace("_", " "), FAIL, f"check crashed: {exc}"))
    return out


@click.command("doctor")
@with_appcontext
def doctor_cli() -> None:
    """Check this server's configuration (key, database, Redis, public URL, folders, time zone, PDF fonts,
    kiosk speech)."""
    app: Any = current_app._get_current_object()  # type: ignore[attr-defined]
    results = run_checks(app)
    width = max(len(r.name) for r in results)
    for r in results:
        click.echo(f"{r.status:<4}  {r.name:<{width}}  {r.message}")
        if r.fix and r.status != OK:
            click.echo(f"{'':<4}  {'':<{width}}  → {r.fix}")
    failed = sum(r.status == FAIL for r in results)
    warned = sum(r.status == WARN for r in results)
    click.echo(f"{failed} to fix, {warned} warnings" if failed or warned else "everything looks right")
    sys.exit(1 if failed else 0)
