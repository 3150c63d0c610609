"""`flask doctor`: each misconfiguration is named with its fix, and a sound set-up reports none."""

from __future__ import annotations

import os

import pytest

from survey import create_app
from survey.extensions import db

GOOD_KEY = "k" * 64


@pytest.fixture
def good_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("HAILONG_INSTANCE", str(tmp_path))
    return tmp_path


def _doctor(app) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["doctor"])
    return result.exit_code, result.output


def _line(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if f"  {name}  " in line or line.rstrip().endswith(name)
                or f"  {name} " in line)


def test_a_sound_configuration_has_nothing_to_fix(app, good_env):
    app.config["HAILONG_PUBLIC_URL"] = "https://khaosat.example.gov.vn"
    _, out = _doctor(app)
    for name in ("secret key", "database", "public URL", "folders", "time zone"):
        assert _line(out, name).startswith("OK"), out
    assert "reachable and migrated" in out
    assert _line(out, "PDF reports").startswith("OK") and ".ttf" in _line(out, "PDF reports"), out


def test_no_vietnamese_font_for_reports_is_named_with_its_package(app, good_env, monkeypatch):
    from survey.dashboard import report_pdf_layout

    def missing() -> tuple[str, str]:
        raise RuntimeError("no TrueType font with Vietnamese letters: apt install fonts-dejavu-core")

    monkeypatch.setattr(report_pdf_layout, "font_files", missing)
    code, out = _doctor(app)
    assert code == 1 and _line(out, "PDF reports").startswith("FAIL") and "fonts-dejavu-core" in out


def test_short_key_fails_with_the_command_to_make_one(app, good_env, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "short")
    code, out = _doctor(app)
    assert code == 1
    assert _line(out, "secret key").startswith("FAIL") and "5 bytes" in out and "token_hex(32)" in out


def test_unreachable_and_unmigrated_databases_are_named(good_env, tmp_path):
    down = create_app({"TESTING": True, "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/x"})
    code, out = _doctor(down)
    assert code == 1 and "cannot connect" in _line(out, "database")
    empty = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite'}"})
    code, out = _doctor(empty)
    assert code == 1 and "not migrated" in out and "flask --app wsgi db upgrade" in out
    db.session.remove()


def test_production_needs_https_public_url_and_warns_about_per_worker_limits(app, good_env):
    app.config.update(HAILONG_PRODUCTION=True, HAILONG_PUBLIC_URL="http://khaosat.example.gov.vn",
                      RATELIMIT_STORAGE_URI="memory://")
    code, out = _doctor(app)
    assert code == 1
    assert _line(out, "public URL").startswith("FAIL") and "https://" in out
    assert _line(out, "rate-limit store").startswith("WARN") and "redis://" in out


def test_redis_is_probed_when_configured(app, good_env):
    app.config["RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1:1"
    code, out = _doctor(app)
    assert code == 1 and _line(out, "rate-limit store").startswith("FAIL")
    app.config["RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1:6379"
    _, out = _doctor(app)
    assert _line(out, "rate-limit store").startswith("OK"), out


def test_world_readable_download_folder_and_unknown_time_zone(app, good_env):
    downloads = good_env / "downloads"
    downloads.mkdir(mode=0o755)
    os.chmod(downloads, 0o755)
    app.config["HAILONG_DOWNLOAD_DIR"] = str(downloads)
    app.config["HAILONG_TIMEZONE"] = "Asia/Nowhere"
    code, out = _doctor(app)
    assert code == 1
    assert _line(out, "folders").startswith("FAIL") and f"chmod 0700 {downloads}" in out
    assert _line(out, "time zone").startswith("FAIL") and "tzdata" in out
