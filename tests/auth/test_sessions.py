"""Ending a session ends it everywhere: a cookie copied before logout, a password change or reset,
deactivation or a role/scope change opens nothing afterwards."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from survey.auth import user_service as us
from tests.dashboard.helpers import forget_user, login, page_token
from tests.factories import PASSWORD, small_city


@pytest.fixture
def city(db_session):
    return small_city(db_session)


def _signed_in(client: FlaskClient, url: str = "/dashboard/") -> bool:
    forget_user()
    resp = client.get(url)
    if resp.status_code == 302:
        assert "/auth/login" in resp.headers["Location"]
        return False
    assert resp.status_code == 200, resp.status_code
    return True


def _copy(client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of `client`'s session cookie (as a thief would)."""
    thief = client.application.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def _logged_in(app, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def test_cookie_copied_before_logout_stops_working(app, city):
    owner = _logged_in(app, "noivu")
    thief = _copy(owner)
    other_browser = _logged_in(app, "noivu")
    assert _signed_in(thief) and _signed_in(owner) and _signed_in(other_browser)
    token = page_token(owner, "/dashboard/")
    assert owner.post("/auth/logout", data={"csrf_token": token}).status_code == 302
    assert not _signed_in(owner)
    assert not _signed_in(thief)
    assert not _signed_in(other_browser)  # logout ends every session of the user
    assert _signed_in(_logged_in(app, "noivu"))  # and a new login works


def test_own_password_change_ends_other_sessions_but_keeps_this_one(app, city):
    me = _logged_in(app, "noivu")
    elsewhere = _logged_in(app, "noivu")
    copied = _copy(me)
    token = page_token(me, "/auth/password")
    resp = me.post("/auth/password", data={"current": PASSWORD, "new": "a brand new password 42",
                                           "repeat": "a brand new password 42", "csrf_token": token})
    assert resp.status_code == 302
    assert _signed_in(me)
    assert not _signed_in(elsewhere)
    assert not _signed_in(copied)  # the cookie from before the change


@pytest.mark.parametrize("change", ["force_reset", "deactivate", "role", "scope"])
def test_administrator_changes_end_every_session_of_the_user(app, db_session, city, change):
    username = "ninhkieu"
    victim = _logged_in(app, username)
    assert _signed_in(victim)
    admin, user = city.users["admin"], city.users[username]
    if change == "force_reset":
        us.force_password_reset(db_session, user)
    elif change == "deactivate":
        us.set_active(db_session, admin, user, False)
    elif change == "role":
        us.update_user(db_session, admin, user, role="home_affairs", display_name=user.display_name)
    else:
        us.update_user(db_session, admin, user, role="unit_manager", display_name=user.display_name,
                       unit=city.units["BT"])
    db_session.commit()
    assert not _signed_in(victim)


def test_display_name_change_keeps_the_session(app, db_session, city):
    victim = _logged_in(app, "ninhkieu")
    user = city.users["ninhkieu"]
    us.update_user(db_session, city.users["admin"], user, role=user.role, display_name="Quản lý Ninh Kiều",
                   unit=user.unit)
    db_session.commit()
    assert _signed_in(victim)


def test_forced_reset_through_the_admin_page_ends_the_open_session(app, city):
    victim = _logged_in(app, "tuphap")
    admin = _logged_in(app, "admin")
    user_id = city.users["tuphap"].id
    token = page_token(admin, f"/admin/users/{user_id}/reset-password")
    resp = admin.post(f"/admin/users/{user_id}/reset-password",
                      data={"csrf_token": token, "temporary": "", "confirm": "y"})
    assert resp.status_code in (302, 303)
    assert not _signed_in(victim, "/dashboard/agency/STP")
