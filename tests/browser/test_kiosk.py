"""The kiosk in headless Chromium: tapping through, idle reset, offline queue, offline reload."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from survey.org.models import Kiosk
from survey.respond.models import Answer, Comment, Response

pytestmark = pytest.mark.browser


def _responses(live_server, kiosk_code: str) -> list[Response]:
    kiosk_id = live_server.scalar(select(Kiosk.id).where(Kiosk.code == kiosk_code))
    from sqlalchemy.orm import Session

    with Session(live_server.engine) as session:
        return list(session.scalars(select(Response).where(Response.kiosk_id == kiosk_id)))


def _wait_queue_empty(page: Page) -> None:
    expect(page.locator("#kiosk-status")).to_have_attribute("data-queued", "0", timeout=15000)


def _option(page: Page, name: str):
    return page.get_by_role("button", name=name, exact=True)


def test_enrol_and_complete_a_survey_by_tapping(page: Page, live_server, live_config):
    live_config["HAILONG_KIOSK_THANKS_SECONDS"] = 2
    problems: list[str] = []  # script errors and CSP violations would show up here
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    from survey.extensions import db
    from survey.org import kiosk_service

    with live_server.app.app_context():
        enrolment = kiosk_service.register_kiosk(db.session, "STP-SP1", "Counter 1")
        db.session.commit()
        kiosk_code = enrolment.kiosk.code
    page.goto("/kiosk")  # the staff pages follow the browser's language (English here)
    expect(page.get_by_role("heading", name="This kiosk is not enrolled")).to_be_visible()
    page.get_by_role("link", name="Enrol this kiosk").click()
    page.get_by_label("Enrolment code").fill(enrolment.code.lower())
    page.get_by_role("button", name="Enrol", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Bộ phận Một cửa Sở Tư pháp")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("One-stop desk Department of Justice")
    page.get_by_role("button", name="Start").click()

    expect(page.get_by_text("Question 1 of 7")).to_be_visible()
    very = _option(page, "Very satisfied")
    box = very.bounding_box()
    assert box["height"] >= 48 and box["width"] >= 48  # touch target
    very.click()
    expect(page.get_by_text("Question 2 of 7")).to_be_visible()
    # keyboard operation: Tab to a level and press Enter
    satisfied = _option(page, "Satisfied")
    expect(satisfied).to_be_enabled()  # taps are ignored for a moment after a new screen (double-tap guard)
    satisfied.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Question 3 of 7")).to_be_visible()
    page.get_by_role("button", name="Back").click()
    expect(_option(page, "Satisfied")).to_have_attribute("aria-pressed", "true")
    _option(page, "Satisfied").click()
    for _ in range(4):  # the optional element questions
        page.get_by_role("button", name="Skip").click()
    expect(page.get_by_text("Question 7 of 7")).to_be_visible()
    box = page.get_by_label("Further comments (optional)")
    expect(box).to_have_attribute("autocomplete", "off")
    box.fill("Nhanh, gọn <b>tốt</b>")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    _wait_queue_empty(page)

    stored = _responses(live_server, kiosk_code)
    assert len(stored) == 1
    response = stored[0]
    assert (response.channel, response.language) == ("kiosk", "en")
    assert live_server.count(Answer, Answer.response_id == response.id) == 2
    assert live_server.scalar(select(Comment.text).where(Comment.response_id == response.id)) == "Nhanh, gọn <b>tốt</b>"
    # the thank-you screen resets itself to the Vietnamese welcome screen
    expect(page.get_by_role("button", name="Bắt đầu")).to_be_visible(timeout=6000)
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    assert problems == []


def test_idle_timeout_discards_the_partial_answer(page: Page, context, live_server, live_config):
    live_config["HAILONG_KIOSK_IDLE_SECONDS"] = 2
    code = live_server.enrol_kiosk(context)
    page.goto("/kiosk")
    page.get_by_role("button", name="Bắt đầu").click()
    _option(page, "Rất hài lòng").click()
    expect(page.get_by_text("Câu 2 / 7")).to_be_visible()
    expect(page.get_by_role("button", name="Bắt đầu")).to_be_visible(timeout=6000)
    page.get_by_role("button", name="Bắt đầu").click()
    expect(page.get_by_text("Câu 1 / 7")).to_be_visible()
    pressed = page.locator('.kiosk-option[aria-pressed="true"]')
    expect(pressed).to_have_count(0)
    # the browser's Back button does not lead into the previous citizen's answers either
    assert page.evaluate("history.length") <= 2
    assert _responses(live_server, code) == []
    assert page.evaluate("localStorage.getItem('hailong-kiosk-queue')") in (None, "[]")


def _answer_required_and_send(page: Page) -> None:
    page.get_by_role("button", name="Bắt đầu").click()
    _option(page, "Rất hài lòng").click()
    _option(page, "Hài lòng").click()
    for _ in range(4):
        page.get_by_role("button", name="Bỏ qua").click()
    page.get_by_role("button", name="Gửi").click()
    expect(page.get_by_role("heading", name="Xin cảm ơn!")).to_be_visible()


def test_network_cut_then_restored_stores_exactly_one_response(page: Page, context, live_server):
    code = live_server.enrol_kiosk(context)
    page.goto("/kiosk")
    expect(page.locator("#kiosk-status")).to_have_attribute("data-online", "true")
    context.set_offline(True)
    _answer_required_and_send(page)
    status = page.locator("#kiosk-status")
    expect(status).to_have_attribute("data-queued", "1")
    expect(status).to_have_attribute("data-online", "false")
    expect(status).to_contain_text("1 phiếu đang chờ gửi")
    assert _responses(live_server, code) == []
    context.set_offline(False)
    _wait_queue_empty(page)
    time.sleep(1.5)  # any late retry must not store a second copy
    stored = _responses(live_server, code)
    assert len(stored) == 1
    assert re.fullmatch(r"[0-9a-f-]{36}", stored[0].client_id)
    expect(status).to_have_attribute("data-online", "true")


def test_reload_while_offline_still_shows_the_kiosk(page: Page, context, live_server):
    live_server.enrol_kiosk(context)
    page.goto("/kiosk")
    expect(page.locator("html")).to_have_attribute("data-sw", "ready", timeout=15000)
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=15000)
    context.set_offline(True)
    response = page.reload()
    assert response is not None and response.from_service_worker
    expect(page.get_by_role("heading", level=1)).to_have_text("Bộ phận Một cửa Sở Tư pháp")
    expect(page.get_by_role("button", name="Bắt đầu")).to_be_visible()
    page.get_by_role("button", name="Bắt đầu").click()
    expect(page.get_by_text("Câu 1 / 7")).to_be_visible()
    context.set_offline(False)


def test_revoked_kiosk_shows_not_enrolled_at_its_next_contact(page: Page, context, live_server):
    from survey.database import write_retrying
    from survey.extensions import db
    from survey.org import kiosk_service

    code = live_server.enrol_kiosk(context)
    page.goto("/kiosk")
    expect(page.get_by_role("button", name="Bắt đầu")).to_be_visible()
    with live_server.app.app_context():
        def revoke() -> None:
            kiosk_service.revoke_kiosk(db.session, code)
            db.session.commit()

        # the kiosk's own heartbeat may be writing at this moment: on SQLite a read-then-write transaction then
        # fails at once with "database is locked" (no busy wait), so retry as the app's writers do
        write_retrying(db.session, revoke)
    page.reload()
    expect(page.get_by_role("heading", name="This kiosk is not enrolled")).to_be_visible()


def test_two_citizens_within_the_minimum_interval_are_both_stored(page: Page, context, live_server, live_config):
    """The server answers 429 to the second; the kiosk waits Retry-After and sends it: nothing is lost."""
    live_config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 2
    live_config["HAILONG_KIOSK_THANKS_SECONDS"] = 1
    code = live_server.enrol_kiosk(context)
    page.goto("/kiosk")
    _answer_required_and_send(page)
    page.get_by_role("button", name="Xong").click()
    _answer_required_and_send(page)
    _wait_queue_empty(page)
    assert len(_responses(live_server, code)) == 2


def test_a_double_tap_answers_only_one_question(page: Page, context, live_server):
    live_server.enrol_kiosk(context)
    page.goto("/kiosk")
    page.get_by_role("button", name="Bắt đầu").click()
    _option(page, "Rất hài lòng").dblclick()
    expect(page.get_by_text("Câu 2 / 7")).to_be_visible()
    page.wait_for_timeout(500)
    expect(page.get_by_text("Câu 2 / 7")).to_be_visible()
    expect(page.locator('.kiosk-option[aria-pressed="true"]')).to_have_count(0)


def test_idle_prompt_counts_down_and_a_touch_keeps_the_answers(page: Page, context, live_server, live_config):
    live_config["HAILONG_KIOSK_IDLE_SECONDS"] = 5
    live_config["HAILONG_KIOSK_IDLE_PROMPT_SECONDS"] = 4
    live_server.enrol_kiosk(context)
    page.goto("/kiosk")
    page.get_by_role("button", name="Bắt đầu").click()
    _option(page, "Rất hài lòng").click()
    expect(page.get_by_text("Câu 2 / 7")).to_be_visible()
    prompt = page.get_by_role("alertdialog", name="Ông/Bà còn đang trả lời?")
    expect(prompt).to_be_visible(timeout=4000)
    expect(prompt).to_contain_text(re.compile(r"sau [1-4] giây"))
    expect(prompt.get_by_role("button", name="Tiếp tục trả lời")).to_be_focused()
    prompt.get_by_role("button", name="Tiếp tục trả lời").click()
    expect(prompt).to_have_count(0)
    # still the same citizen: question 2, and going back shows the first answer
    expect(page.get_by_text("Câu 2 / 7")).to_be_visible()
    page.get_by_role("button", name="Quay lại").click()
    expect(page.locator('.kiosk-option[aria-pressed="true"]')).to_have_text("Rất hài lòng")
    # left alone again: the prompt, then the reset
    expect(prompt).to_be_visible(timeout=4000)
    expect(page.get_by_role("button", name="Bắt đầu")).to_be_visible(timeout=6000)
    expect(prompt).to_have_count(0)


def test_skip_link_follows_the_kiosk_language(page: Page, context, live_server):
    live_server.enrol_kiosk(context)
    page.goto("/kiosk")
    expect(page.locator(".skip-link")).to_have_text("Bỏ qua đến nội dung")
    page.get_by_role("button", name="English").click()
    expect(page.locator(".skip-link")).to_have_text("Skip to content")
