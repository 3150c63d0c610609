"""A service point has the life cycle units and agencies have: retire, then reactivate from the tree page
(confirmation required, admin only, audited), and a page for the wrong state sends back to the tree."""

from __future__ import annotations

from sqlalchemy import select

from survey.org import service as svc
from survey.org.models import ServicePoint
from tests.admin.adminkit import as_admin, events, get, login, post_form, text
from tests.factories import small_city


def _sp(session, code: str) -> ServicePoint:
    session.expire_all()
    return session.scalars(select(ServicePoint).where(ServicePoint.code == code)).one()


def test_a_retired_service_point_is_reactivated_from_the_tree(client, db_session):
    city = small_city(db_session)
    svc.retire_service_point(db_session, city.service_points["STP-SP1"])
    db_session.commit()
    as_admin(client)
    url = f"/admin/service-points/{city.service_points['STP-SP1'].id}/reactivate"
    assert f'href="{url}"' in text(get(client, "/admin/tree"))
    assert post_form(client, url, {}).status_code == 400  # not confirmed: nothing changes
    assert _sp(db_session, "STP-SP1").retired_at is not None
    assert post_form(client, url, {"confirm": "y"}).status_code == 302
    assert _sp(db_session, "STP-SP1").retired_at is None
    event = events(db_session, "org.service_point.update")[-1]
    assert event.actor == "admin" and event.before["retired_at"] is not None and event.after["retired_at"] is None
    html = text(get(client, "/admin/tree"))
    assert "Service point STP-SP1 reactivated." in html and f'href="{url}"' not in html


def test_an_open_service_point_cannot_be_reactivated(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    resp = get(client, f"/admin/service-points/{city.service_points['STP-SP1'].id}/reactivate")
    assert resp.status_code == 302
    assert "Service point STP-SP1 is already active." in text(get(client, "/admin/tree"))


def test_only_an_admin_may_reactivate(client, db_session):
    city = small_city(db_session)
    svc.retire_service_point(db_session, city.service_points["STP-SP1"])
    db_session.commit()
    login(client, "tuphap")
    assert get(client, f"/admin/service-points/{city.service_points['STP-SP1'].id}/reactivate").status_code == 403
