"""A citizen's phone in headless Chromium (390 × 844, touch): answering through a receipt token, once, one
section per page; language and text size switched mid-form keep the answers."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, expect
from sqlalchemy import select

from survey.extensions import db
from survey.respond import invitations as inv
from survey.respond.models import Answer, Invitation, Response

pytestmark = pytest.mark.browser


def _phone(browser: Browser, live_server, locale: str = "vi-VN") -> BrowserContext:
    return browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True,
                               has_touch=True, locale=locale, device_scale_factor=2)


def _token(live_server, sp: str = "UBND-NK-SP1") -> str:
    with live_server.app.app_context():
        sp_row = db.session.merge(live_server.city.service_points[sp])
        created = inv.create_batch(db.session, sp_row, 1, 7)
        db.session.commit()
        return created.tokens[0]


def test_phone_answers_through_a_token_and_the_second_use_is_refused(browser: Browser, live_server, tmp_path):
    screenshots = tmp_path
    token = _token(live_server)
    context = _phone(browser, live_server)
    page = context.new_page()
    foreign: list[str] = []
    page.on("request", lambda r: foreign.append(r.url) if urlsplit(r.url).hostname != "127.0.0.1" else None)
    transferred: list[int] = []
    page.on("response", lambda r: transferred.append(len(r.body())) if r.status != 404 else None)  # no favicon

    page.goto(f"/r/{token}")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.get_by_text("Bộ phận Một cửa UBND quận Ninh Kiều")).to_be_visible()
    page.screenshot(path=str(screenshots / "phone-top.png"))
    # fits the phone: nothing wider than the screen, and every answer is a big target
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    heights = page.locator("label.opt").evaluate_all("els => els.map(e => e.getBoundingClientRect().height)")
    assert heights and min(heights) >= 48
    assert sum(transferred) < 100_000 and not foreign

    # answer page 1 by tapping labels, walk the pages with "Tiếp theo", answer the last one and send
    expect(page.get_by_text("Phần 1/6")).to_be_visible()
    page.locator('[id="q-E1.1"]').get_by_role("radio", name="Rất hài lòng").tap()
    page.locator('[id="q-E1.EXP"]').get_by_role("checkbox").first.tap()
    for part in range(2, 7):
        page.get_by_role("button", name="Tiếp theo").tap()
        expect(page.get_by_text(f"Phần {part}/6")).to_be_visible()
        assert len(page.content().encode()) < 100_000
    page.locator('[id="q-OVERALL.SAT"]').get_by_role("radio", name="Hài lòng", exact=True).tap()
    page.locator('[id="f-COMMENT"]').fill("Cán bộ hướng dẫn <tận tình>")
    page.screenshot(path=str(screenshots / "phone-form.png"))
    page.get_by_role("button", name="Gửi câu trả lời").tap()

    expect(page.get_by_role("heading", name="Xin cảm ơn!")).to_be_visible()
    invitation_id = live_server.scalar(select(Invitation.id).where(Invitation.token_hash == inv.hash_token(token)))
    assert live_server.count(Response, Response.invitation_id == invitation_id) == 1
    assert live_server.scalar(select(Response.channel).where(Response.invitation_id == invitation_id)) == "qr"
    response_id = live_server.scalar(select(Response.id).where(Response.invitation_id == invitation_id))
    assert live_server.count(Answer, Answer.response_id == response_id) == 3  # pages 1 and 6 both kept

    # the same receipt again, on this phone and on another one: refused with an explanation
    page.goto(f"/r/{token}")
    expect(page.get_by_role("heading", name="Đường dẫn khảo sát này đã được sử dụng")).to_be_visible()
    other = _phone(browser, live_server, locale="en-US").new_page()
    other.goto(f"/r/{token}")
    expect(other.get_by_role("heading", name="This survey link has already been used")).to_be_visible()
    expect(other.locator("form.answers")).to_have_count(0)
    assert live_server.count(Response, Response.invitation_id == invitation_id) == 1
    context.close()


def test_keyboard_language_and_larger_text_on_a_phone_keep_the_answers(browser: Browser, live_server):
    token = _token(live_server)
    context = _phone(browser, live_server)
    page = context.new_page()
    page.goto(f"/r/{token}")
    page.locator('[id="q-E1.1"]').get_by_role("radio", name="Rất hài lòng").tap()
    page.get_by_role("button", name="Tiếp theo").tap()
    page.locator('[id="q-E2.1"]').get_by_role("radio", name="Hài lòng", exact=True).tap()
    # switch language and text size mid-form (buttons of the form, no JavaScript needed): nothing is lost
    page.get_by_role("button", name="English").tap()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_text("Part 2 of 6")).to_be_visible()
    expect(page.locator('[id="q-E2.1"]').get_by_role("radio", name="Satisfied", exact=True)).to_be_checked()
    size_before = page.locator("legend").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    page.get_by_role("button", name="Larger text").tap()
    expect(page.locator("body")).to_have_class("respond large-text")
    assert page.locator("legend").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") > size_before
    expect(page.locator('[id="q-E2.1"]').get_by_role("radio", name="Satisfied", exact=True)).to_be_checked()
    page.get_by_role("button", name="Back").tap()
    expect(page.get_by_text("Part 1 of 6")).to_be_visible()
    expect(page.locator('[id="q-E1.1"]').get_by_role("radio", name="Very satisfied")).to_be_checked()
    # keyboard: focus a radio, arrows move the choice, the focus ring is visible
    first = page.locator('input[type="radio"]').first
    first.focus()
    page.keyboard.press("Space")
    expect(first).to_be_checked()
    page.keyboard.press("ArrowDown")
    expect(page.locator('input[type="radio"]').nth(1)).to_be_checked()
    outline = page.evaluate("getComputedStyle(document.activeElement.closest('label')).outlineStyle")
    assert outline != "none"
    # Enter on a radio means "Next", never "English"/"Larger text"
    page.keyboard.press("Enter")
    expect(page.get_by_text("Part 2 of 6")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    # sending without the required answer: the error is announced and nothing is stored
    for _part in range(3, 7):
        page.get_by_role("button", name="Next").click()
    before = live_server.count(Response)
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("alert")).to_contain_text("Please choose a rating.")
    assert live_server.count(Response) == before
    assert live_server.scalar(select(Invitation.used_at).where(Invitation.token_hash == inv.hash_token(token))) \
        is None
    context.close()
