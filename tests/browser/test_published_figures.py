"""Issue 12 §1 in headless Chromium, on a city of its own with a fixed clock (15/02/2023): what Home Affairs
and a unit manager see by default, a quarter where one commune alone has enough responses, the agency
page's period and rounding, and the screenshot command itself."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from survey.extensions import db as _db
from tests.browser.screenshots import SHOTS, Server, serve, take
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def published(live_server) -> Iterator[Server]:
    with serve() as server:
        yield server


@pytest.fixture
def site(published: Server) -> Iterator[Server]:
    _db.configure(published.database_url)  # the global engine serves this module's city, not the live server's
    yield published


def _page_as(browser: Browser, site: Server, username: str) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi")
    page = context.new_page()
    page.goto(f"{site.url}/lang/vi")
    page.goto(f"{site.url}/auth/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("form.logout")).to_be_visible()
    return page


def test_home_affairs_sees_the_latest_complete_quarter_and_why(browser: Browser, site: Server):
    page = _page_as(browser, site, "noivu")
    page.goto(f"{site.url}/homeaffairs/")
    expect(page.locator("#summary-h")).to_contain_text("Quý IV/2022")
    expect(page.locator(".period-why")).to_contain_text("kỳ trọn vẹn gần nhất")
    expect(page.locator("#f-period option:checked")).to_have_text("Quý IV/2022")
    assert "2022-Q4" not in page.inner_text("main")
    overall = page.inner_text(".overall")
    listed = sum(int(t) for t in page.locator("table.units tbody tr td:nth-child(4)").all_inner_texts())
    assert f"n = {listed})" in overall  # the reference line is over the districts listed
    page.context.close()


def test_unit_manager_sees_its_communes_ranked(browser: Browser, site: Server):
    page = _page_as(browser, site, "ninhkieu")
    page.goto(f"{site.url}/homeaffairs/")
    expect(page.locator("#f-level option:checked")).to_have_text("Xã/Phường")
    expect(page.locator("table.units tbody tr")).to_have_count(4)
    expect(page.locator("#ha-ranks")).to_be_visible()
    ranks = page.locator("table.units td.rank").all_inner_texts()
    assert all(re.fullmatch(r"\d \(\d–\d\)", r) for r in ranks), ranks
    page.context.close()


def test_one_commune_with_data_gets_no_rank(browser: Browser, site: Server):
    page = _page_as(browser, site, "noivu")
    page.goto(f"{site.url}/homeaffairs/?period=2023-Q1&level=commune")
    expect(page.locator(".ranks-note")).to_contain_text("Không xếp hạng")
    expect(page.locator("#ha-ranks")).to_have_count(0)
    assert "1 (1–1)" not in page.inner_text("main")
    # the forest plot lists the communes in words, without a point: the five small ones, and the one with data,
    # whose figure beside the whole city's would give the five away (hidden to protect a small group)
    expect(page.locator("#ha-forest text.suppressed")).to_have_count(6)
    expect(page.locator("table.units tbody tr", has_text="Tân An")).to_contain_text("Ẩn để bảo vệ một nhóm nhỏ")
    # the reference line's label (near the top of the axis here) does not run into the column heading
    # no commune has a point, so there is no Estimate column heading; the reference line's label (over the units
    # listed, all hidden together: n = 22) stays inside the plot
    label, plot = page.locator("#ha-forest text", has_text="Tất cả đơn vị trong danh sách").bounding_box(), \
        page.locator("#ha-forest svg").first.bounding_box()
    assert label is not None and plot is not None
    assert plot["x"] <= label["x"] and label["x"] + label["width"] <= plot["x"] + plot["width"], (label, plot)
    page.context.close()


def test_agency_page_states_its_period_and_rounds_like_its_table(browser: Browser, site: Server):
    page = _page_as(browser, site, "noivu")
    page.goto(f"{site.url}/dashboard/agency/UBND-NK")
    expect(page.locator(".period-shown")).to_contain_text("Tháng 8/2022")
    headline = page.inner_text(".overall-estimate")
    row = page.locator("#table-indices tr", has_text="OVERALL")
    expect(row.locator("td").nth(1)).to_have_text(headline)
    # every figure of the tables on one line at 1280 px: "+14,5 điểm %" never leaves the "%" on a line of its
    # own, an interval never breaks after its dash
    cells = page.locator(".ha-table td.num").evaluate_all("""tds => tds.map(td => {
        const r = document.createRange(); r.selectNodeContents(td);
        const tops = new Set([...r.getClientRects()].map(b => Math.round(b.top)));
        return [td.textContent, tops.size]; })""")
    assert any("điểm" in text for text, _ in cells)
    assert [text for text, lines in cells if lines > 1] == []
    page.context.close()


def test_the_screenshots_show_the_comparison_as_every_role_that_may_compare():
    """"Done when" of issue 12: the comparison's default view as each role (the agency viewer may not compare:
    its picture is its own agency page)."""
    from survey.auth.roles import COMPARES_UNITS

    roles = {"admin": "admin", "noivu": "home_affairs", "ninhkieu": "unit_manager", "tuphap": "agency_viewer"}
    users = {s.user for s in SHOTS if s.path == "/homeaffairs/"}
    assert {roles[u] for u in users if u} == set(COMPARES_UNITS)
    assert any(s.user == "tuphap" and s.path.startswith("/dashboard/agency/") for s in SHOTS)


def test_screenshot_command_writes_the_pictures(browser: Browser, site: Server, tmp_path):
    wanted = [s for s in SHOTS if s.name in ("homeaffairs-default-noivu", "agency-page")]
    files = take(wanted, tmp_path, site, browser)
    assert [f.name for f in files] == ["homeaffairs-default-noivu.png", "agency-page.png"]
    for f in files:
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f.stat().st_size > 20_000
