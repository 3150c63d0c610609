"""Acceptance findings on the citizen pages, in headless Chromium: what a citizen or an official would notice."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from survey.extensions import db
from survey.respond import invitations as inv

pytestmark = pytest.mark.browser


def _token(live_server, sp: str = "UBND-NK-SP1") -> str:
    with live_server.app.app_context():
        sp_row = db.session.merge(live_server.city.service_points[sp])
        created = inv.create_batch(db.session, sp_row, 1, 7)
        db.session.commit()
        return created.tokens[0]


def test_the_qr_poster_prints_on_one_a4_sheet(page: Page):
    page.goto("/s/UBND-NK-SP1/poster")
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4")
    pages = re.findall(rb"/Type\s*/Page(?!s)", pdf)
    assert len(pages) == 1, f"the poster prints on {len(pages)} pages"


def test_phone_questions_sit_inside_their_box_even_when_they_wrap(browser: Browser, live_server):
    """A long question on a 360 px screen wraps; the box's top border must not run through its text."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 360, "height": 740}, is_mobile=True,
                                  locale="vi-VN")
    page = context.new_page()
    page.goto(f"/r/{_token(live_server)}")
    boxes = page.locator("fieldset.q").evaluate_all("""els => els.map(f => {
        const lg = f.querySelector('legend');
        const border = parseFloat(getComputedStyle(f).borderTopWidth);
        return {top: f.getBoundingClientRect().top + border, legend: lg.getBoundingClientRect().top,
                lines: Math.round(lg.getBoundingClientRect().height / parseFloat(getComputedStyle(lg).lineHeight))};
    })""")
    assert any(b["lines"] > 1 for b in boxes), "no wrapping question to check"
    crossed = [b for b in boxes if b["lines"] > 1 and b["legend"] < b["top"] - 0.5]
    assert not crossed, f"{len(crossed)} of {len(boxes)} question boxes draw their border through the question"
    context.close()


def test_every_kiosk_screen_has_a_main_heading(browser: Browser, live_server):
    """Screen readers jump by headings; each question screen still names the service point as its h1."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1024, "height": 768}, has_touch=True)
    live_server.enrol_kiosk(context)
    page = context.new_page()
    page.goto("/kiosk")
    page.locator(".kiosk-start").tap()
    expect(page.locator(".kiosk-item")).to_be_visible()
    expect(page.locator("h1")).to_have_count(1)
    sp_name = page.evaluate("JSON.parse(document.getElementById('kiosk-data').textContent).service_point.vi")
    expect(page.locator("h1")).to_have_text(sp_name)
    context.close()


def test_kiosk_status_line_never_covers_a_button(browser: Browser, live_server):
    """On a short screen (or in larger text) the answer buttons reach the bottom edge; the online/queued line
    must not sit on top of them."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1024, "height": 768}, has_touch=True)
    live_server.enrol_kiosk(context)
    page = context.new_page()
    page.goto("/kiosk")
    page.locator(".kiosk-start").tap()
    # the comment screen: its Send button is at the right, where the status line is
    while not page.locator(".kiosk-type-text").count():
        expect(page.locator(".kiosk-item")).to_be_visible()
        page.wait_for_timeout(350)  # the double-tap guard
        page.locator(".kiosk-option").first.tap()
    box = page.locator(".kiosk-next").bounding_box()
    assert box
    page.set_viewport_size({"width": 1024, "height": int(box["y"] + box["height"]) + 4})
    page.wait_for_timeout(100)
    status = page.locator("#kiosk-status").bounding_box()
    assert status and status["height"] > 0
    for button in page.locator(".kiosk-screen button").all():
        b = button.bounding_box()
        assert b
        overlap = (min(b["x"] + b["width"], status["x"] + status["width"]) > max(b["x"], status["x"])
                   and min(b["y"] + b["height"], status["y"] + status["height"]) > max(b["y"], status["y"]))
        assert not overlap, f"the status line covers {button.text_content()!r}"
    context.close()


@pytest.mark.parametrize("viewport", [{"width": 768, "height": 1024}, {"width": 1024, "height": 768},
                                      {"width": 800, "height": 1280}, {"width": 1280, "height": 800}])
def test_five_faces_stand_in_one_row_on_a_tablet(browser: Browser, live_server, viewport):
    """A 5-level SIPAS question on a tablet: the five faces in one line, worst to best (a row in landscape,
    a column filling the screen in portrait), "no opinion" apart below them (a 4 + 1 split once put
    "very satisfied" alone on a second line, beside "no opinion"), and no scrolling (in portrait "no opinion",
    Back and Skip were below the screen's edge: 325 px at 800 × 1280, 581 at 768 × 1024)."""
    from sqlalchemy import update

    from survey.org.models import ServicePoint

    sp = "UBND-NK-TA-SP1"
    with live_server.engine.begin() as conn:
        conn.execute(update(ServicePoint).where(ServicePoint.code == sp).values(kiosk_instrument="sipas-2017"))
    try:
        context = browser.new_context(base_url=live_server.url, viewport=viewport, has_touch=True)
        live_server.enrol_kiosk(context, sp)
        page = context.new_page()
        page.goto("/kiosk")
        page.locator(".kiosk-start").tap()
        expect(page.locator(".kiosk-type-scale")).to_be_visible()
        faces = page.locator(".kiosk-scale .kiosk-option:not(.kiosk-no-opinion) svg.face").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect()).map(r => ({x: r.x, y: r.y}))")
        assert len(faces) == 5
        if viewport["width"] > viewport["height"]:  # landscape: one row, worst to best from the left
            assert len({round(f["y"]) for f in faces}) == 1, faces
            assert [f["x"] for f in faces] == sorted(f["x"] for f in faces)
        else:  # portrait: the screen's height is used, one large answer under another, worst at the top
            assert len({round(f["x"]) for f in faces}) == 1, faces
            assert [f["y"] for f in faces] == sorted(f["y"] for f in faces)
        none = page.locator(".kiosk-no-opinion").bounding_box()
        assert none and none["y"] > max(f["y"] for f in faces) + 40
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        assert page.evaluate("document.documentElement.scrollHeight") <= viewport["height"]  # no scrolling
        # in English and larger text no word sticks out of its button
        page.locator("button.kiosk-lang[lang=en]").tap()
        page.wait_for_timeout(350)
        page.locator(".kiosk-large").tap()
        expect(page.locator("html")).to_have_class(re.compile("large-text"))
        overflowing = page.locator(".kiosk-option").evaluate_all(
            "els => els.filter(b => b.scrollWidth > b.clientWidth + 1).map(b => b.textContent)")
        assert not overflowing
        if viewport["width"] > viewport["height"]:  # landscape: larger text keeps Back and Skip on screen too
            scroll = page.evaluate("document.documentElement.scrollHeight")
            assert scroll <= viewport["height"], f"larger text scrolls by {scroll - viewport['height']} px"
        # larger text may scroll on the smallest portrait tablets, but no answer is squeezed or laid over another
        boxes = page.locator(".kiosk-scale .kiosk-option").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect()).map(r => [r.x, r.y, r.width, r.height])")
        assert all(h >= 48 for _, _, _, h in boxes), boxes
        for i, (x, y, w, h) in enumerate(boxes):
            for x2, y2, w2, h2 in boxes[i + 1:]:
                assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y, boxes
        context.close()
    finally:
        with live_server.engine.begin() as conn:
            conn.execute(update(ServicePoint).where(ServicePoint.code == sp).values(kiosk_instrument="counter-quick"))
