"""Layout checks of what citizens see, with pictures: the phone form (first and last page, 390 × 844) and the
kiosk (portrait 800 × 1280 and landscape 1280 × 800: uses the screen, never scrolls).  The review screenshots
themselves come from `python -m tests.browser.screenshots` (scripts/screenshots.sh); these go to a temporary
folder, or to HAILONG_SCREENSHOTS when set."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from survey.extensions import db
from survey.respond import invitations as inv

pytestmark = pytest.mark.browser


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("HAILONG_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _token(live_server) -> str:
    with live_server.app.app_context():
        sp_row = db.session.merge(live_server.city.service_points["UBND-NK-SP1"])
        created = inv.create_batch(db.session, sp_row, 1, 7)
        db.session.commit()
        return created.tokens[0]


def test_phone_form_first_and_last_page(browser: Browser, live_server, shots: Path):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844},
                                  is_mobile=True, has_touch=True, locale="vi-VN", device_scale_factor=2)
    page = context.new_page()
    page.goto(f"/r/{_token(live_server)}")
    expect(page.get_by_text("Phần 1/6")).to_be_visible()
    page.screenshot(path=str(shots / "phone-first-page.png"), full_page=True)
    for part in range(2, 7):
        page.get_by_role("button", name="Tiếp theo").tap()
        expect(page.get_by_text(f"Phần {part}/6")).to_be_visible()
    expect(page.get_by_text("Phần 6/6")).to_be_visible()
    page.screenshot(path=str(shots / "phone-last-page.png"), full_page=True)
    context.close()


@pytest.mark.parametrize(("name", "width", "height"), [("portrait", 800, 1280), ("landscape", 1280, 800),
                                                  ("tablet-portrait", 768, 1024), ("tablet-landscape", 1024, 768)])
def test_kiosk_uses_the_screen_without_scrolling(browser: Browser, live_server, shots: Path, name: str,
                                                 width: int, height: int):
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": height},
                                  has_touch=True, locale="vi-VN")
    live_server.enrol_kiosk(context)
    page = context.new_page()
    page.goto("/kiosk")
    expect(page.get_by_role("button", name="Bắt đầu")).to_be_visible()
    page.screenshot(path=str(shots / f"kiosk-{name}-welcome.png"))
    page.get_by_role("button", name="Bắt đầu").click()
    expect(page.get_by_text("Câu 1 / 7")).to_be_visible()
    page.screenshot(path=str(shots / f"kiosk-{name}-question.png"))
    # no scrolling, and the question screen fills most of the height (not the top half of a portrait tablet)
    assert page.evaluate("document.documentElement.scrollHeight") <= height
    card = page.locator(".kiosk-screen").bounding_box()
    assert card is not None and card["height"] >= 0.8 * height, card
    # larger text: the question, toolbar and sound controls grow; the answers and Back still fit the screen
    page.get_by_role("button", name="Chữ lớn hơn").click()
    expect(page.locator("html")).to_have_class(re.compile(r"\blarge-text\b"))
    page.screenshot(path=str(shots / f"kiosk-{name}-question-large.png"))
    assert page.evaluate("document.documentElement.scrollHeight") <= height
    back = page.get_by_role("button", name="Quay lại").bounding_box()
    assert back is not None and back["y"] + back["height"] <= height, back
    context.close()
