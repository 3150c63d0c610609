"""The phone form one section per page: Next/Back, language and text size keep every answer, no JavaScript."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import select

from survey.extensions import db
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.models import Response
from tests.factories import small_city
from tests.respond.linkkit import COMMENT_TEXT, answer_everything, fresh_clients, response_count, stored


@pytest.fixture
def city(db_session):
    return small_city(db_session)


@pytest.fixture
def client(app):
    return fresh_clients(app)


@pytest.fixture
def sp(city):
    point = city.service_points["STP-SP1"]
    point.link_instrument = "sipas-2017"
    db.session.commit()
    return point


class _FormReader(HTMLParser):
    """What a browser would send for the form `answers`: hidden fields, checked boxes, textareas."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self.visible: set[str] = set()
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind == "hidden":
                self.fields.append((a["name"], a.get("value", "")))
            else:
                self.visible.add(a["name"])
                if kind in ("radio", "checkbox") and "checked" in a:
                    self.fields.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self._textarea = a["name"]
            self.visible.add(a["name"])
            self.fields.append((a["name"], ""))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            name, text = self.fields[-1]
            self.fields[-1] = (name, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None


def read_form(html: str) -> _FormReader:
    reader = _FormReader()
    reader.feed(html)
    return reader


def press(client, url: str, html: str, button: str, answers: dict[str, Any] | None = None):
    """Fill the visible questions of the page with `answers` (those on it) and press `button` (do=...)."""
    reader = read_form(html)
    answers = answers or {}
    data: dict[str, list[str]] = {}
    for name, value in reader.fields:
        if name in reader.visible and name in answers:
            continue  # replaced by what the citizen now chooses
        data.setdefault(name, []).append(value)
    for name, value in answers.items():
        if name in reader.visible:
            data[name] = value if isinstance(value, list) else [value]
    data["do"] = [button]
    return client.post(url, data=data)


def _page_items(html: str) -> set[str]:
    return read_form(html).visible


def test_one_section_per_page_with_progress_and_no_time_claim(client, sp, city):
    q, _ = questionnaire_for(db.session, city.questionnaires["sipas-2017"].id)
    html = client.get(f"/s/{sp.code}").get_data(as_text=True)
    assert _page_items(html) == {it.code for it in q.sections[0].items}
    assert f"Phần 1/{len(q.sections)}" in html
    assert "phút" not in html and "<script" not in html
    assert q.sections[1].items[0].text.vi not in html


def test_walking_the_pages_keeps_every_answer_and_stores_once(client, sp, city):
    q, item_ids = questionnaire_for(db.session, city.questionnaires["sipas-2017"].id)
    data, expected = answer_everything(q)
    url = f"/s/{sp.code}"
    html = client.get(url).get_data(as_text=True)
    for index, section in enumerate(q.sections):
        assert _page_items(html) == {it.code for it in section.items}, index
        assert f"Phần {index + 1}/{len(q.sections)}" in html
        if index == 1:  # Back and forth: the answers of page 1 are still checked
            back = press(client, url, html, "back", {c: data[c] for c in _page_items(html)})
            back_html = back.get_data(as_text=True)
            assert back.status_code == 200 and "Phần 1/" in back_html
            for code in (it.code for it in q.sections[0].items if it.type != "text"):
                values = data[code] if isinstance(data[code], list) else [data[code]]
                for value in values:
                    assert re.search(rf'name="{re.escape(code)}" value="{value}" checked', back_html), code
            html = press(client, url, back_html, "next").get_data(as_text=True)
            assert "Phần 2/" in html
        last = index == len(q.sections) - 1
        resp = press(client, url, html, "send" if last else "next", {c: data[c] for c in _page_items(html)})
        if last:
            assert resp.status_code == 303 and resp.headers["Location"].startswith("/thanks")
        else:
            assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
            assert response_count(db.session) == 0  # nothing stored before "Send"
            html = resp.get_data(as_text=True)
            assert len(resp.data) < 100_000
    response = db.session.scalar(select(Response))
    assert response_count(db.session) == 1
    assert stored(db.session, response, q, item_ids) == expected


@pytest.mark.parametrize("button", ["lang:en", "text:large"])
def test_language_and_text_size_mid_form_keep_the_answers(client, sp, city, button):
    q, _ = questionnaire_for(db.session, city.questionnaires["sipas-2017"].id)
    url = f"/s/{sp.code}"
    html = client.get(url).get_data(as_text=True)
    html = press(client, url, html, "next", {"E1.1": "5", "E1.EXP": ["1", "2"]}).get_data(as_text=True)
    resp = press(client, url, html, button, {"E2.1": "4", "E2.EXP": ["3"]})
    assert resp.status_code == 200
    switched = resp.get_data(as_text=True)
    # still on page 2, with its answer checked and page 1's answers carried
    assert re.search(r'name="E2.1" value="4" checked', switched)
    assert re.search(r'name="E2.EXP" value="3" checked', switched)
    carried = read_form(switched).fields
    assert ("E1.1", "5") in carried and ("E1.EXP", "1") in carried and ("E1.EXP", "2") in carried
    if button == "lang:en":
        assert '<html lang="en">' in switched and q.sections[1].title.en in switched and "Part 2 of 6" in switched
        assert "hl_lang=en" in resp.headers.get("Set-Cookie", "")
    else:
        assert 'class="respond large-text"' in switched
        assert "hl_text=large" in resp.headers.get("Set-Cookie", "")
        assert 'value="text:normal"' in switched


def test_switches_are_buttons_of_the_form_not_links(client, sp):
    html = client.get(f"/s/{sp.code}").get_data(as_text=True)
    for value in ("lang:vi", "lang:en", "text:large"):
        assert re.search(rf'<button type="submit" form="answers" name="do" value="{value}"', html), value
    assert 'href="/lang/en' not in html and "/text-size/" not in html


def test_next_with_an_invalid_answer_stays_on_the_page(client, sp):
    url = f"/s/{sp.code}"
    html = client.get(url).get_data(as_text=True)
    resp = press(client, url, html, "next", {"E1.EXP": ["1", "2", "3", "4"]})
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "Phần 1/" in body and "Vui lòng chọn tối đa 3 phương án." in body
    assert response_count(db.session) == 0


def test_refused_send_returns_to_the_first_page_with_an_error(client, sp, city):
    q, _ = questionnaire_for(db.session, city.questionnaires["sipas-2017"].id)
    url = f"/s/{sp.code}"
    html = client.get(url).get_data(as_text=True)
    for _section in q.sections[:-1]:
        html = press(client, url, html, "next").get_data(as_text=True)
    tampered = html.replace('name="page" value="5"', 'name="page" value="5"><input type="hidden" name="E2.1" '
                            'value="9"')
    resp = press(client, url, tampered, "send", {"OVERALL.SAT": "4", "COMMENT": COMMENT_TEXT})
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "Phần 2/" in body and "Mức đánh giá không hợp lệ" in body
    # the last page's answers are carried along, so fixing page 2 and walking on loses nothing
    assert ("OVERALL.SAT", "4") in read_form(body).fields
    assert response_count(db.session) == 0


def test_a_page_number_out_of_range_is_clamped(client, sp):
    html = client.get(f"/s/{sp.code}").get_data(as_text=True)
    resp = press(client, f"/s/{sp.code}", html.replace('name="page" value="0"', 'name="page" value="99"'), "back")
    assert resp.status_code == 200 and "Phần 5/" in resp.get_data(as_text=True)
