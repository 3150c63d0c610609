"""After logging in, staff start on their own work, not on the public unit tree."""

from __future__ import annotations

import pytest

from tests.dashboard.helpers import forget_user, login
from tests.factories import small_city


@pytest.fixture
def city(db_session):
    return small_city(db_session)


@pytest.mark.parametrize(("username", "start"), [
    ("tuphap", "/dashboard/agency/STP"),  # agency viewer: their agency's page
    ("ninhkieu", "/homeaffairs/"),  # unit manager: the comparison of the units they oversee
    ("noivu", "/homeaffairs/"),  # Home Affairs: the comparison of every unit
    ("admin", "/admin/"),
])
def test_each_role_lands_on_its_own_start_page(client, city, username, start):
    resp = login(client, username)
    assert resp.status_code == 302 and resp.headers["Location"] == start
    forget_user()
    assert client.get(start).status_code == 200  # and may open it


def test_a_forced_password_change_comes_first_then_the_start_page(client, db_session, city):
    city.users["tuphap"].must_change_password = True
    db_session.commit()
    resp = login(client, "tuphap")
    assert resp.headers["Location"] == "/auth/password?next=/dashboard/agency/STP"
