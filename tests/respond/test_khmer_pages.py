"""Khmer (km) for citizens (issue 15 §1): the phone form, its thanks and notice pages and the kiosk's data
in Khmer script; answers stored under `km` and counted under Khmer in the export and on the agency page;
staff pages stay vi/en (a km choice shows them in Vietnamese); the Khmer font only on km pages."""

from __future__ import annotations

import json
import re
import uuid
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from survey.extensions import db
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.export import export_frame
from survey.respond.kiosk_auth import COOKIE
from survey.respond.models import Response
from survey.respond.store import Submission, store_response
from tests.dashboard.helpers import get, login
from tests.factories import small_city
from tests.respond.kiosk_factories import auth, enrolled_kiosk, payload, valid_answers
from tests.respond.linkkit import fresh_clients
from tests.respond.test_form_pages import press

KHMER = re.compile(r"[\u1780-\u17FF]")
NOT_TRANSLATED = {"HaiLong", "Tiếng Việt", "English", "*"}  # brand; the other languages' own buttons


@pytest.fixture
def city(db_session):
    city = small_city(db_session)
    city.service_points["STP-SP1"].link_instrument = "counter-quick"
    db.session.commit()
    return city


@pytest.fixture
def client(app):
    return fresh_clients(app)


class _Text(HTMLParser):
    """The visible text chunks of a page (not scripts, styles or the hidden JSON block)."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "svg", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "svg", "title"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.chunks.append(data.strip())


def not_khmer(html: str, allowed: set[str]) -> list[str]:
    """Visible text with letters but no Khmer character (numbers and punctuation alone are fine)."""
    reader = _Text()
    reader.feed(html)
    return [c for c in reader.chunks if c not in allowed and any(ch.isalpha() for ch in c) and not KHMER.search(c)]


def test_the_phone_form_in_khmer_stores_a_km_response(client, city):
    sp = city.service_points["STP-SP1"]
    q, _ = questionnaire_for(db.session, city.questionnaires["counter-quick"].id)
    url = f"/s/{sp.code}"
    html = client.get(url).get_data(as_text=True)
    assert 'value="lang:km" lang="km"' in html and ">ខ្មែរ</button>" in html  # named in its own script
    assert "km.css" not in html  # vi: no Khmer font
    resp = press(client, url, html, "lang:km")
    km = resp.get_data(as_text=True)
    assert resp.status_code == 200 and '<html lang="km">' in km and "hl_lang=km" in resp.headers["Set-Cookie"]
    assert 'href="/static/css/km.css"' in km
    assert q.title.get("km") in km and q.title.get("km") != q.title.vi
    assert all(it.text.get("km") in km for it in q.sections[0].items)
    assert not_khmer(km, NOT_TRANSLATED | {sp.name_vi}) == []
    answers = {"C.ATT": "3", "C.HANDLING": "2", "COMMENT": "ល្អ"}
    sent = press(client, url, km, "send", answers)
    assert sent.status_code == 303, sent.get_data(as_text=True)[:300]
    thanks = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert '<html lang="km">' in thanks and "សូមអរគុណ!" in thanks
    assert not_khmer(thanks, NOT_TRANSLATED | {sp.name_vi}) == []
    stored = db.session.scalar(select(Response))
    assert (stored.language, stored.channel) == ("km", "qr")


def test_a_missing_answer_is_explained_in_khmer(client, city):
    client.set_cookie("hl_lang", "km")
    url = "/s/STP-SP1"
    refused = press(client, url, client.get(url).get_data(as_text=True), "send", {"C.HANDLING": "2"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "សូមពិនិត្យចម្លើយរបស់លោកអ្នក" in html and "សូមជ្រើសរើសការវាយតម្លៃមួយ។" in html
    assert not_khmer(html, NOT_TRANSLATED | {city.service_points["STP-SP1"].name_vi}) == []
    assert db.session.scalar(select(Response)) is None


def test_a_notice_page_is_in_khmer(client, city):
    client.set_cookie("hl_lang", "km")
    page = client.get("/s/NO-SUCH-POINT")
    html = page.get_data(as_text=True)
    assert page.status_code == 404 and '<html lang="km">' in html and "រកមិនឃើញទីកន្លែងផ្តល់សេវានេះទេ" in html
    assert not_khmer(html, NOT_TRANSLATED) == []


def test_the_poster_printed_from_the_khmer_page_has_khmer_lines(client, city):
    from survey.respond.link_qr import KHMER_POSTER

    vi = client.get("/s/STP-SP1/poster").get_data(as_text=True)
    assert "ខ្មែរ" in vi and not any(line in vi for line in KHMER_POSTER)  # in vi: only the language link
    client.set_cookie("hl_lang", "km")
    km = client.get("/s/STP-SP1/poster").get_data(as_text=True)
    assert all(line in km for line in KHMER_POSTER) and "HaiLong Khmer" in km and "css/km.css" in km
    assert "Đánh giá sự hài lòng" in km and "Rate our public service" in km  # trilingual, not Khmer only
    assert not_khmer(km.split("<svg")[0], NOT_TRANSLATED | {"Bộ phận Một cửa Sở Tư pháp"}) == []


def test_staff_pages_stay_vietnamese_for_a_khmer_reader(client, city):
    client.set_cookie("hl_lang", "km")
    html = client.get("/auth/login").get_data(as_text=True)
    assert '<html lang="vi">' in html and "km.css" not in html and "ខ្មែរ" not in html  # no km switch either
    assert "Đăng nhập" in html


def test_the_kiosk_gets_every_text_in_khmer(client, db_session, city):
    _, credential = enrolled_kiosk(db_session)
    client.set_cookie(COOKIE, credential)
    html = client.get("/kiosk").get_data(as_text=True)
    data = json.loads(re.search(r'id="kiosk-data">(.*?)</script>', html, re.S).group(1))
    assert [(lang["code"], lang["name"]) for lang in data["languages"]] == [
        ("vi", "Tiếng Việt"), ("en", "English"), ("km", "ខ្មែរ")]
    untranslated = {k: v for k, v in data["strings"]["km"].items() if not KHMER.search(v)}
    assert untranslated == {}  # welcome, questions' chrome, offline and "still answering?" texts
    assert data["strings"]["km"]["still_there"] == "តើលោកអ្នកនៅតែកំពុងឆ្លើយទេ?"
    q = data["questionnaire"]
    texts = [q["title"]["km"]] + [it["text"]["km"] for it in q["items"]]
    texts += [lv["label"]["km"] for it in q["items"] for lv in it.get("levels", [])]
    assert all(KHMER.search(t) for t in texts), texts
    assert "css/km.css" in html  # the kiosk keeps the Khmer font for offline use
    sw = client.get("/kiosk-sw.js").get_data(as_text=True)
    assert "/static/fonts/NotoSansKhmer-Regular-subset.woff2" in sw and "/static/css/km.css?v=" in sw


def test_the_api_takes_km_and_refuses_other_languages(client, db_session, city):
    _, credential = enrolled_kiosk(db_session)
    q, _ = questionnaire_for(db.session, city.questionnaires["counter-quick"].id)
    qv = city.questionnaires["counter-quick"]
    body = payload("counter-quick", qv.version, valid_answers(q, q.kiosk_items()), language="km")
    assert client.post("/api/v1/responses", json=body, headers=auth(credential)).status_code in (200, 201)
    assert db.session.scalar(select(Response.language)) == "km"
    bad = payload("counter-quick", qv.version, valid_answers(q, q.kiosk_items()), language="fr")
    refused = client.post("/api/v1/responses", json=bad, headers=auth(credential))
    assert refused.status_code == 400 and "km" in refused.get_json()["errors"]["language"]


def _language_rows(html: str) -> dict[str, list[str]]:
    """{language: [count, share]} from the agency page's "responses by language" table (three columns)."""
    reader = _Text()
    reader.feed(html.split('id="table-languages"')[1].split("</table>")[0])
    chunks = reader.chunks
    return {name: chunks[i + 1:i + 3] for i, name in enumerate(chunks) if name.startswith("Tiếng")}


