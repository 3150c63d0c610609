"""User pages and the forced password change: create with role and scope, change role/scope, deactivate,
force a reset; nobody raises their own role or deactivates themselves; passwords ≥ 12 characters."""

from __future__ import annotations

from sqlalchemy import select

from survey.auth.models import User
from tests.admin.adminkit import as_admin, csrf_token, events, forget_user, get, login, post_form, text
from tests.factories import PASSWORD, small_city

NEW_PASSWORD = "a-new-long-password"


def user(session, name: str) -> User:
    session.expire_all()
    return session.scalar(select(User).where(User.username == name))


def new_user(client, **data):
    base = {"username": "lan", "display_name": "Nguyễn Thị Lan", "role": "agency_viewer", "agency": "", "unit": "",
            "password": "temporary-pass-1", "password2": "temporary-pass-1", "must_change_password": "y"}
    return post_form(client, "/admin/users/new", {**base, **data})


def test_create_users_with_their_scope(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    no_scope = new_user(client)
    assert no_scope.status_code == 400 and "An agency viewer needs an agency." in text(no_scope)
    resp = new_user(client, agency=str(city.agencies["STP"].id))
    assert resp.status_code == 302
    lan = user(db_session, "lan")
    assert lan.role == "agency_viewer" and lan.agency.code == "STP" and lan.unit is None and lan.must_change_password
    assert lan.password_hash != "temporary-pass-1"
    manager = new_user(client, username="minh", role="unit_manager", unit=str(city.units["NK"].id),
                       agency=str(city.agencies["STP"].id))
    assert manager.status_code == 302
    minh = user(db_session, "minh")
    assert minh.unit.code == "NK" and minh.agency is None  # the scope that does not apply is dropped
    (event,) = events(db_session, "user.create")[:1]
    assert event.after["agency"] == "STP" and "password_hash" not in event.after


def test_create_user_failures(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    stp = str(city.agencies["STP"].id)
    short = new_user(client, agency=stp, password="short-pw", password2="short-pw")
    assert short.status_code == 400 and "at least 12 characters" in text(short)
    differ = new_user(client, agency=stp, password2="something-else-1")
    assert differ.status_code == 400 and "The two passwords differ." in text(differ)
    taken = new_user(client, agency=stp, username="tuphap")
    assert taken.status_code == 400 and "This user name is already taken." in text(taken)
    assert user(db_session, "lan") is None


def test_change_role_and_scope(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    tuphap = user(db_session, "tuphap")
    resp = post_form(client, f"/admin/users/{tuphap.id}/edit", {
        "display_name": "Tư pháp", "role": "unit_manager", "agency": "", "unit": str(city.units["BT"].id)})
    assert resp.status_code == 302
    changed = user(db_session, "tuphap")
    assert changed.role == "unit_manager" and changed.unit.code == "BT" and changed.agency is None
    (event,) = events(db_session, "user.update")
    assert event.before["role"] == "agency_viewer" and event.after["role"] == "unit_manager"
    assert event.before["agency"] == "STP" and event.after["unit"] == "BT"


def test_nobody_changes_their_own_role_or_deactivates_themselves(client, db_session):
    small_city(db_session)
    as_admin(client)
    me = user(db_session, "admin")
    resp = post_form(client, f"/admin/users/{me.id}/edit", {"display_name": "me", "role": "home_affairs",
                                                            "agency": "", "unit": ""})
    assert resp.status_code == 400 and "You cannot change your own role." in text(resp)
    assert user(db_session, "admin").role == "admin"
    refused = get(client, f"/admin/users/{me.id}/deactivate")
    assert refused.status_code == 302 and user(db_session, "admin").active
    forget_user()
    token = csrf_token(text(client.get("/admin/users")))
    forget_user()
    client.post(f"/admin/users/{me.id}/deactivate", data={"csrf_token": token, "confirm": "y"})
    assert user(db_session, "admin").active


def test_deactivated_user_cannot_log_in_and_can_be_reactivated(app, client, db_session):
    small_city(db_session)
    as_admin(client)
    target = user(db_session, "tuphap")
    assert post_form(client, f"/admin/users/{target.id}/deactivate", {}).status_code == 400
    assert post_form(client, f"/admin/users/{target.id}/deactivate", {"confirm": "y"}).status_code == 302
    assert not user(db_session, "tuphap").active
    other = app.test_client()
    assert login(other, "tuphap").status_code == 200  # the form again: refused
    post_form(client, "/admin/users", {}, to=f"/admin/users/{target.id}/reactivate")
    assert user(db_session, "tuphap").active
    assert [e.action for e in events(db_session)] == ["user.deactivate", "user.activate"]


def test_forced_password_change_at_next_login(app, client, db_session):
    small_city(db_session)
    as_admin(client)
    target = user(db_session, "tuphap")
    short = post_form(client, f"/admin/users/{target.id}/reset-password", {"temporary": "short", "confirm": "y"})
    assert short.status_code == 400 and not user(db_session, "tuphap").must_change_password
    resp = post_form(client, f"/admin/users/{target.id}/reset-password",
                     {"temporary": "temporary-pass-2", "confirm": "y"})
    assert resp.status_code == 302 and user(db_session, "tuphap").must_change_password
    them = app.test_client()
    assert login(them, "tuphap", PASSWORD).status_code == 200  # the old password no longer works
    logged = login(them, "tuphap", "temporary-pass-2")
    assert logged.status_code == 302 and "/auth/password" in logged.headers["Location"]
    blocked = get(them, "/dashboard/")
    assert blocked.status_code == 302 and "/auth/password" in blocked.headers["Location"]
    same = post_form(them, "/auth/password", {"current": "temporary-pass-2", "new": "temporary-pass-2",
                                              "repeat": "temporary-pass-2"})
    assert same.status_code == 200 and user(db_session, "tuphap").must_change_password
    short = post_form(them, "/auth/password", {"current": "temporary-pass-2", "new": "short", "repeat": "short"})
    assert "Mật khẩu phải có ít nhất 12 ký tự." in text(short)  # their language: Vietnamese by default
    wrong = post_form(them, "/auth/password", {"current": "nope-nope-nope", "new": NEW_PASSWORD,
                                               "repeat": NEW_PASSWORD})
    assert "Mật khẩu hiện tại không đúng." in text(wrong)
    done = post_form(them, "/auth/password", {"current": "temporary-pass-2", "new": NEW_PASSWORD,
                                              "repeat": NEW_PASSWORD})
    assert done.status_code == 302
    assert not user(db_session, "tuphap").must_change_password
    after = get(them, "/dashboard/")
    assert after.status_code == 200 or "/auth/password" not in after.headers["Location"]
    assert [e.action for e in events(db_session)] == ["user.password_reset", "user.password_changed"]


def test_forced_change_without_a_temporary_password_keeps_the_current_one(app, client, db_session):
    small_city(db_session)
    as_admin(client)
    target = user(db_session, "noivu")
    post_form(client, f"/admin/users/{target.id}/reset-password", {"temporary": "", "confirm": "y"})
    them = app.test_client()
    logged = login(them, "noivu", PASSWORD)
    assert logged.status_code == 302 and "/auth/password" in logged.headers["Location"]
