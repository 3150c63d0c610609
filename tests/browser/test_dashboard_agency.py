"""Agency dashboards in headless Chromium: roles log in through the form, see their agency's figures and
charts (no JavaScript needed), are refused other agencies, download the exports, and moderators hide a
comment through the page."""

from __future__ import annotations

import csv
import io
import random
import uuid
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from survey.extensions import db
from survey.respond.store import Submission, store_response
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def agency_responses(live_server, live_clock: datetime) -> None:
    """40 counter-quick responses with comments at STP and UBND-NK (stored through store_response), over the
    40 hours before the app's fixed clock (they would span two quarters on a quarter's first day)."""
    city = live_server.city
    rng = random.Random(21)
    now = live_clock
    with live_server.app.app_context():
        qv = city.questionnaires["counter-quick"]
        for sp_code in ("STP-SP1", "UBND-NK-SP1"):
            for k in range(40):
                store_response(db.session, Submission(
                    service_point_id=city.service_points[sp_code].id, questionnaire_version_id=qv.id,
                    answers={"C.ATT": rng.choice([1, 2, 3]), "C.HANDLING": rng.choice([2, 3]),
                             "COMMENT": f"Trình duyệt {sp_code} số {k}"},
                    channel="paper", client_id=str(uuid.UUID(int=rng.getrandbits(128))),
                    submitted_at=now - timedelta(hours=k)), commit=False)
        db.session.commit()
        db.session.remove()


@pytest.fixture
def open_as(browser: Browser, live_server, agency_responses):
    contexts = []

    def _open(username: str) -> Page:
        context = browser.new_context(base_url=live_server.url, accept_downloads=True, locale="vi-VN",
                                      java_script_enabled=False)
        contexts.append(context)
        page = context.new_page()
        page.goto("/auth/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("form.logout")).to_be_visible()
        return page

    yield _open
    for c in contexts:
        c.close()


def test_agency_viewer_sees_own_agency_with_chart_and_matching_export(open_as, live_server):
    page = open_as("tuphap")
    page.get_by_role("link", name="Bảng số liệu cơ quan").click()
    expect(page.locator("h1")).to_have_text(live_server.city.agencies["STP"].name_vi)
    chart = page.locator("figure.chart")
    expect(chart.locator("svg title").first).not_to_be_empty()
    expect(chart.locator("figcaption")).to_be_visible()
    shown = page.locator("#overall .overall-estimate").inner_text()
    with page.expect_download() as info:
        page.locator("#table-indices").get_by_role("link", name="CSV cho phần mềm phân tích").click()
    with open(info.value.path(), encoding="utf-8-sig") as fh:
        rows = list(csv.reader(io.StringIO(fh.read())))
    overall = next(r for r in rows[1:] if r[0] == "OVERALL")
    assert shown == f"{float(overall[2]) * 100:.1f}%".replace(".", ",")  # rounded as the indices table
    # another agency, its comments and its export: 404, nothing shown
    for url in ("/dashboard/agency/UBND-NK", "/dashboard/agency/UBND-NK/comments?format=csv",
                "/dashboard/agency/STP?format=csv&sp=UBND-NK-SP1"):
        assert page.request.get(url).status == 404, url
    page.goto("/dashboard/agency/STP/comments")
    expect(page.locator(".comment-text").first).to_contain_text("Trình duyệt STP-SP1")
    expect(page.locator("form.hide-form")).to_have_count(0)  # viewers never moderate


def test_unit_manager_hides_a_comment_through_the_page(open_as, live_server):
    page = open_as("ninhkieu")
    page.goto("/dashboard/")
    expect(page.locator("main")).to_contain_text(live_server.city.agencies["UBND-NK"].name_vi)
    expect(page.locator("main")).not_to_contain_text(live_server.city.agencies["STP"].name_vi)
    page.goto("/dashboard/agency/UBND-NK/comments?q=s%E1%BB%91%2039")
    item = page.locator("li.comment").first
    expect(item.locator(".comment-text")).to_have_text("Trình duyệt UBND-NK-SP1 số 39")
    item.locator("input[name=reason]").fill("Thử nghiệm ẩn")
    item.get_by_role("button", name="Ẩn").click()
    expect(page.locator("li.hidden-comment")).to_contain_text("Thử nghiệm ẩn")
