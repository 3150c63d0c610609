"""Merge agencies and service points, reactivate retired units and agencies through the admin pages:
confirmation required, admin only, audited, refusals explained in the user's language."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from survey.database import utcnow
from survey.org import service as svc
from survey.org.models import Agency, Kiosk, ServicePoint, Unit
from survey.respond.models import Response
from tests.admin.adminkit import as_admin, csrf_token, events, forget_user, get, login, post_form, text
from tests.factories import small_city


def by_code(session, model, code: str):
    session.expire_all()
    return session.scalar(select(model).where(model.code == code))


def test_merge_agency_moves_service_points_and_keeps_history(client, db_session):
    city = small_city(db_session)
    bt, nk = city.agencies["UBND-BT"], city.agencies["UBND-NK"]
    old = Response(client_id="old-1", questionnaire_version_id=city.questionnaires["counter-quick"].id,
                   agency_id=bt.id, service_point_id=city.service_points["UBND-BT-SP1"].id, channel="kiosk",
                   language="vi", submitted_at=utcnow(), received_at=utcnow(), period=date(2025, 6, 1))
    db_session.add(old)
    db_session.commit()
    as_admin(client)
    url = f"/admin/agencies/{bt.id}/merge"
    page = text(get(client, url))
    assert "Please confirm." in page and "keep their original agency" in page
    assert f'value="{nk.id}"' in page and f'value="{bt.id}"' not in page  # not offered itself
    refused = post_form(client, url, {"target": str(nk.id)})
    assert refused.status_code == 400 and "Tick the box to confirm." in text(refused)
    assert by_code(db_session, Agency, "UBND-BT").retired_at is None and events(db_session) == []
    resp = post_form(client, url, {"target": str(nk.id), "confirm": "y"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/tree")
    assert by_code(db_session, Agency, "UBND-BT").retired_at is not None
    assert by_code(db_session, ServicePoint, "UBND-BT-SP1").agency_id == nk.id
    assert db_session.get(Response, old.id).agency_id == bt.id  # history keeps its agency
    (event,) = events(db_session, "org.agency.merge")
    assert event.actor == "admin" and event.target_id == "UBND-BT" and event.after["merged_into"] == "UBND-NK"
    assert "Agency UBND-BT merged into UBND-NK." in text(get(client, "/admin/tree"))


def test_merging_an_agency_into_itself_is_refused(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    stp = city.agencies["STP"]
    resp = post_form(client, f"/admin/agencies/{stp.id}/merge", {"target": str(stp.id), "confirm": "y"})
    assert resp.status_code == 400 and "an agency cannot be merged into itself" in text(resp)
    assert by_code(db_session, Agency, "STP").retired_at is None and events(db_session) == []


def test_merging_into_itself_is_refused_in_vietnamese(client, db_session):
    city = small_city(db_session)
    as_admin(client, lang="vi")
    sp = city.service_points["STP-SP1"]
    resp = post_form(client, f"/admin/service-points/{sp.id}/merge", {"target": str(sp.id), "confirm": "y"})
    html = text(resp)
    assert resp.status_code == 400 and "cannot be merged into itself" not in html
    assert "không thể sáp nhập một điểm phục vụ vào chính nó" in html
    assert by_code(db_session, ServicePoint, "STP-SP1").active


def test_merge_target_must_be_an_offered_one(client, db_session):
    city = small_city(db_session)
    svc.retire_agency(db_session, city.agencies["UBND-NK"])
    db_session.commit()
    as_admin(client)
    stp = city.agencies["STP"]
    resp = post_form(client, f"/admin/agencies/{stp.id}/merge",
                     {"target": str(city.agencies["UBND-NK"].id), "confirm": "y"})
    assert resp.status_code == 400 and "Choose one of the listed targets." in text(resp)
    assert by_code(db_session, Agency, "STP").retired_at is None


def test_merge_service_point_moves_its_kiosks(client, db_session):
    city = small_city(db_session)
    src, dst = city.service_points["UBND-NK-SP1"], city.service_points["UBND-NK-TA-SP1"]
    svc.create_kiosk(db_session, code="K1", name="Kiosk 1", service_point=src)
    db_session.commit()
    as_admin(client)
    url = f"/admin/service-points/{src.id}/merge"
    assert "K1" in text(get(client, url))
    assert post_form(client, url, {"target": str(dst.id)}).status_code == 400
    assert by_code(db_session, ServicePoint, "UBND-NK-SP1").active
    resp = post_form(client, url, {"target": str(dst.id), "confirm": "y"})
    assert resp.status_code == 302
    assert not by_code(db_session, ServicePoint, "UBND-NK-SP1").active
    assert by_code(db_session, Kiosk, "K1").service_point_id == dst.id
    (event,) = events(db_session, "org.service_point.merge")
    assert event.actor == "admin" and event.after["merged_into"] == "UBND-NK-TA-SP1"


def test_reactivate_unit(client, db_session):
    city = small_city(db_session)
    svc.merge_units(db_session, [city.units["BT"]], city.units["NK"])
    db_session.commit()
    as_admin(client)
    url = f"/admin/units/{city.units['BT'].id}/reactivate"
    assert f'href="{url}"' in text(get(client, "/admin/tree"))
    assert "no longer marked as merged into NK" in text(get(client, url))
    assert post_form(client, url, {}).status_code == 400
    assert by_code(db_session, Unit, "BT").retired_at is not None
    assert post_form(client, url, {"confirm": "y"}).status_code == 302
    bt = by_code(db_session, Unit, "BT")
    assert bt.retired_at is None and bt.merged_into_id is None
    (event,) = events(db_session, "org.unit.reactivate")
    assert event.actor == "admin" and event.before["retired_at"] is not None
    html = text(get(client, "/admin/tree"))
    assert "Unit BT reactivated." in html and f'href="{url}"' not in html


def test_reactivate_agency_can_reopen_its_service_points(client, db_session):
    city = small_city(db_session)
    svc.retire_agency(db_session, city.agencies["STP"])
    db_session.commit()
    as_admin(client)
    url = f"/admin/agencies/{city.agencies['STP'].id}/reactivate"
    assert f'href="{url}"' in text(get(client, "/admin/tree"))
    assert post_form(client, url, {"reopen": "y"}).status_code == 400
    assert by_code(db_session, Agency, "STP").retired_at is not None
    assert post_form(client, url, {"confirm": "y", "reopen": "y"}).status_code == 302
    assert by_code(db_session, Agency, "STP").retired_at is None
    assert by_code(db_session, ServicePoint, "STP-SP1").active
    assert [e.action for e in events(db_session)][-2:] == ["org.agency.reactivate", "org.service_point.update"]


def test_reactivate_agency_without_reopening(client, db_session):
    city = small_city(db_session)
    svc.retire_agency(db_session, city.agencies["STP"])
    db_session.commit()
    as_admin(client)
    url = f"/admin/agencies/{city.agencies['STP'].id}/reactivate"
    assert post_form(client, url, {"confirm": "y"}).status_code == 302
    assert by_code(db_session, Agency, "STP").retired_at is None
    assert not by_code(db_session, ServicePoint, "STP-SP1").active


def test_actions_on_items_in_the_wrong_state_are_redirected(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    for url in (f"/admin/units/{city.units['NK'].id}/reactivate",
                f"/admin/agencies/{city.agencies['STP'].id}/reactivate"):
        resp = get(client, url)
        assert resp.status_code == 302
        assert "is already active." in text(get(client, "/admin/tree"))


def urls(city) -> list[str]:
    return [f"/admin/agencies/{city.agencies['STP'].id}/merge",
            f"/admin/service-points/{city.service_points['STP-SP1'].id}/merge",
            f"/admin/units/{city.units['NK'].id}/reactivate",
            f"/admin/agencies/{city.agencies['STP'].id}/reactivate"]


@pytest.mark.parametrize("username", ["tuphap", "ninhkieu", "noivu"])
def test_non_admins_get_403_and_change_nothing(client, db_session, username):
    city = small_city(db_session)
    login(client, username)
    forget_user()
    token = csrf_token(text(client.get("/")))
    target = str(city.agencies["UBND-NK"].id)
    for url in urls(city):
        assert get(client, url).status_code == 403, url
        forget_user()
        resp = client.post(url, data={"csrf_token": token, "confirm": "y", "target": target})
        assert resp.status_code == 403, url
    assert by_code(db_session, Agency, "STP").retired_at is None and events(db_session) == []


def test_anonymous_users_are_sent_to_the_login(client, db_session):
    city = small_city(db_session)
    for url in urls(city):
        resp = get(client, url)
        assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"], url


def test_post_without_csrf_token_changes_nothing(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    forget_user()
    resp = client.post(f"/admin/agencies/{city.agencies['STP'].id}/merge",
                       data={"target": str(city.agencies["UBND-NK"].id), "confirm": "y"})
    assert resp.status_code == 400
    assert by_code(db_session, Agency, "STP").retired_at is None and events(db_session) == []
