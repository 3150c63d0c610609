"""Kiosk pages: enrol (the one-time code is shown once and works), rename, new code, revoke (confirmed),
and the status list with stale kiosks marked in words; Home Affairs may only look."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from survey.database import utcnow
from survey.org import kiosk_service as ks
from survey.org.models import Kiosk
from tests.admin.adminkit import as_admin, as_user, events, get, post_form, text
from tests.factories import small_city


def kiosk(session, code: str) -> Kiosk:
    session.expire_all()
    return session.scalar(select(Kiosk).where(Kiosk.code == code))


def test_enrol_shows_a_working_one_time_code(client, db_session):
    small_city(db_session)
    as_admin(client)
    resp = post_form(client, "/admin/kiosks/new?service_point=STP-SP1",
                     {"service_point": "STP-SP1", "name": "Quầy 1, tầng trệt"})
    html = text(resp)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert "This code is shown only once." in html
    code = re.search(r'<code id="enrolment-code">([A-Z0-9-]+)</code>', html).group(1)
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    created = kiosk(db_session, "STP-SP1-K1")
    assert created.name == "Quầy 1, tầng trệt" and ks.status(created) == "pending"
    assert code.replace("-", "") not in (created.enrolment_code_hash or "")  # only a digest is stored
    assert code not in text(get(client, "/admin/kiosks"))  # never shown again
    enrolled, _credential = ks.redeem_code(db_session, code)
    assert enrolled.code == "STP-SP1-K1"
    assert [e.action for e in events(db_session)] == ["kiosk.registered", "kiosk.enrolled"]


def test_enrol_refuses_an_unknown_or_retired_service_point(client, db_session):
    city = small_city(db_session)
    city.service_points["STP-SP1"].active = False
    db_session.commit()
    as_admin(client)
    assert "STP-SP1" not in text(get(client, "/admin/kiosks/new"))
    resp = post_form(client, "/admin/kiosks/new", {"service_point": "STP-SP1"})
    assert resp.status_code == 400 and "Not a valid choice" in text(resp)
    assert db_session.scalar(select(Kiosk)) is None


def test_status_list_marks_kiosks_not_seen_for_an_hour(client, db_session):
    small_city(db_session)
    fresh = ks.register_kiosk(db_session, "STP-SP1", "Fresh")
    ks.redeem_code(db_session, fresh.code)
    old = ks.register_kiosk(db_session, "STP-SP1", "Old")
    old_kiosk, _ = ks.redeem_code(db_session, old.code)
    fresh.kiosk.queue_length, fresh.kiosk.software_version = 3, "1.4.2"
    old_kiosk.last_seen_at = utcnow() - timedelta(hours=2)
    db_session.commit()
    as_admin(client)
    html = text(get(client, "/admin/kiosks"))
    rows = {m.group(1): m.group(0) for m in re.finditer(r'<tr class="[^"]*" id="kiosk-([^"]+)">.*?</tr>', html, re.S)}
    assert "Not seen for over an hour" in rows[old_kiosk.code] and "is-stale" in rows[old_kiosk.code]
    assert "Not seen for over an hour" not in rows[fresh.kiosk.code]
    assert "1.4.2" in rows[fresh.kiosk.code] and '<td class="num">3</td>' in rows[fresh.kiosk.code]
    assert "Kiosks not seen for over an hour: 1." in html


def test_rename_new_code_and_revoke(client, db_session):
    small_city(db_session)
    enrolment = ks.register_kiosk(db_session, "STP-SP1", "Tablet")
    db_session.commit()
    kid = enrolment.kiosk.id
    as_admin(client)
    empty = post_form(client, f"/admin/kiosks/{kid}/rename", {"name": " "})
    assert empty.status_code == 400 and "Enter a name." in text(empty)
    assert post_form(client, f"/admin/kiosks/{kid}/rename", {"name": "Quầy 3"}).status_code == 302
    assert kiosk(db_session, "STP-SP1-K1").name == "Quầy 3"
    fresh = post_form(client, f"/admin/kiosks/{kid}/new-code", {"confirm": "y"})
    code = re.search(r'<code id="enrolment-code">([A-Z0-9-]+)</code>', text(fresh)).group(1)
    with pytest.raises(ks.KioskError) as replaced:
        ks.redeem_code(db_session, enrolment.code)
    assert replaced.value.code == "enrolment_unknown"
    db_session.rollback()
    refused = post_form(client, f"/admin/kiosks/{kid}/revoke", {})
    assert refused.status_code == 400 and kiosk(db_session, "STP-SP1-K1").revoked_at is None
    assert post_form(client, f"/admin/kiosks/{kid}/revoke", {"confirm": "y"}).status_code == 302
    assert kiosk(db_session, "STP-SP1-K1").revoked_at is not None
    with pytest.raises(ks.KioskError) as revoked:
        ks.redeem_code(db_session, code)
    assert revoked.value.code == "enrolment_revoked"
    assert [e.action for e in events(db_session)][-3:] == ["org.kiosk.update", "kiosk.code_reissued", "kiosk.revoked"]
    assert "revoked" in text(get(client, "/admin/kiosks"))


def test_home_affairs_sees_the_list_but_cannot_change_kiosks(client, db_session):
    small_city(db_session)
    ks.register_kiosk(db_session, "STP-SP1", "Tablet")
    db_session.commit()
    as_user(client, "noivu")
    html = text(get(client, "/admin/kiosks"))
    assert "STP-SP1-K1" in html and "Enrol a kiosk" not in html and "Revoke" not in html
    assert get(client, "/admin/kiosks/new").status_code == 403
