"""No redirect leaves the site, whatever is put in `?next=`, a form's `back` or the Referer header.

Every hostile target must end on the route's own fallback page; a genuine local path must still work
(so the helper is not simply "always go home")."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from survey.redirects import is_safe_local_path, safe_redirect_target
from survey.respond.models import Comment
from survey.respond.store import Submission, store_response
from tests.dashboard.helpers import csrf_token, forget_user, login, page_token
from tests.factories import PASSWORD, small_city

# The usual open-redirect bypass list: scheme-relative, backslashes, tab/newline/CRLF that browsers
# drop, percent-encoded (once and twice) slashes and controls, schemes without slashes, Unicode
# look-alikes and invisible characters.
HOSTILE = [
    "//evil.example", "///evil.example", "////evil.example", " //evil.example",
    "/\\evil.example", "\\\\evil.example", "/\\/evil.example", "\\/evil.example",
    "/\t/evil.example", "/%09/evil.example", "/\n/evil.example", "/%0a/evil.example",
    "/\r\n/evil.example", "/%0d%0a/evil.example", "/%0D%0ALocation:%20http://evil.example",
    "%2f%2fevil.example", "/%2f%2fevil.example", "/%2F%2Fevil.example", "/%252f%252fevil.example",
    "/%5cevil.example", "/%5C%5Cevil.example", "/%25%35%63evil.example",
    "http://evil.example", "https://evil.example/", "HTTP://evil.example", "http:evil.example",
    "http:/evil.example", "http:\\\\evil.example", "https:%2f%2fevil.example",
    "javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "evil.example",
    "/\uff0fevil.example", "\uff0f\uff0fevil.example", "/\u200b/evil.example", "/\u202e/evil.example",
    "/\u2028/evil.example", "/\x00/evil.example", "/%00/evil.example", "/%E2%80%8B/evil.example",
    "/%ff%fe/evil.example", "/" + "a" * 5000,
]
SAFE = ["/", "/dashboard/", "/dashboard/agency/STP?from=2022-01&to=2022-12", "/s/SP-1?lang=vi#top"]


@pytest.fixture
def city(db_session):
    return small_city(db_session)


def test_helper_refuses_every_bypass_and_keeps_local_paths() -> None:
    app = Flask(__name__)
    with app.test_request_context(base_url="http://hailong.example"):
        for target in HOSTILE:
            assert not is_safe_local_path(target), target
            assert safe_redirect_target(target, "/home") == "/home", target
        for target in SAFE:
            assert safe_redirect_target(target, "/home") == target
        assert safe_redirect_target(None, "/home") == "/home"
        # Referer: our own host is reduced to the path, anything else ignored
        assert safe_redirect_target("http://hailong.example/dashboard/?x=1", "/h", referrer=True) == "/dashboard/?x=1"
        for ref in ("http://evil.example/", "http://hailong.example.evil.example/", "//hailong.example@evil.example/",
                    "http://user@hailong.example/", "ftp://hailong.example/", "http://hailong.example//evil.example",
                    "http://[::1", "http://hailong.example/\t/evil.example"):
            assert safe_redirect_target(ref, "/h", referrer=True) == "/h", ref


def _location(resp) -> str:
    """Where the browser goes; a request refused outright (400: control characters) goes nowhere, which
    is as good as the fallback page, so it is reported as "/" and the route's fallback alike."""
    if resp.status_code == 400 and "Location" not in resp.headers:
        return "refused"
    assert resp.status_code in (301, 302, 303), resp.status_code
    return resp.headers["Location"]


def _stays(resp, fallback: str) -> bool:
    return _location(resp) in (fallback, "refused")


def test_language_switch_never_leaves_the_site(client, city):
    for target in HOSTILE:
        assert _stays(client.get("/lang/en", query_string={"next": target}), "/"), target
        if not any(ch in target for ch in "\r\n\x00\u2028"):  # a header cannot carry these
            assert _stays(client.get("/lang/en", headers={"Referer": target}), "/"), target
            assert _stays(client.get("/lang/en", headers={"Referer": "http://evil.example" + target}), "/")
    # the exact request, as sent on the wire
    assert _stays(client.get("/lang/vi?next=/%09/evil.example"), "/")
    assert _stays(client.get("/lang/vi?next=%2f%2fevil.example"), "/")
    # genuine uses still work: next, then our own Referer
    assert _location(client.get("/lang/en", query_string={"next": "/s/SP-1?x=1"})) == "/s/SP-1?x=1"
    assert _location(client.get("/lang/en", headers={"Referer": "http://localhost/dashboard/"})) == "/dashboard/"


