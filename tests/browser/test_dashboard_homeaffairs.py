"""Home Affairs pages in headless Chromium: each role logs in through the form, sees what it may see (charts
readable without JavaScript) and is refused the rest; every export downloads and holds the figures."""

from __future__ import annotations

import csv
import io
import random
import uuid
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader

from survey.extensions import db
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.store import Submission, store_response
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser
PER_POINT = 32


@pytest.fixture(scope="module")
def responses(live_server, live_clock: datetime) -> int:
    """Responses to counter-quick at every service point in the minutes before the app's fixed clock (stored
    through store_response)."""
    city = live_server.city
    rng = random.Random(11)
    now = live_clock
    with live_server.app.app_context():
        qv = city.questionnaires["counter-quick"]
        q, _ = questionnaire_for(db.session, qv.id)
        stored = 0
        for i, sp in enumerate(sorted(city.service_points.values(), key=lambda s: s.code)):
            for k in range(PER_POINT):
                answers = {item.code: rng.choice(item.values) if rng.random() < 0.5 + 0.1 * i else item.values[0]
                           for item in q.items() if item.type == "scale"}
                store_response(db.session, Submission(
                    service_point_id=sp.id, questionnaire_version_id=qv.id, answers=answers, channel="web",
                    client_id=str(uuid.UUID(int=rng.getrandbits(128))),
                    submitted_at=now - timedelta(minutes=k)), commit=False)
                stored += 1
        db.session.commit()
        db.session.remove()
    return stored


def _login(page: Page, username: str) -> None:
    page.goto("/auth/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("form.logout")).to_be_visible()


@pytest.fixture
def staff(browser: Browser, live_server, responses):
    contexts = []

    def open_as(username: str) -> Page:
        context = browser.new_context(base_url=live_server.url, accept_downloads=True, locale="vi-VN")
        contexts.append(context)
        page = context.new_page()
        _login(page, username)
        return page

    yield open_as
    for c in contexts:
        c.close()


def test_home_affairs_sees_the_comparison_with_charts_and_data_tables(staff):
    page = staff("noivu")
    expect(page.get_by_role("link", name="So sánh đơn vị")).to_be_visible()
    page.goto("/homeaffairs/?level=agency")
    expect(page.locator("h1")).to_contain_text("So sánh các cơ quan")
    figures = page.locator("figure.chart")
    expect(figures).to_have_count(3)  # forest, funnel, ranks
    for i in range(3):
        fig = figures.nth(i)
        expect(fig.locator("svg title").first).not_to_be_empty()
        expect(fig.locator("figcaption")).to_be_visible()
        fig.locator("details summary").click()
        expect(fig.locator("table.chart-data")).to_be_visible()
    rows = page.locator("table.units tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator("table.units td.rank").first).to_contain_text("1")


def test_home_affairs_drills_down_from_district_to_service_points(staff, live_server):
    page = staff("noivu")
    page.goto("/homeaffairs/?level=district")
    page.get_by_role("link", name=live_server.city.units["NK"].name_vi).click()
    expect(page.locator("h1")).to_contain_text(live_server.city.units["NK"].name_vi)
    page.get_by_role("link", name=live_server.city.agencies["UBND-NK"].name_vi).click()
    expect(page.locator("table.units tbody tr")).to_have_count(1)
    expect(page.locator("table.units")).to_contain_text("Bộ phận Một cửa")


def test_unit_manager_sees_own_subtree_and_is_refused_others(staff, live_server):
    page = staff("ninhkieu")
    resp = page.goto("/homeaffairs/?level=agency")
    assert resp.status == 200
    expect(page.locator("table.units")).to_contain_text(live_server.city.agencies["UBND-NK"].name_vi)
    expect(page.locator("main")).not_to_contain_text(live_server.city.agencies["UBND-BT"].name_vi)
    assert page.goto(f"/homeaffairs/unit/{live_server.city.units['BT'].id}").status == 403
    assert page.goto(f"/homeaffairs/agency/{live_server.city.agencies['STP'].id}").status == 403


def test_agency_viewer_is_refused_every_home_affairs_page(staff):
    page = staff("tuphap")
    expect(page.get_by_role("link", name="So sánh đơn vị")).to_have_count(0)
    for url in ("/homeaffairs/", "/homeaffairs/report/", "/homeaffairs/export.xlsx",
                "/homeaffairs/report/report.pdf"):
        resp = page.request.get(url)
        assert resp.status == 403, url


def _download(page: Page, link_text: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("link", name=link_text).first.click()
    path = info.value.path()
    with open(path, "rb") as fh:
        return fh.read()


def test_exports_download_with_the_figures_shown(staff, live_server):
    page = staff("noivu")
    page.goto("/homeaffairs/?level=agency")
    shown = page.locator("table.units tbody tr").first.locator("td.estimate").inner_text()
    data = _download(page, "CSV cho phần mềm phân tích")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][0] == "Cơ quan" and len(rows) == 5
    top = float(rows[1][1])
    assert shown == f"{top * 100:.1f}%".replace(".", ",")

    wb = load_workbook(io.BytesIO(_download(page, "Tải tất cả các bảng (XLSX)")))
    assert {"Ước lượng", "Thứ hạng", "Biểu đồ phễu"} <= set(wb.sheetnames)  # sheet names in the reader's language
    assert wb["Ước lượng"].cell(row=2, column=2).value == pytest.approx(top, rel=1e-12)

    page.goto("/homeaffairs/report/")
    expect(page.locator("#method")).to_be_visible()
    pdf = PdfReader(io.BytesIO(_download(page, "Tải PDF")))
    text = "\n".join(p.extract_text() for p in pdf.pages)
    assert "Ghi chú phương pháp" in text and live_server.city.agencies["STP"].name_vi in text
    report = load_workbook(io.BytesIO(_download(page, "Tải XLSX")))
    assert "Tóm tắt" in report.sheetnames and live_server.city.agencies["STP"].name_vi in report.sheetnames
