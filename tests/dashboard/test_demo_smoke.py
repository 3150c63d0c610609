"""Smoke test on the demo city: each demo role logs in and sees its agency dashboards, no more."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from survey.auth.models import User
from survey.demo.users import DEMO_USERS
from survey.org.models import Agency
from tests.dashboard.helpers import get, login


@pytest.mark.demo_db(responses=4000)
def test_demo_roles_see_their_dashboards(app, client, db_session):
    all_codes = set(db_session.scalars(select(Agency.code)))
    for du in DEMO_USERS:
        c = app.test_client()
        assert login(c, du.username, du.password).status_code == 302, du.username
        resp = get(c, "/dashboard/", follow_redirects=True)
        assert resp.status_code == 200, du.username
        html = resp.get_data(as_text=True)
        user = db_session.scalar(select(User).where(User.username == du.username))
        if du.role == "agency_viewer":
            assert user.agency.name_vi in html
            assert re.search(r'class="overall-estimate">\d+,\d+%|Chưa đủ phản hồi', html)
            other = sorted(all_codes - {user.agency.code})[0]
            assert get(c, f"/dashboard/agency/{other}").status_code == 404
        else:
            linked = set(re.findall(r'href="/dashboard/agency/([^"?]+)', html))
            assert linked and linked <= all_codes
            if du.role in ("admin", "home_affairs"):
                assert len(linked) > 10
            else:
                assert len(linked) < len(all_codes)
            code = sorted(linked)[0]
            page = get(c, f"/dashboard/agency/{code}")
            assert page.status_code == 200 and "<svg" in page.get_data(as_text=True)
