"""Comment topics across agencies (issue 15 §3): shares per agency for the chosen period, topics rising since
the previous period, role scoping, CSV/XLSX export, links to the (redacted) comments."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from survey.database import utcnow
from survey.respond.models import Comment
from survey.respond.store import Submission, store_response
from tests.dashboard.helpers import get, login
from tests.dashboard.test_comment_topics import rows_of
from tests.factories import small_city

NOW = datetime(2026, 3, 16, 3, 0, tzinfo=UTC)
Q1, Q4 = 10, 120  # days before NOW: 6 March 2026 (Quý I/2026), 16 November 2025 (Quý IV/2025)
FEES = "Phí, lệ phí, tiền ngoài quy định, nhũng nhiễu"
COMMENTS = [("UBND-BT", "Cán bộ nhiệt tình", Q4)] * 4 + [("UBND-BT", "Thu tiền mà không có biên lai", Q1)] * 3 + [
    ("UBND-BT", "Cán bộ nhiệt tình", Q1), ("UBND-NK", "Chờ quá lâu", Q1), ("UBND-NK", "Chờ quá lâu", Q4),
    ("STP", "Thu tiền mà không có biên lai", Q1)]


@pytest.fixture
def city(app, db_session):
    app.config["HAILONG_N_MIN"] = 1  # a handful of comments: shares shown (suppression tested below)
    city = small_city(db_session)
    qv = city.questionnaires["counter-quick"]
    for agency, text, days in COMMENTS:
        store_response(db_session, Submission(
            service_point_id=city.service_points[f"{agency}-SP1"].id, questionnaire_version_id=qv.id,
            answers={"C.ATT": 2, "C.HANDLING": 3, "COMMENT": text}, channel="paper",
            client_id=str(uuid.uuid4()), submitted_at=NOW - timedelta(days=days)))
    return city


def test_home_affairs_sees_every_agency_and_the_rising_topic(client, city):
    login(client, "noivu")
    html = get(client, "/dashboard/topics/").get_data(as_text=True)
    assert 'selected>Quý I/2026' in html  # the latest quarter with comments by default
    shares = rows_of(html, "topic_shares")
    assert set(shares) == {"UBND quận Bình Thủy", "UBND quận Ninh Kiều", "Sở Tư pháp"}
    # columns: comments, then the topics in lexicon order (attitude, waiting, fees, ...)
    assert shares["UBND quận Bình Thủy"][:4] == ["4", "0,0%", "0,0%", "75,0%"]
    assert shares["UBND quận Ninh Kiều"][:3] == ["1", "0,0%", "100,0%"]
    rises = rows_of(html, "topic_rises")
    # fees at Bình Thủy: 0 of 4 → 3 of 4; Sở Tư pháp's single fees comment is below the 3-comment floor
    assert list(rises) == ["UBND quận Bình Thủy"]
    assert rises["UBND quận Bình Thủy"][:5] == [FEES, "0", "0,0%", "3", "75,0%"]
    href = re.search(r'<a href="([^"]*topic=fees[^"]*)">UBND quận Bình Thủy', html).group(1).replace("&amp;", "&")
    assert "from=2026-01" in href and "to=2026-03" in href
    texts = re.findall(r'<blockquote class="comment-text">(.*?)</blockquote>', get(client, href).get_data(as_text=True))
    assert texts == ["Thu tiền mà không có biên lai"] * 3


def test_previous_quarter_and_month_views(client, city):
    login(client, "noivu")
    html = get(client, "/dashboard/topics/?period=2025-Q4").get_data(as_text=True)
    assert set(rows_of(html, "topic_shares")) == {"UBND quận Bình Thủy", "UBND quận Ninh Kiều"}
    assert "topic_rises" in html and not rows_of(html, "topic_rises")  # Q3 had no comments: no share to rise from
    html = get(client, "/dashboard/topics/?period_kind=month").get_data(as_text=True)
    assert 'selected>Tháng 3/2026' in html


@pytest.mark.parametrize(("user", "agencies"), [
    ("ninhkieu", {"UBND quận Ninh Kiều"}), ("tuphap", {"Sở Tư pháp"}),
])
def test_others_see_only_their_agencies(client, city, user, agencies):
    login(client, user)
    html = get(client, "/dashboard/topics/").get_data(as_text=True)
    assert set(rows_of(html, "topic_shares")) == agencies
    assert "Bình Thủy" not in html


def test_hidden_comments_are_not_counted(client, db_session, city):
    for c in db_session.scalars(select(Comment).where(Comment.text == "Thu tiền mà không có biên lai")).all()[:2]:
        c.hidden_at, c.hidden_reason = utcnow(), "test"
    db_session.commit()
    login(client, "noivu")
    html = get(client, "/dashboard/topics/").get_data(as_text=True)
    assert rows_of(html, "topic_shares")["UBND quận Bình Thủy"][:4] == ["2", "0,0%", "0,0%", "50,0%"]
    assert "UBND quận Bình Thủy" not in rows_of(html, "topic_rises")  # 1 fees comment: below the floor of 3


def test_exports_csv_and_xlsx(client, city):
    login(client, "noivu")
    resp = get(client, "/dashboard/topics/?period=2026-Q1&format=csv&table=topic_rises")
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1][:2] == ["UBND quận Bình Thủy", FEES] and (rows[1][2], rows[1][4]) == ("0", "3")
    assert [float(x) for x in (rows[1][3], rows[1][5], rows[1][6])] == [0.0, 0.75, 0.75]
    resp = get(client, "/dashboard/topics/?period=2026-Q1&format=xlsx")
    wb = load_workbook(io.BytesIO(resp.data))
    assert len(wb.worksheets) == 2


@pytest.mark.parametrize("query", ["?period=2026-Q9", "?period=%3Cscript%3E", "?period_kind=decade",
                                   "?format=pdf"])
def test_hostile_parameters_never_fail(client, city, query):
    login(client, "noivu")
    assert get(client, "/dashboard/topics/" + query).status_code == 400  # refused, saying why


def test_signed_out_users_are_sent_to_login(client, city):
    assert client.get("/dashboard/topics/").status_code in (302, 401, 403)


def test_the_page_is_reached_from_the_comparison_and_the_agency_page(client, city):
    login(client, "noivu")
    assert 'href="/dashboard/topics/"' in get(client, "/homeaffairs/").get_data(as_text=True)
    login(client, "tuphap")
    assert 'href="/dashboard/topics/"' in get(client, "/dashboard/agency/STP?from=2026-01&to=2026-03").get_data(
        as_text=True)


def test_shares_of_few_comments_are_shown_and_not_compared(app, client, city):
    """n_min 4: Bình Thủy has 4 comments in each quarter (shares and its fees rise shown); Ninh Kiều and the Sở
    Tư pháp have 1: their shares are shown too (they used to be hidden though the agency page printed the count
    and total beside them, and nothing asks for hiding counts of comments the viewer reads), but no rise is
    looked for."""
    app.config["HAILONG_N_MIN"] = 4
    login(client, "noivu")
    html = get(client, "/dashboard/topics/?period=2026-Q1").get_data(as_text=True)
    shares = rows_of(html, "topic_shares")
    assert shares["UBND quận Bình Thủy"][:4] == ["4", "0,0%", "0,0%", "75,0%"]
    for name in ("UBND quận Ninh Kiều", "Sở Tư pháp"):
        assert shares[name][0] == "1" and set(shares[name][1:]) <= {"0,0%", "100,0%"}, shares[name]
    assert list(rows_of(html, "topic_rises")) == ["UBND quận Bình Thủy"]
    app.config["HAILONG_N_MIN"] = 5  # now Bình Thủy too: nothing compared, its shares still shown
    html = get(client, "/dashboard/topics/?period=2026-Q1").get_data(as_text=True)
    assert rows_of(html, "topic_shares")["UBND quận Bình Thủy"][:4] == ["4", "0,0%", "0,0%", "75,0%"]
    assert "UBND quận Bình Thủy" not in html.split('id="table-topic_rises"')[1].split("</table>")[0]
    resp = get(client, "/dashboard/topics/?period=2026-Q1&format=csv&table=topic_shares")
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    row = next(r for r in rows if r and r[0] == "UBND quận Bình Thủy")
    assert row[1] == "4" and float(row[4]) == 0.75 and "n = 4" in row[-1]