def test_khmer_responses_are_counted_under_km_in_export_and_agency_page(app, client, db_session, city):
    app.config["HAILONG_N_MIN"] = 5
    qv = city.questionnaires["counter-quick"]
    for lang, n in (("vi", 3), ("km", 2)):
        for _ in range(n):
            store_response(db_session, Submission(
                service_point_id=city.service_points["UBND-NK-SP1"].id, questionnaire_version_id=qv.id,
                answers={"C.ATT": 3, "C.HANDLING": 3}, channel="qr", language=lang, client_id=str(uuid.uuid4())))
    frame = export_frame(db_session)
    assert frame["language"].value_counts().to_dict() == {"vi": 3, "km": 2}
    login(client, "ninhkieu")
    rows = _language_rows(get(client, "/dashboard/agency/UBND-NK").get_data(as_text=True))
    assert rows["Tiếng Khmer"][0] == "2" and rows["Tiếng Việt"][0] == "3" and rows["Tiếng Anh"][0] == "0"
    assert rows["Tiếng Khmer"][1] == "40,0%"
    app.config["HAILONG_N_MIN"] = 6  # counts of responses, not estimates: the share stays (count and total give it)
    rows = _language_rows(get(client, "/dashboard/agency/UBND-NK").get_data(as_text=True))
    assert rows["Tiếng Khmer"] == ["2", "40,0%"]
