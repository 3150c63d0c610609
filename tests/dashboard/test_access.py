"""The full role × route matrix of the agency dashboards: every page and export, with guessed codes and ids."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from survey.respond.models import Comment, Response
from tests.dashboard.helpers import login, page_token
from tests.results.factories import city_with_responses

AGENCIES = ["STP", "UBND-NK", "UBND-BT", "UBND-NK-TA"]
VISIBLE = {
    "admin": set(AGENCIES),
    "noivu": set(AGENCIES),
    "ninhkieu": {"UBND-NK", "UBND-NK-TA"},
    "tuphap": {"STP"},
}
NAMES = {"STP": "Sở Tư pháp", "UBND-NK": "UBND quận Ninh Kiều", "UBND-BT": "UBND quận Bình Thủy",
         "UBND-NK-TA": "UBND phường Tân An"}


def _routes(code: str) -> list[str]:
    base = f"/dashboard/agency/{code}"
    return [base, f"{base}?format=csv", f"{base}?format=xlsx", f"{base}?format=csv&table=items",
            f"{base}/comments", f"{base}/comments?format=csv", f"{base}/comments?format=xlsx&q=a"]


@pytest.fixture
def data(db_session):
    return city_with_responses(db_session, per_point=6, months=1)


def _assert_no_leak(resp, code: str) -> None:
    assert resp.status_code in (403, 404), resp.status_code
    body = resp.get_data(as_text=True)
    assert NAMES[code] not in body
    assert not re.search(r"\d+[,.]\d+\s?%", body)  # no figure of any kind
    assert "ha-table" not in body and "comment-text" not in body
    assert "Content-Disposition" not in resp.headers


@pytest.mark.parametrize("username", sorted(VISIBLE))
def test_role_route_matrix(client, data, username):
    login(client, username)
    for code in AGENCIES:
        for url in _routes(code):
            resp = client.get(url)
            if code in VISIBLE[username]:
                assert resp.status_code == 200, (username, url)
            else:
                _assert_no_leak(resp, code)
    # guessed codes and foreign parameters
    for url in ["/dashboard/agency/NOPE", "/dashboard/agency/NOPE?format=csv", "/dashboard/agency/NOPE/comments",
                "/dashboard/agency/%27%20OR%201=1--"]:
        assert client.get(url).status_code == 404
    # a format that does not exist: refused (400) where the agency may be seen, else the agency is 404 first
    resp = client.get("/dashboard/agency/STP?format=pdf")
    assert resp.status_code == (400 if "STP" in VISIBLE[username] else 404)
    assert "Content-Disposition" not in resp.headers
    own = sorted(VISIBLE[username])[0]
    for url in [f"/dashboard/agency/{own}?sp=UBND-BT-SP1", f"/dashboard/agency/{own}?format=csv&sp=UBND-BT-SP1",
                f"/dashboard/agency/{own}/comments?sp=UBND-BT-SP1&format=csv",
                f"/dashboard/agency/{own}?format=csv&table=nope"]:
        resp = client.get(url)
        assert resp.status_code == 404, url
        assert "UBND quận Bình Thủy" not in resp.get_data(as_text=True)


def test_landing_per_role(client, data):
    login(client, "tuphap")
    resp = client.get("/dashboard/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/dashboard/agency/STP")
    for username in ("admin", "noivu", "ninhkieu"):
        client = client.application.test_client()
        login(client, username)
        body = client.get("/dashboard/").get_data(as_text=True)
        for code in AGENCIES:
            assert (NAMES[code] in body) == (code in VISIBLE[username]), (username, code)
        csv_body = client.get("/dashboard/?format=csv").get_data(as_text=True)
        for code in AGENCIES:
            assert (NAMES[code] in csv_body) == (code in VISIBLE[username]), (username, code)


def test_anonymous_is_sent_to_login(client, data):
    for url in ["/dashboard/", "/dashboard/agency/STP", "/dashboard/agency/STP?format=csv",
                "/dashboard/agency/STP/comments"]:
        resp = client.get(url)
        assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"]
    assert client.post("/dashboard/comments/1/hide").status_code in (302, 400)


def test_hiding_is_refused_outside_moderation_scope(client, db_session, data):
    comment_of = {}
    for c, agency_id in db_session.execute(select(Comment, Response.agency_id).join(Response)):
        code = next(k for k, a in data.city.agencies.items() if a.id == agency_id)
        comment_of.setdefault(code, c.id)
    assert {"STP", "UBND-BT", "UBND-NK"} <= set(comment_of)

    def hide(cid: int) -> int:
        token = _token()
        return client.post(f"/dashboard/comments/{cid}/hide", data={"reason": "x", "csrf_token": token}).status_code

    def _token() -> str:
        return page_token(client, f"/dashboard/agency/{sorted(VISIBLE[who])[0]}/comments")

    who = "tuphap"
    login(client, who)
    assert hide(comment_of["STP"]) == 403  # agency viewers never moderate, even their own agency
    who = "ninhkieu"
    client = client.application.test_client()
    login(client, who)
    assert hide(comment_of["UBND-BT"]) == 404  # outside the unit manager's subtree
    assert hide(999999) == 404
    assert db_session.scalar(select(Comment.hidden_at).where(Comment.id == comment_of["UBND-BT"])) is None
    assert hide(comment_of["UBND-NK"]) == 302
