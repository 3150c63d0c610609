"""Citizens' comments: newest first, search, filters, pagination, escaping, audited hiding."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from survey.audit.models import AuditEvent
from survey.respond.models import Comment
from survey.respond.store import Submission, store_response
from tests.dashboard.helpers import login, page_token
from tests.factories import small_city
from tests.results.factories import DEFAULT_NOW, fix_clock


@pytest.fixture
def city(app, db_session):
    """Comments dated back from the app's clock, fixed: the period filter's months must not depend on the day."""
    fix_clock(app, DEFAULT_NOW)
    city = small_city(db_session)
    qv = city.questionnaires["counter-quick"]
    now = DEFAULT_NOW
    texts = [("UBND-NK-SP1", "Cán bộ rất TẬN TÌNH, cảm ơn", 1), ("UBND-NK-SP1", "Chờ quá lâu ở quầy số 2", 40),
             ("UBND-NK-SP1", "<script>alert('x')</script> 100% tệ", 3), ("UBND-NK-SP1", "Giấy tờ rõ ràng", 70),
             ("UBND-BT-SP1", "Bình Thủy: nhanh gọn", 2)]
    texts += [("UBND-NK-SP1", f"Ý kiến thứ {i}", 5 + i) for i in range(25)]
    for sp_code, text, days in texts:
        store_response(db_session, Submission(
            service_point_id=city.service_points[sp_code].id, questionnaire_version_id=qv.id,
            answers={"C.ATT": 2, "C.HANDLING": 3, "COMMENT": text}, channel="paper",
            client_id=str(uuid.uuid4()), submitted_at=now - timedelta(days=days)))
    return city


def _texts(html: str) -> list[str]:
    import re

    return re.findall(r'<blockquote class="comment-text">(.*?)</blockquote>', html, re.S)


def test_newest_first_paginated_and_escaped(client, city):
    login(client, "ninhkieu")
    html = client.get("/dashboard/agency/UBND-NK/comments").get_data(as_text=True)
    shown = _texts(html)
    assert len(shown) == 20
    assert shown[0] == "Cán bộ rất TẬN TÌNH, cảm ơn"  # 1 day old
    assert "&lt;script&gt;" in html and "<script>alert" not in html
    assert "Bình Thủy: nhanh gọn" not in html  # another agency's comment
    page2 = _texts(client.get("/dashboard/agency/UBND-NK/comments?page=2").get_data(as_text=True))
    assert len(page2) == 9 and page2[-1] == "Giấy tờ rõ ràng"  # 70 days old: last
    assert not set(shown) & set(page2)


def test_search_is_case_insensitive_and_literal(client, city):
    login(client, "ninhkieu")
    got = _texts(client.get("/dashboard/agency/UBND-NK/comments?q=QUẦY").get_data(as_text=True))
    assert got == ["Chờ quá lâu ở quầy số 2"] or got == []  # SQLite folds ASCII only (documented)
    got = _texts(client.get("/dashboard/agency/UBND-NK/comments?q=SCRIPT").get_data(as_text=True))
    assert len(got) == 1
    assert _texts(client.get("/dashboard/agency/UBND-NK/comments?q=%25").get_data(as_text=True)) == [
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; 100% tệ"]  # '%' is a literal, not a wildcard
    assert _texts(client.get("/dashboard/agency/UBND-NK/comments?q=' OR '1'='1").get_data(as_text=True)) == []


def test_period_filter(client, city):
    login(client, "ninhkieu")
    # the month of the comment stored a day ago (on the 1st of a month that is the previous month)
    from survey.respond.store import local_period

    day = local_period(DEFAULT_NOW - timedelta(days=1))
    month = f"{day.year}-{day.month:02d}"
    got = _texts(client.get(f"/dashboard/agency/UBND-NK/comments?from={month}&to={month}").get_data(as_text=True))
    assert "Giấy tờ rõ ràng" not in got and "Cán bộ rất TẬN TÌNH, cảm ơn" in got


def test_hide_with_reason_is_audited_and_hidden_from_viewers(client, db_session, city):
    target = db_session.scalar(select(Comment).where(Comment.text == "Chờ quá lâu ở quầy số 2"))
    login(client, "ninhkieu")
    token = page_token(client, "/dashboard/agency/UBND-NK/comments")
    # no reason → refused, nothing hidden
    client.post(f"/dashboard/comments/{target.id}/hide", data={"reason": "", "csrf_token": token})
    assert db_session.scalar(select(Comment.hidden_at).where(Comment.id == target.id)) is None
    resp = client.post(f"/dashboard/comments/{target.id}/hide", data={"reason": "Lời lẽ xúc phạm",
                                                                      "csrf_token": token})
    assert resp.status_code == 302
    db_session.expire_all()
    hidden = db_session.get(Comment, target.id)
    assert hidden.hidden_at is not None and hidden.hidden_reason == "Lời lẽ xúc phạm"
    assert hidden.text == "Chờ quá lâu ở quầy số 2"  # never edited
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "comment.hide"))
    assert event.target_id == str(target.id) and event.actor == "ninhkieu"
    assert event.after["reason"] == "Lời lẽ xúc phạm"
    # moderators still see it, marked; an agency viewer of that agency does not (page nor export)
    html = client.get("/dashboard/agency/UBND-NK/comments?q=quầy").get_data(as_text=True)
    assert "Lời lẽ xúc phạm" in html and "Chờ quá lâu" in html
    viewer = client.application.test_client()
    from survey.auth.models import User
    from survey.auth.passwords import hash_password
    from tests.factories import PASSWORD

    db_session.add(User(username="nkviewer", password_hash=hash_password(PASSWORD), role="agency_viewer",
                        agency_id=city.agencies["UBND-NK"].id))
    db_session.commit()
    login(viewer, "nkviewer")
    html = viewer.get("/dashboard/agency/UBND-NK/comments?q=quầy").get_data(as_text=True)
    assert "Chờ quá lâu" not in html and "Hide" not in html and "Ẩn" not in html.split("<main")[1]
    rows = list(csv.reader(io.StringIO(viewer.get("/dashboard/agency/UBND-NK/comments?format=csv")
                                       .get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 1 + 28 and not any("Chờ quá lâu" in r[2] for r in rows[1:])
