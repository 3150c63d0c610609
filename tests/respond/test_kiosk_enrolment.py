"""Kiosk enrolment from the CLI to the device: one-time codes, credentials, revocation, stale list."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from survey.audit.models import AuditEvent
from survey.database import utcnow
from survey.org import kiosk_service
from survey.org.models import Kiosk
from survey.respond.kiosk_auth import COOKIE
from tests.factories import small_city
from tests.respond.kiosk_factories import enrolled_kiosk

CODE_RE = re.compile(r"enrolment code: ([A-Z0-9]{4}-[A-Z0-9]{4})")


@pytest.fixture
def city(db_session):
    return small_city(db_session)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def _enter_code(client, code: str):
    token = _csrf(client.get("/kiosk/enrol").get_data(as_text=True))
    return client.post("/kiosk/enrol", data={"csrf_token": token, "code": code})


def _cli_enrol(runner, sp="STP-SP1", *extra):
    result = runner.invoke(args=["kiosks", "enrol", "--service-point", sp, *extra])
    assert result.exit_code == 0, result.output
    return CODE_RE.search(result.output).group(1), result.output


def test_cli_enrol_prints_a_code_stored_only_hashed(runner, db_session, city):
    code, output = _cli_enrol(runner, "STP-SP1", "--name", "Quầy 2")
    assert "STP-SP1-K1" in output
    kiosk = db_session.scalar(select(Kiosk).where(Kiosk.code == "STP-SP1-K1"))
    assert kiosk.name == "Quầy 2"
    assert kiosk.enrolment_code_hash == kiosk_service.digest(kiosk_service.normalise_code(code))
    assert code.replace("-", "") not in (kiosk.enrolment_code_hash or "")
    assert kiosk.enrolment_expires_at - utcnow() > timedelta(hours=23)
    second, _ = _cli_enrol(runner, "STP-SP1")
    assert second != code
    assert db_session.scalar(select(Kiosk.code).where(Kiosk.id != kiosk.id)) == "STP-SP1-K2"
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "kiosk.registered")) == 2


def test_cli_enrol_unknown_service_point_fails(runner, city):
    result = runner.invoke(args=["kiosks", "enrol", "--service-point", "NOPE"])
    assert result.exit_code == 1
    assert "This service point does not exist. (NOPE)" in result.output


def test_good_code_enrols_the_device_with_an_httponly_cookie(client, runner, db_session, city):
    code, _ = _cli_enrol(runner)
    resp = _enter_code(client, code.lower().replace("-", " "))  # case, spaces and dashes do not matter
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/kiosk")
    cookie = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith(COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    credential = cookie.split(";")[0].split("=", 1)[1]
    kiosk = db_session.scalar(select(Kiosk))
    db_session.refresh(kiosk)
    assert kiosk.credential_hash == kiosk_service.digest(credential)
    assert kiosk.enrolled_at is not None
    page = client.get("/kiosk")
    assert page.status_code == 200
    assert "Bộ phận Một cửa Sở Tư pháp" in page.get_data(as_text=True)
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "kiosk.enrolled"))
    assert (event.actor, event.target_id) == ("device", kiosk.code)


def test_used_code_is_refused_and_says_so(client, runner, city):
    code, _ = _cli_enrol(runner)
    assert _enter_code(client, code).status_code == 302
    client.delete_cookie(COOKIE)  # a second device typing the same code
    resp = _enter_code(client, code)
    assert resp.status_code == 400
    assert "đã được sử dụng" in resp.get_data(as_text=True)
    assert COOKIE not in (resp.headers.get("Set-Cookie") or "")


def test_expired_code_is_refused(client, runner, db_session, city):
    code, _ = _cli_enrol(runner)
    kiosk = db_session.scalar(select(Kiosk))
    kiosk.enrolment_expires_at = utcnow() - timedelta(minutes=1)
    db_session.commit()
    client.get("/lang/en")
    resp = _enter_code(client, code)
    assert resp.status_code == 400
    assert "This code has expired" in resp.get_data(as_text=True)
    db_session.refresh(kiosk)
    assert kiosk.credential_hash is None


def test_unknown_code_is_refused(client, city):
    resp = _enter_code(client, "AAAA-AAAA")
    assert resp.status_code == 400
    assert "không hợp lệ" in resp.get_data(as_text=True)


def test_enrolment_without_csrf_token_is_refused(client, runner, db_session, city):
    code, _ = _cli_enrol(runner)
    resp = client.post("/kiosk/enrol", data={"code": code})
    assert resp.status_code == 400
    assert db_session.scalar(select(Kiosk.credential_hash)) is None


def test_revoked_kiosk_shows_not_enrolled(client, runner, db_session, city):
    code, _ = _cli_enrol(runner)
    _enter_code(client, code)
    assert client.get("/kiosk").status_code == 200
    result = runner.invoke(args=["kiosks", "revoke", "STP-SP1-K1"])
    assert result.exit_code == 0 and "revoked" in result.output
    page = client.get("/kiosk")
    assert page.status_code == 403
    assert "chưa được đăng ký" in page.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "kiosk.revoked")) == 1


def test_kiosk_page_without_credential_is_not_enrolled(client, city):
    page = client.get("/kiosk")
    assert page.status_code == 403
    assert 'href="/kiosk/enrol"' in page.get_data(as_text=True)


def test_reissued_code_moves_the_kiosk_to_a_new_device(client, runner, db_session, city):
    kiosk, old_credential = enrolled_kiosk(db_session)
    result = runner.invoke(args=["kiosks", "reissue", kiosk.code])
    assert result.exit_code == 0, result.output
    code = CODE_RE.search(result.output).group(1)
    assert _enter_code(client, code).status_code == 302
    assert kiosk_service.authenticate(db_session, old_credential) is None


def test_list_and_stale_list(runner, db_session, city):
    fresh, _ = enrolled_kiosk(db_session, "STP-SP1")
    old, _ = enrolled_kiosk(db_session, "UBND-NK-SP1")
    kiosk_service.register_kiosk(db_session, "UBND-BT-SP1")  # pending: never enrolled, never stale
    old.last_seen_at = utcnow() - timedelta(hours=2)
    db_session.commit()
    listing = runner.invoke(args=["kiosks", "list"]).output
    assert {fresh.code, old.code, "UBND-BT-SP1-K1"} <= set(re.findall(r"^(\S+-K\d+)", listing, re.M))
    assert "pending" in listing
    stale = runner.invoke(args=["kiosks", "list", "--stale"]).output
    assert old.code in stale
    assert fresh.code not in stale and "UBND-BT-SP1-K1" not in stale


def test_enrolment_attempts_are_rate_limited_globally(client, city):
    token = _csrf(client.get("/kiosk/enrol").get_data(as_text=True))
    statuses = [client.post("/kiosk/enrol", data={"csrf_token": token, "code": f"AAAA-AA{i:02d}"}).status_code
                for i in range(31)]
    assert statuses[:30] == [400] * 30
    assert statuses[30] == 429
    # the limit is not per address: a device at another address is limited too
    resp = client.post("/kiosk/enrol", data={"csrf_token": token, "code": "AAAA-AAAA"},
                       environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert resp.status_code == 429


def test_revoking_an_unknown_kiosk_fails(runner, city):
    result = runner.invoke(args=["kiosks", "revoke", "NO-SUCH-K1"])
    assert result.exit_code == 1
    assert "This kiosk does not exist. (NO-SUCH-K1)" in result.output
