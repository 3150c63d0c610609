"""The app starts on both databases, serves a landing page in Vietnamese, switches to English."""

from __future__ import annotations

import pytest

from survey import create_app
from survey.config import ConfigError, Settings


def test_home_page_is_vietnamese_by_default(client):
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<html lang="vi">' in html
    assert "Đơn vị hành chính" in html


def test_language_switch_is_remembered(client):
    client.get("/lang/en?next=/")
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Administrative units" in html


def test_accept_language_is_used_without_choice(client):
    html = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in html


def test_unknown_page_is_a_friendly_404(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert "Trang này không tồn tại" in page.get_data(as_text=True)


def test_security_headers_forbid_third_party_content(client):
    headers = client.get("/").headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_production_without_secret_key_refuses_to_start(monkeypatch):
    monkeypatch.setenv("HAILONG_PRODUCTION", "1")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError):
        create_app()
    with pytest.raises(ConfigError):
        Settings.from_env().to_flask()


def test_optional_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("HAILONG_BOOTSTRAP_B", "200")
    monkeypatch.setenv("HAILONG_KIOSK_API_LIMIT", "60 per minute")
    flask_config = Settings.from_env().to_flask()
    assert flask_config["HAILONG_BOOTSTRAP_B"] == 200
    assert flask_config["HAILONG_KIOSK_API_LIMIT"] == "60 per minute"


def test_a_malformed_number_in_the_environment_is_a_clear_start_up_error(monkeypatch):
    monkeypatch.setenv("HAILONG_BOOTSTRAP_SEED", "abc")
    with pytest.raises(ConfigError, match="HAILONG_BOOTSTRAP_SEED must be a whole number"):
        Settings.from_env()


def test_the_sampling_design_is_a_validated_setting(monkeypatch):
    monkeypatch.setenv("HAILONG_DESIGN", "clusters")
    assert Settings.from_env().to_flask()["HAILONG_DESIGN"] == "clusters"
    monkeypatch.setenv("HAILONG_DESIGN", "cluster")
    with pytest.raises(ConfigError, match="counters or clusters"):
        Settings.from_env()