def test_text_size_switch_never_leaves_the_site(client, city):
    for target in HOSTILE:
        assert _stays(client.get("/text-size/large", query_string={"next": target}), "/"), target
    assert _stays(client.get("/text-size/large?next=/%09/evil.example"), "/")
    assert _location(client.get("/text-size/large", query_string={"next": "/s/SP-1"})) == "/s/SP-1"


def test_login_next_never_leaves_the_site(client, city):
    for target in [*HOSTILE[:25], "/%09/evil.example", "http:evil.example", "/\uff0fevil.example"]:
        forget_user()
        page = client.get("/auth/login", query_string={"next": target})
        token = csrf_token(page.get_data(as_text=True))
        resp = client.post("/auth/login", query_string={"next": target},
                           data={"username": "noivu", "password": PASSWORD, "csrf_token": token})
        assert _stays(resp, "/homeaffairs/"), target
    forget_user()
    page = client.get("/auth/login?next=/dashboard/agency/STP")
    resp = client.post("/auth/login?next=/dashboard/agency/STP",
                       data={"username": "noivu", "password": PASSWORD,
                             "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert _location(resp) == "/dashboard/agency/STP"


def test_hide_comment_back_field_never_leaves_the_site(client, db_session, city):
    qv = city.questionnaires["counter-quick"]
    for _ in range(len(HOSTILE) + 1):
        store_response(db_session, Submission(
            service_point_id=city.service_points["UBND-NK-SP1"].id, questionnaire_version_id=qv.id,
            answers={"C.ATT": 2, "C.HANDLING": 3, "COMMENT": "Chờ lâu"}, channel="paper", client_id=str(uuid.uuid4()),
            submitted_at=datetime(2024, 5, 1, tzinfo=UTC)))
    db_session.commit()
    ids = db_session.scalars(select(Comment.id)).all()
    login(client, "ninhkieu")
    token = page_token(client, "/dashboard/agency/UBND-NK/comments")
    fallback = "/dashboard/agency/UBND-NK/comments"
    for comment_id, target in zip(ids, HOSTILE, strict=False):
        resp = client.post(f"/dashboard/comments/{comment_id}/hide",
                           data={"reason": "x", "back": target, "csrf_token": token})
        assert _stays(resp, fallback), target
    resp = client.post(f"/dashboard/comments/{ids[-1]}/hide",
                       data={"reason": "x", "back": fallback + "?page=2", "csrf_token": token})
    assert _location(resp) == fallback + "?page=2"


def _browser_host(location: str, own: str = "hailong.example") -> str:
    """Where a WHATWG-conforming browser goes for a Location header read on https://own/page: it trims C0
    controls and spaces, drops every tab and newline, reads backslashes as slashes and any number of
    leading slashes as "another host follows"; a proxy may also decode percent-escapes once more.
    Conservatively, any scheme at all counts as leaving."""
    from urllib.parse import unquote

    for candidate in (location, unquote(location)):
        cleaned = candidate.strip("".join(chr(c) for c in range(0x21)))
        cleaned = re.sub(r"[\t\n\r]", "", cleaned).replace("\\", "/")
        if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", cleaned):
            return "another scheme"
        if cleaned.startswith("//"):
            return re.split(r"[/?#]", cleaned.lstrip("/"), maxsplit=1)[0] or "no host"
    return own


PIECES = ["/", "\\", "//", "%2f", "%5c", "%09", "%0a", "\t", "\n", "\r", " ", ":", "@", "evil.example", "http", "%",
          "2f", "\uff0f", "\u200b", "\u2028", "?", "#", ".", "a", "%25"]


@settings(max_examples=500, deadline=None)
@given(st.tuples(st.sampled_from(["/", "", "\\", " ", "%2f"]), st.lists(st.sampled_from(PIECES), max_size=8))
       .map(lambda t: t[0] + "".join(t[1])))
def test_nothing_the_helper_accepts_takes_a_browser_elsewhere(target: str) -> None:
    app = Flask(__name__)
    with app.test_request_context(base_url="https://hailong.example"):
        chosen = safe_redirect_target(target, "/home")
    assert _browser_host(chosen) == "hailong.example", (target, chosen)
