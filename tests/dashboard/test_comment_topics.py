"""Comment topics on the agency page (issue 15): counts and shares over the period, click-through to the
comments of a topic, hidden comments not counted, an administrator's lexicon in the instance folder."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from survey.database import utcnow
from survey.respond.models import Comment
from survey.respond.store import Submission, store_response
from tests.dashboard.helpers import get, login
from tests.factories import small_city

NOW = datetime(2026, 3, 16, 3, 0, tzinfo=UTC)
ALL = "Tất cả ý kiến (một ý kiến có thể thuộc nhiều chủ đề hoặc không thuộc chủ đề nào)"
TEXTS = [("Chờ quá lâu ở quầy số 2", 1), ("cho lau qua, hen hoai", 2), ("Không phải chờ lâu, cán bộ nhiệt tình", 3),
         ("Thu tiền mà không có biên lai", 4), ("Phòng chờ nóng, thiếu ghế ngồi", 5), ("Không có ý kiến", 6),
         ("Xếp hàng cả buổi sáng", 60)]


@pytest.fixture
def city(app, db_session):
    app.config["HAILONG_N_MIN"] = 1  # a handful of comments: shares shown (suppression tested below)
    city = small_city(db_session)
    qv = city.questionnaires["counter-quick"]
    for text, days in TEXTS:
        store_response(db_session, Submission(
            service_point_id=city.service_points["UBND-NK-SP1"].id, questionnaire_version_id=qv.id,
            answers={"C.ATT": 2, "C.HANDLING": 3, "COMMENT": text}, channel="paper",
            client_id=str(uuid.uuid4()), submitted_at=NOW - timedelta(days=days)))
    return city


def _table(html: str) -> dict[str, list[str]]:
    section = html.split('id="table-topics"')[1].split("</table>")[0]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", section, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        if cells and cells[0]:
            rows[cells[0]] = cells[1:]
    return rows


def _texts(html: str) -> list[str]:
    return re.findall(r'<blockquote class="comment-text">(.*?)</blockquote>', html, re.S)


def test_topics_table_counts_and_shares_over_the_period(client, city):
    login(client, "ninhkieu")
    html = get(client, "/dashboard/agency/UBND-NK?from=2026-02&to=2026-03").get_data(as_text=True)
    rows = _table(html)
    # 6 comments in Feb-Mar (the 60-day-old one is in January); waiting: "Chờ quá lâu", "cho lau qua"
    # ("Không phải chờ lâu" is praise, not a complaint about waiting)
    assert rows["Chờ đợi, trễ hẹn"][0] == "2"
    assert rows["Khen ngợi"][0] == "1"
    assert rows["Phí, lệ phí, tiền ngoài quy định, nhũng nhiễu"][0] == "1"
    assert rows["Cơ sở vật chất"][0] == "1"
    assert rows["Thái độ cán bộ"][0] == "0"
    assert rows[ALL][0] == "6"
    assert rows["Chờ đợi, trễ hẹn"][1] == "33,3%"
    # the link leads to exactly those comments
    href = re.search(r'<a href="([^"]*topic=waiting[^"]*)">Chờ đợi', html).group(1).replace("&amp;", "&")
    assert "from=2026-02" in href
    got = _texts(get(client, href).get_data(as_text=True))
    assert sorted(got) == ["Chờ quá lâu ở quầy số 2", "cho lau qua, hen hoai"]


def test_hidden_comments_are_not_counted(client, db_session, city):
    c = db_session.scalar(select(Comment).where(Comment.text == "Chờ quá lâu ở quầy số 2"))
    c.hidden_at, c.hidden_reason = utcnow(), "test"
    db_session.commit()
    login(client, "ninhkieu")  # a moderator: the hidden comment is listed to them, but never counted
    rows = _table(get(client, "/dashboard/agency/UBND-NK?from=2026-02&to=2026-03").get_data(as_text=True))
    assert rows["Chờ đợi, trễ hẹn"][0] == "1"
    assert rows[ALL][0] == "5"


def test_comment_page_shows_topics_and_rejects_an_unknown_topic(client, city):
    login(client, "ninhkieu")
    html = get(client, "/dashboard/agency/UBND-NK/comments?topic=fees").get_data(as_text=True)
    assert _texts(html) == ["Thu tiền mà không có biên lai"]
    assert "Chủ đề: <span class=\"topic-tag\">Phí, lệ phí, tiền ngoài quy định, nhũng nhiễu</span>" in html
    assert get(client, "/dashboard/agency/UBND-NK/comments?topic=nonsense").status_code == 404


def test_topics_table_export_and_vietnamese_labels(client, city):
    login(client, "ninhkieu")
    resp = get(client, "/dashboard/agency/UBND-NK?from=2026-02&to=2026-03&format=csv&table=topics")
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1][:2] == ["Chờ đợi, trễ hẹn", "2"]


def test_an_administrators_lexicon_in_the_instance_folder_is_used(client, city, app, tmp_path, monkeypatch):
    from analysis.topics import DEFAULT_LEXICON

    monkeypatch.setattr(app, "instance_path", str(tmp_path))  # not the shared instance folder
    own = tmp_path / "topics-vi.yaml"
    text = DEFAULT_LEXICON.read_text(encoding="utf-8").replace('label: {vi: "Cơ sở vật chất", en: "Facilities"}',
                                                               'label: {vi: "Nhà cửa", en: "Building"}')
    own.write_text(text, encoding="utf-8")
    try:
        login(client, "ninhkieu")
        rows = _table(get(client, "/dashboard/agency/UBND-NK?from=2026-02&to=2026-03").get_data(as_text=True))
        assert rows["Nhà cửa"][0] == "1"
        own.write_text("topics: [broken", encoding="utf-8")  # a broken copy: the shipped lexicon, no 500
        rows = _table(get(client, "/dashboard/agency/UBND-NK?from=2026-02&to=2026-03").get_data(as_text=True))
        assert rows["Cơ sở vật chất"][0] == "1"
    finally:
        own.unlink(missing_ok=True)


def test_an_edit_of_the_learned_weights_alone_applies_at_once(client, city, app, tmp_path, monkeypatch):
    """The instance lexicon names its weights file; changing only that file changes the counts."""
    from analysis.topics import DEFAULT_LEXICON

    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    (tmp_path / "topics-vi.yaml").write_text(DEFAULT_LEXICON.read_text(encoding="utf-8"), encoding="utf-8")
    shipped = (DEFAULT_LEXICON.parent / "topic-weights-vi.tsv").read_text(encoding="utf-8")
    weights = tmp_path / "topic-weights-vi.tsv"
    weights.write_text(shipped, encoding="utf-8")
    login(client, "ninhkieu")
    url = "/dashboard/agency/UBND-NK?from=2026-02&to=2026-03"
    before = _table(get(client, url).get_data(as_text=True))["Cơ sở vật chất"][0]
    # an administrator gives every comment the facilities topic through its (bias) line
    weights.write_text(re.sub(r"^facilities\t\(bias\)\t\S+$", "facilities\t(bias)\t50", shipped, flags=re.M),
                       encoding="utf-8")
    after = _table(get(client, url).get_data(as_text=True))["Cơ sở vật chất"][0]
    assert (before, after) == ("1", "6")  # the 6 comments of Feb–Mar


def rows_of(html: str, table: str) -> dict[str, list[str]]:
    """The body rows of a page table by their heading cell (the "no data" row has none)."""
    section = html.split(f'id="table-{table}"')[1].split("</table>")[0].split("<tbody>")[1]
    return {cells[0]: cells[1:] for row in re.findall(r"<tr>(<th scope=\"row\">.*?)</tr>", section, re.S)
            if (cells := [re.sub(r"<[^>]+>", "", c).strip()
                          for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]) and cells[0]}


def test_topic_trend_per_month_with_counts_shares_and_links(client, city):
    login(client, "ninhkieu")
    html = get(client, "/dashboard/agency/UBND-NK?from=2026-01&to=2026-03").get_data(as_text=True)
    counts, shares = rows_of(html, "topics_trend"), rows_of(html, "topics_share")
    head = re.findall(r"<th scope=\"col\"[^>]*>(.*?)</th>", html.split('id="table-topics_trend"')[1])[:4]
    assert head[:3] == ["Kỳ", "Số ý kiến", "Thái độ cán bộ"]
    # January: "Xếp hàng cả buổi sáng" (waiting); February: nobody commented, still shown; March: the other six
    assert list(counts) == ["Tháng 1/2026", "Tháng 2/2026", "Tháng 3/2026"]
    cols = ["n", "attitude", "waiting", "fees", "paperwork", "guidance", "facilities", "online", "praise"]
    jan, feb, mar = (dict(zip(cols, counts[m], strict=True)) for m in counts)
    assert (jan["n"], jan["waiting"]) == ("1", "1")
    assert feb["n"] == "0"
    assert (mar["n"], mar["waiting"], mar["fees"]) == ("6", "2", "1")
    assert dict(zip(cols, shares["Tháng 3/2026"], strict=True))["waiting"] == "33,3%"
    assert dict(zip(cols, shares["Tháng 1/2026"], strict=True))["waiting"] == "100,0%"
    # a period's link lists that period's comments
    href = re.search(r'<a href="([^"]*)">Tháng 1/2026', html).group(1).replace("&amp;", "&")
    assert _texts(get(client, href).get_data(as_text=True)) == ["Xếp hàng cả buổi sáng"]


def test_topic_trend_by_quarter_over_more_than_a_year_and_exported(client, city):
    login(client, "ninhkieu")
    html = get(client, "/dashboard/agency/UBND-NK?from=2025-01&to=2026-03").get_data(as_text=True)
    counts = rows_of(html, "topics_trend")
    assert list(counts) == ["Quý I/2025", "Quý II/2025", "Quý III/2025", "Quý IV/2025", "Quý I/2026"]
    assert counts["Quý I/2026"][0] == "7"
    resp = get(client, "/dashboard/agency/UBND-NK?from=2025-01&to=2026-03&format=csv&table=topics_share")
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[-1][:2] == ["Quý I/2026", "7"] and abs(float(rows[-1][3]) - 3 / 7) < 1e-9


def test_a_share_of_few_comments_is_shown_beside_its_count(app, client, city):
    """Under n_min comments the share was hidden while the topic's count and the total stayed in the same row:
    one division away, and nothing to protect (the viewer reads the comments themselves, each linked from its
    count; survey/dashboard/comment_topics.py).  The share is shown; the files say it rests on few comments."""
    app.config["HAILONG_N_MIN"] = 5  # March has 6 comments, January 1, February none
    login(client, "ninhkieu")
    html = get(client, "/dashboard/agency/UBND-NK?from=2026-01&to=2026-03").get_data(as_text=True)
    counts, shares = rows_of(html, "topics_trend"), rows_of(html, "topics_share")
    assert shares["Tháng 3/2026"][2] == "33,3%"
    # January's one comment: every share is its count over the total, as printed beside it
    assert counts["Tháng 1/2026"][0] == shares["Tháng 1/2026"][0] == "1"
    assert shares["Tháng 1/2026"][1:] == ["100,0%" if c == "1" else "0,0%" for c in counts["Tháng 1/2026"][1:]]
    assert "chưa đủ ý kiến" not in html.lower()
    resp = get(client, "/dashboard/agency/UBND-NK?from=2026-01&to=2026-03&format=csv&table=topics_share")
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    jan = next(r for r in rows if r[0] == "Tháng 1/2026")
    assert float(jan[3]) == 1.0 and "n = 1" in jan[-1]  # the waiting share; the note: few comments
    app.config["HAILONG_N_MIN"] = 7  # the topic table over Feb-Mar: 6 comments
    html = get(client, "/dashboard/agency/UBND-NK?from=2026-02&to=2026-03").get_data(as_text=True)
    section = html.split('id="table-topics"')[1].split("</table>")[0]
    assert re.search(r"Chờ đợi, trễ hẹn</a></th>\s*<td[^>]*>2</td>\s*<td[^>]*>33,3%</td>", section)
    resp = get(client, "/dashboard/agency/UBND-NK?from=2026-02&to=2026-03&format=csv&table=topics")
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1][:2] == ["Chờ đợi, trễ hẹn", "2"] and abs(float(rows[1][2]) - 2 / 6) < 1e-9 and "6" in rows[1][3]
