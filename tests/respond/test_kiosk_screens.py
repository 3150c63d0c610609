"""Kiosk details a citizen or the person setting it up notices: the page speaks the kiosk's language whatever
the browser's, an empty enrolment code gets a message, receipt cards print the link under the QR code."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from survey.respond.link_qr import sheet_pages, short_link_lines
from tests.factories import small_city
from tests.respond.linkkit import fresh_clients


@pytest.fixture
def city(db_session):
    return small_city(db_session)


def _csrf(html: str) -> str:
    import re

    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


@pytest.mark.parametrize(("lang", "message"), [
    ("vi", "Vui lòng nhập mã đăng ký do quản trị viên cấp"),
    ("en", "Type the enrolment code an administrator gave you"),
])
def test_an_empty_enrolment_code_gets_a_message(app, city, lang, message):
    client = fresh_clients(app)
    client.get(f"/lang/{lang}")
    token = _csrf(client.get("/kiosk/enrol").get_data(as_text=True))
    resp = client.post("/kiosk/enrol", data={"csrf_token": token, "code": "   "})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert message in html and 'role="alert"' in html and 'aria-invalid="true"' in html


def test_kiosk_page_speaks_vietnamese_whatever_the_browser_says(app, city):
    from survey.extensions import db
    from survey.org import kiosk_service
    from survey.respond.kiosk_auth import COOKIE

    enrolment = kiosk_service.register_kiosk(db.session, "STP-SP1", "Test kiosk")
    _kiosk, credential = kiosk_service.redeem_code(db.session, enrolment.code)
    db.session.commit()
    client = fresh_clients(app)
    client.set_cookie(COOKIE, credential)
    html = client.get("/kiosk", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="vi">' in html
    assert ">Bỏ qua đến nội dung</a>" in html and "Skip to content" not in html.split('id="kiosk-data"')[0]
    noscript = html.split("<noscript>")[1].split("</noscript>")[0]
    assert "cần bật JavaScript" in noscript and "This kiosk needs" not in noscript


def test_receipt_cards_print_the_short_link_under_the_qr_code():
    urls = [f"https://khaosat.cantho.gov.vn/r/{'A' * 31}{i}" for i in range(3)]
    [page] = sheet_pages(urls, "Bộ phận Một cửa UBND quận Ninh Kiều", datetime(2026, 1, 31, tzinfo=UTC))
    head, token = short_link_lines(urls[0])
    assert head == "https://khaosat.cantho.gov.vn/r/" and token == "A" * 31 + "0"
    assert page.count(">https://khaosat.cantho.gov.vn/r/</text>") == 3
    for url in urls:
        assert f">{url.rsplit('/', 1)[1]}</text>" in page
