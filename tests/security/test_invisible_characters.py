"""Invisible characters in names and comments (helper H, session 12): a right-to-left override (U+202E) in an
agency or service point name makes a browser draw what follows it backwards within the same line — in a chart's
tooltip "Quầy 1<U+202E>: 85,2%" reads "%2,58 :" — and zero-width characters make two names look the same or hide
a phone number from the redaction.  Names with them are refused like any other bad name (form and tree file,
message in the page's language, nothing stored); comments are stored without the direction-changing marks and
a phone number split by zero-width characters is still removed."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime
from html import unescape

import pytest
from sqlalchemy import select

from survey.org.models import Agency, ServicePoint
from survey.respond.models import Comment
from survey.respond.store import Submission, store_response
from tests.admin.adminkit import as_admin, events, post_form, text
from tests.admin.test_tree_import import upload
from tests.dashboard.hakit import login
from tests.factories import small_city

RLO, ZWSP, ZWJ, LRI, PDI = "\u202e", "\u200b", "\u200d", "\u2066", "\u2069"
AT = datetime(2022, 7, 12, 3, 15, 0, tzinfo=UTC)  # a fixed moment: no test depends on today


@pytest.mark.parametrize("bad", [f"Quầy 1{RLO}", f"Quầy{ZWSP} 1", f"{LRI}Quầy 1{PDI}", f"Quầy{ZWJ}1"])
def test_a_service_point_name_with_invisible_characters_is_refused_in_vietnamese(client, db_session, bad):
    city = small_city(db_session)
    sp = city.service_points["STP-SP1"]
    before = sp.name_vi
    as_admin(client, lang="vi")
    resp = post_form(client, f"/admin/service-points/{sp.id}/edit", {
        "name_vi": bad, "name_en": "Desk 1", "agency": str(city.agencies["STP"].id),
        "kiosk_instrument": "counter-quick", "link_instrument": "sipas-2017", "official_on_duty": ""})
    assert resp.status_code == 400
    assert "ký tự vô hình" in unescape(text(resp))
    db_session.expire_all()
    assert db_session.get(ServicePoint, sp.id).name_vi == before
    assert events(db_session, "org.service_point.update") == []


def test_an_agency_name_with_a_right_to_left_override_is_refused_in_english(client, db_session):
    city = small_city(db_session)
    nk = str(city.units["NK"].id)
    as_admin(client, lang="en")
    resp = post_form(client, f"/admin/agencies/new?unit={nk}", {
        "code": "TTHC-NK", "name_vi": "Trung tâm HCC", "name_en": f"Service Centre{RLO} 58",
        "kind": "service_centre", "unit": nk})
    assert resp.status_code == 400
    assert "invisible characters" in unescape(text(resp))
    assert db_session.scalar(select(Agency).where(Agency.code == "TTHC-NK")) is None


def test_a_tree_file_with_an_invisible_character_in_a_name_imports_nothing(client, db_session):
    small_city(db_session)
    as_admin(client, lang="en")
    resp = upload(client, "type,code,parent,level,name_vi,name_en\n"
                          f"unit,NK-AH,NK,commune,Phường An{ZWSP} Hòa,An Hoa Ward\n")
    html = unescape(text(resp))
    assert resp.status_code == 400
    assert re.search(r"name_vi.*invisible characters", html, re.S)
    assert "Nothing was imported" in html


def test_ordinary_vietnamese_and_khmer_looking_names_are_still_accepted(client, db_session):
    city = small_city(db_session)
    sp = city.service_points["STP-SP1"]
    as_admin(client, lang="en")
    resp = post_form(client, f"/admin/service-points/{sp.id}/edit", {
        "name_vi": "Quầy số 1 – Bộ phận “Một cửa” (tầng 2)", "name_en": "Desk no. 1 – One-stop (2nd floor)",
        "agency": str(city.agencies["STP"].id), "kiosk_instrument": "counter-quick",
        "link_instrument": "sipas-2017", "official_on_duty": ""})
    assert resp.status_code == 302
    db_session.expire_all()
    assert db_session.get(ServicePoint, sp.id).name_vi == "Quầy số 1 – Bộ phận “Một cửa” (tầng 2)"


def _comment(db_session, city, written: str) -> str:
    response, _created = store_response(db_session, Submission(
        service_point_id=city.service_points["STP-SP1"].id,
        questionnaire_version_id=city.questionnaires["counter-quick"].id,
        answers={"C.ATT": 2, "C.HANDLING": 3, "COMMENT": written}, channel="paper",
        client_id=str(uuid.uuid4()), submitted_at=AT))
    return db_session.scalar(select(Comment.text).where(Comment.response_id == response.id))


def test_a_phone_number_split_by_zero_width_characters_is_still_removed(db_session):
    city = small_city(db_session)
    stored = _comment(db_session, city, f"Gọi tôi 0901{ZWSP}234{ZWJ}567 hoặc 0912\u2060345\ufeff678, chờ 45 phút")
    assert "0901" not in stored and "567" not in stored and "0912" not in stored and "678" not in stored
    assert stored.count("[***]") == 2 and "45 phút" in stored


def test_a_comment_cannot_turn_the_page_around_it_backwards(client, db_session):
    city = small_city(db_session)
    stored = _comment(db_session, city, f"Phí {RLO}000.002 đồng{LRI} quá cao{PDI}\u200f")
    assert stored == "Phí 000.002 đồng quá cao"
    login(client, "admin")
    html = client.get("/dashboard/agency/STP/comments").get_data(as_text=True)
    assert "Phí 000.002 đồng quá cao" in html
    assert not re.search("[\u200e\u200f\u202a-\u202e\u2066-\u2069]", html)
    rows = list(csv.reader(io.StringIO(client.get("/dashboard/agency/STP/comments?format=csv")
                                       .get_data(as_text=True).lstrip("\ufeff"))))
    assert any("Phí 000.002 đồng quá cao" in cell for row in rows for cell in row)


def test_khmer_word_breaks_in_a_comment_are_kept(db_session):
    city = small_city(db_session)
    khmer = f"សេវា{ZWSP}ល្អ"  # Khmer separates words with zero-width spaces: they stay
    assert _comment(db_session, city, khmer) == khmer
