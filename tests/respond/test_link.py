"""The QR poster link /s/<code>: every shipped questionnaire answered from a phone, validated like the store."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from questionnaires.loader import load_file, shipped
from survey.extensions import db
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.models import Response
from tests.factories import small_city
from tests.respond.linkkit import (
    COMMENT_TEXT,
    answer_everything,
    form_page,
    fresh_clients,
    hidden,
    response_count,
    stored,
)

SHIPPED = [load_file(p).id for p in shipped()]


@pytest.fixture
def city(db_session):
    return small_city(db_session)


@pytest.fixture
def client(app):
    return fresh_clients(app)


def _point(city, instrument="sipas-2017"):
    sp = city.service_points["STP-SP1"]
    sp.link_instrument = instrument
    db.session.commit()
    return sp


@pytest.mark.parametrize("instrument", SHIPPED)
def test_every_shipped_questionnaire_is_answered_and_stored_once_as_qr(client, city, instrument):
    sp = _point(city, instrument)
    qv = city.questionnaires[instrument]
    q, item_ids = questionnaire_for(db.session, qv.id)
    html, hidden_fields = form_page(client, f"/s/{sp.code}")
    # the first section's items are on the first page, in the questionnaire's own (Vietnamese) words (the
    # other pages: tests/respond/test_form_pages.py); posting every answer at once still stores them all
    for item in q.sections[0].items:
        assert item.text.vi in html
    data, expected = answer_everything(q)
    resp = client.post(f"/s/{sp.code}", data={**hidden_fields, **data})
    assert resp.status_code == 303
    assert resp.headers["Location"].startswith("/thanks")
    response = db.session.scalar(select(Response))
    assert response_count(db.session) == 1
    assert (response.channel, response.language, response.questionnaire_version_id) == ("qr", "vi", qv.id)
    assert response.service_point_id == sp.id and response.invitation_id is None
    assert stored(db.session, response, q, item_ids) == expected
    thanks = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Xin cảm ơn!" in thanks and sp.name_vi in thanks


def test_page_is_accessible_in_structure(client, city):
    sp = _point(city)
    q, _ = questionnaire_for(db.session, city.questionnaires["sipas-2017"].id)
    html, hidden_fields = form_page(client, f"/s/{sp.code}")
    assert '<html lang="vi">' in html
    choice_items = [it for it in q.sections[0].items if it.type != "text"]
    assert html.count("<fieldset") == len(choice_items)
    assert html.count("<legend>") == len(choice_items)
    # every radio/checkbox sits inside its label; the comment box has a label pointing at it
    assert len(re.findall(r'<label class="opt[^"]*"><input type="(?:radio|checkbox)"', html)) == \
        html.count('type="radio"') + html.count('type="checkbox"')
    assert "<script" not in html  # works without JavaScript
    last = client.post(f"/s/{sp.code}", data={**hidden_fields, "page": str(len(q.sections) - 2), "do": "next"})
    html = last.get_data(as_text=True)
    assert '<label class="q-label" for="f-COMMENT">' in html and 'id="f-COMMENT"' in html
    assert 'maxlength="2000"' in html


def test_page_and_css_stay_under_100_kb_without_third_party_requests(client, city):
    for instrument in SHIPPED:
        sp = _point(city, instrument)
        page = client.get(f"/s/{sp.code}")
        html = page.get_data(as_text=True)
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
        assert assets, "the page links its stylesheets"
        total = len(page.data)
        for asset in assets:
            with client.get(asset) as static:
                assert static.status_code == 200
                total += len(static.data)
        assert total < 100_000, (instrument, total)
        # nothing is fetched from another host
        assert not re.search(r'(?:src|href)="(?:https?:)?//', html)
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_language_switch_shows_the_questionnaire_in_english(client, city):
    sp = _point(city)
    q, _ = questionnaire_for(db.session, city.questionnaires["sipas-2017"].id)
    first = client.get(f"/lang/en?next=/s/{sp.code}")
    assert first.status_code == 302 and first.headers["Location"] == f"/s/{sp.code}"
    html, hidden_fields = form_page(client, f"/s/{sp.code}")
    assert '<html lang="en">' in html
    assert q.sections[0].items[0].text.en in html and q.title.en in html
    assert ">Next<" in html
    resp = client.post(f"/s/{sp.code}", data={**hidden_fields, "OVERALL.SAT": "4"})
    assert resp.status_code == 303
    assert db.session.scalar(select(Response.language)) == "en"
    assert "Thank you!" in client.get(resp.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize(("lang", "bad_level", "too_many", "too_long", "required"), [
    ("vi", "Mức đánh giá không hợp lệ", "Vui lòng chọn tối đa 3 phương án.", "Nội dung quá dài: tối đa 2000 ký tự",
     "Vui lòng chọn một mức đánh giá."),
    ("en", "This rating is not valid", "Please choose at most 3 options.", "The text is too long: at most 2000",
     "Please choose a rating."),
])
def test_invalid_answers_get_a_message_per_field_and_nothing_is_stored(client, city, lang, bad_level, too_many,
                                                                        too_long, required):
    sp = _point(city)
    client.get(f"/lang/{lang}")
    _html, hidden_fields = form_page(client, f"/s/{sp.code}")
    data = {**hidden_fields, "E1.1": "7", "E1.EXP": ["1", "2", "3", "4"], "COMMENT": "x" * 2001, "E2.1": "3"}
    resp = client.post(f"/s/{sp.code}", data=data)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert response_count(db.session) == 0
    # the first page holding an error is shown, its errors on their fields; the others are listed with their part
    for field, message in [("E1.1", bad_level), ("E1.EXP", too_many)]:
        block = re.search(rf'id="q-{re.escape(field)}".*?</(?:fieldset|div)>', html, re.S).group(0)
        assert message in block, (field, block[:300])
        assert f'aria-describedby="err-{field}' in block
    summary = re.search(r'class="error-summary".*?</div>', html, re.S).group(0)
    part = "phần 6" if lang == "vi" else "part 6"
    for message in (too_long, required):
        assert re.search(rf"\({part}\): {re.escape(message)}", summary), (message, summary)
    # what the citizen had answered correctly is kept, as is the client id (so a resend stays idempotent)
    assert re.search(r'type="hidden" name="E2.1" value="3"', html)
    assert hidden(html, "client_id") == hidden_fields["client_id"]
    assert 'role="alert"' in html


def test_required_item_missing_is_refused(client, city):
    sp = _point(city, "counter-quick")
    _html, hidden_fields = form_page(client, f"/s/{sp.code}")
    resp = client.post(f"/s/{sp.code}", data={**hidden_fields, "C.ATT": "3"})
    assert resp.status_code == 422
    assert "Vui lòng chọn một mức đánh giá." in resp.get_data(as_text=True)
    assert response_count(db.session) == 0


def test_comment_at_the_limit_is_accepted_with_windows_line_breaks(client, city):
    sp = _point(city)
    _html, hidden_fields = form_page(client, f"/s/{sp.code}")
    text = ("a" * 99 + "\r\n") * 20  # 2,000 characters once line breaks count one, as the browser counts them
    resp = client.post(f"/s/{sp.code}", data={**hidden_fields, "OVERALL.SAT": "5", "COMMENT": text})
    assert resp.status_code == 303
    assert response_count(db.session) == 1


def test_no_csrf_token_is_refused_and_nothing_is_stored(client, city):
    sp = _point(city)
    _html, hidden_fields = form_page(client, f"/s/{sp.code}")
    resp = client.post(f"/s/{sp.code}", data={"client_id": hidden_fields["client_id"], "OVERALL.SAT": "5"})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert "Phiếu đã hết hiệu lực" in html and f'href="/s/{sp.code}"' in html
    wrong = client.post(f"/s/{sp.code}", data={**hidden_fields, "csrf_token": "forged", "OVERALL.SAT": "5"})
    assert wrong.status_code == 400
    assert response_count(db.session) == 0


def test_double_submit_stores_once(client, city):
    sp = _point(city)
    _html, hidden_fields = form_page(client, f"/s/{sp.code}")
    data = {**hidden_fields, "OVERALL.SAT": "2", "COMMENT": COMMENT_TEXT}
    first = client.post(f"/s/{sp.code}", data=data)
    second = client.post(f"/s/{sp.code}", data=data)
    assert first.status_code == second.status_code == 303
    assert response_count(db.session) == 1


def test_one_phone_answers_once_per_hour_per_service_point(app, client, city):
    sp = _point(city)
    _html, hidden_fields = form_page(client, f"/s/{sp.code}")
    assert client.post(f"/s/{sp.code}", data={**hidden_fields, "OVERALL.SAT": "5"}).status_code == 303
    # the same phone comes back: a friendly explanation instead of the form
    again = client.get(f"/s/{sp.code}")
    assert again.status_code == 429
    html = again.get_data(as_text=True)
    assert "Ông/Bà vừa trả lời gần đây" in html and "một lần trong 1 giờ" in html.replace("tiếng", "giờ")
    assert "<form" not in html.split("<main", 1)[1]
    # a second answer posted from a form opened earlier is refused too
    _h, other = form_page(app.test_client(), f"/s/{sp.code}")
    late = client.post(f"/s/{sp.code}", data={"csrf_token": hidden_fields["csrf_token"],
                                               "client_id": other["client_id"], "OVERALL.SAT": "1"})
    assert late.status_code == 429
    assert response_count(db.session) == 1
    # another phone, and the same phone at another service point, may answer
    other_sp = city.service_points["UBND-NK-SP1"]
    assert client.get(f"/s/{other_sp.code}").status_code == 200
    fresh = app.test_client()
    _h, fields = form_page(fresh, f"/s/{sp.code}")
    assert fresh.post(f"/s/{sp.code}", data={**fields, "OVERALL.SAT": "4"}).status_code == 303
    assert response_count(db.session) == 2


def test_device_limit_is_configurable(app, client, city):
    app.config["HAILONG_LINK_DEVICE_LIMIT"] = "2 per day"
    sp = _point(city)
    for _ in range(2):
        _html, fields = form_page(client, f"/s/{sp.code}")
        assert client.post(f"/s/{sp.code}", data={**fields, "OVERALL.SAT": "5"}).status_code == 303
    limited = client.get(f"/s/{sp.code}")
    assert limited.status_code == 429
    assert "2 lần trong 1 ngày" in limited.get_data(as_text=True)


def test_device_cookie_is_random_and_not_personal(client, city):
    sp = _point(city)
    client.get(f"/s/{sp.code}")
    cookie = client.get_cookie("hl_device")
    assert cookie is not None and len(cookie.value) >= 20 and cookie.http_only
    other = client.application.test_client()
    other.get(f"/s/{sp.code}")
    assert other.get_cookie("hl_device").value != cookie.value


def test_unknown_or_closed_service_point_gets_a_friendly_page(client, city):
    resp = client.get("/s/NO-SUCH-POINT")
    assert resp.status_code == 404
    assert "Không tìm thấy điểm phục vụ này" in resp.get_data(as_text=True)
    sp = _point(city, "not-published")
    closed = client.get(f"/s/{sp.code}")
    assert closed.status_code == 503
    assert "Khảo sát này hiện chưa sẵn sàng" in closed.get_data(as_text=True)


def test_larger_text_switch_without_javascript(client, city):
    sp = _point(city)
    html = client.get(f"/s/{sp.code}").get_data(as_text=True)
    assert 'class="respond"' in html and "Chữ lớn hơn" in html
    resp = client.get(f"/text-size/large?next=/s/{sp.code}")
    assert resp.status_code == 302 and resp.headers["Location"] == f"/s/{sp.code}"
    html = client.get(f"/s/{sp.code}").get_data(as_text=True)
    assert 'class="respond large-text"' in html and "Cỡ chữ thường" in html
    client.get("/text-size/normal?next=//evil.example")
    assert 'class="respond"' in client.get(f"/s/{sp.code}").get_data(as_text=True)


def test_poster_page_and_qr_svg(client, city, app):
    sp = _point(city)
    page = client.get(f"/s/{sp.code}/poster")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert sp.name_vi in html and f"{app.config['HAILONG_PUBLIC_URL']}/s/{sp.code}" in html
    assert "<svg" in html
    svg = client.get(f"/s/{sp.code}/qr.svg")
    assert svg.mimetype == "image/svg+xml" and svg.data.startswith(b"<svg")


def test_comment_is_escaped_when_the_form_comes_back(client, city):
    sp = _point(city)
    _html, hidden_fields = form_page(client, f"/s/{sp.code}")
    attack = '</textarea><script>alert("x")</script>'
    resp = client.post(f"/s/{sp.code}", data={**hidden_fields, "COMMENT": attack})  # OVERALL.SAT missing
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert attack not in html and "&lt;/textarea&gt;&lt;script&gt;" in html


def test_an_unreachable_rate_limit_store_does_not_stop_citizens(client, city, monkeypatch):
    from survey.extensions import limiter

    def down(*_args, **_kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(limiter.limiter, "hit", down)
    monkeypatch.setattr(limiter.limiter, "test", down)
    sp = _point(city)
    _html, fields = form_page(client, f"/s/{sp.code}")
    assert client.post(f"/s/{sp.code}", data={**fields, "OVERALL.SAT": "5"}).status_code == 303
    assert response_count(db.session) == 1


def test_a_locked_database_is_tried_again_and_the_answer_is_stored_once(client, city, monkeypatch):
    """SQLite answers "database is locked" under a burst of phones: the write is tried again in a fresh
    transaction (survey/database.py write_retrying) instead of losing the citizen's answer."""
    from sqlalchemy.exc import OperationalError

    from survey.respond import link

    sp = _point(city)
    real_store, attempts = link.store_response, []

    def locked_once(session, sub, **kwargs):
        attempts.append(session().in_transaction())  # the scoped session's own session
        if len(attempts) == 1:
            raise OperationalError("INSERT INTO response …", {}, Exception("database is locked"))
        return real_store(session, sub, **kwargs)

    monkeypatch.setattr(link, "store_response", locked_once)
    _html, hidden_fields = form_page(client, f"/s/{sp.code}")
    resp = client.post(f"/s/{sp.code}", data={**hidden_fields, "OVERALL.SAT": "2", "COMMENT": COMMENT_TEXT})
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/thanks")
    assert attempts == [False, False]  # each try starts a fresh transaction
    assert response_count(db.session) == 1


def test_another_database_error_is_not_tried_again(client, city, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from survey.respond import link

    sp = _point(city)
    attempts: list[int] = []

    def disk_io_error(session, sub, **kwargs):
        attempts.append(1)
        raise OperationalError("INSERT INTO response …", {}, Exception("disk I/O error"))

    monkeypatch.setattr(link, "store_response", disk_io_error)
    _html, hidden_fields = form_page(client, f"/s/{sp.code}")
    resp = client.post(f"/s/{sp.code}", data={**hidden_fields, "OVERALL.SAT": "2", "COMMENT": COMMENT_TEXT})
    assert resp.status_code == 503  # survey/unavailable.py: the database is down, try later
    assert attempts == [1] and response_count(db.session) == 0
