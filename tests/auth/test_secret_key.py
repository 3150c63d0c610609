"""The signing key: random per instance outside production (never a public constant), at least 32 bytes
in production; a session cookie forged with the old public constant opens nothing."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from survey import create_app
from survey.config import ConfigError, Settings
from survey.extensions import db
from tests.dashboard.helpers import login
from tests.factories import small_city
from tests.web_fixtures import IsolatedClient

OLD_PUBLIC_KEY = "dev-only-insecure-key"  # what main used when SECRET_KEY was not set


def test_generated_key_is_random_private_and_stable(tmp_path: Path) -> None:
    first = Settings(instance_dir=tmp_path / "a").to_flask()["SECRET_KEY"]
    again = Settings(instance_dir=tmp_path / "a").to_flask()["SECRET_KEY"]
    other = Settings(instance_dir=tmp_path / "b").to_flask()["SECRET_KEY"]
    assert first == again  # sessions survive a restart
    assert first != other and first != OLD_PUBLIC_KEY
    assert len(first.encode()) >= 32
    key_file = tmp_path / "a" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key_file.chmod(0o644)  # loosened by hand: tightened again at the next start
    Settings(instance_dir=tmp_path / "a").to_flask()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not list((tmp_path / "a").glob(".secret_key.*"))  # no temporary file left behind


def test_a_set_key_is_used_as_given(tmp_path: Path) -> None:
    assert Settings(secret_key="k" * 40, instance_dir=tmp_path).to_flask()["SECRET_KEY"] == "k" * 40
    assert not (tmp_path / "secret_key").exists()


def test_production_refuses_short_keys_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="31 bytes long; production needs at least 32"):
        Settings(production=True, secret_key="s" * 31, instance_dir=tmp_path).to_flask()
    with pytest.raises(ConfigError, match="SECRET_KEY must be set"):
        Settings(production=True, instance_dir=tmp_path).to_flask()
    assert Settings(production=True, secret_key="s" * 32, instance_dir=tmp_path).to_flask()["SECRET_KEY"] == "s" * 32
    assert not (tmp_path / "secret_key").exists()  # production never generates a key


def test_production_start_up_names_the_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAILONG_PRODUCTION", "1")
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="SECRET_KEY is 5 bytes long"):
        create_app()


@pytest.fixture
def keyless_app(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app as a developer starts it: no SECRET_KEY in the environment."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("HAILONG_PRODUCTION", raising=False)
    monkeypatch.setenv("HAILONG_INSTANCE", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "RATELIMIT_STORAGE_URI": "memory://"})
    app.test_client_class = IsolatedClient
    with app.app_context():
        small_city(db.session())
        yield app
    db.session.remove()


def _sign(payload: dict, key: str) -> str:
    signer = Flask("forger")
    signer.secret_key = key
    serializer = SecureCookieSessionInterface().get_signing_serializer(signer)
    assert serializer is not None
    return serializer.dumps(payload)


def test_cookie_forged_with_the_old_public_constant_opens_nothing(keyless_app: Flask, tmp_path: Path) -> None:
    assert keyless_app.secret_key != OLD_PUBLIC_KEY
    assert (tmp_path / "instance" / "secret_key").read_text().strip() == keyless_app.secret_key
    genuine = keyless_app.test_client()
    assert login(genuine, "admin").status_code == 302
    serializer = SecureCookieSessionInterface().get_signing_serializer(keyless_app)
    payload = serializer.loads(genuine.get_cookie("session").value)  # exactly what a real admin session holds
    assert payload["_user_id"]

    forged = keyless_app.test_client()
    forged.set_cookie("session", _sign(payload, OLD_PUBLIC_KEY))
    resp = forged.get("/admin/users")
    assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"]

    control = keyless_app.test_client()  # the same payload signed with the instance's key does open it
    control.set_cookie("session", _sign(payload, keyless_app.secret_key))
    assert control.get("/admin/users").status_code == 200
