"""A Khmer-reading citizen answers counter-quick entirely in Khmer, on the kiosk and on the phone (issue 15 §1),
in headless Debian Chromium: every visible text is in Khmer script (the service point's Vietnamese name and
the other languages' own buttons apart), drawn with the vendored Noto Sans Khmer (no internet), the answer
is stored under `km`, and axe finds no serious or critical violation on the km screens.

Screenshots for the one-time eye check are written to $HAILONG_SHOTS (default: the test's tmp folder):
khmer-kiosk-question.png, khmer-kiosk-welcome.png, khmer-phone.png, khmer-poster.png.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from survey.extensions import db
from survey.org.models import Kiosk
from survey.respond import invitations as inv
from survey.respond.models import Answer, Invitation, Response
from tests.browser.test_zz_accessibility import serious_violations

pytestmark = pytest.mark.browser

KHMER = re.compile(r"[\u1780-\u17FF]")
FONT = "/static/fonts/NotoSansKhmer-Regular-subset.woff2"


def _shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("HAILONG_SHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def not_khmer(page: Page, allowed: set[str]) -> list[str]:
    """Visible text lines with letters but no Khmer character (digits and punctuation alone are fine)."""
    lines = [ln.strip() for ln in page.locator("body").inner_text().splitlines()]
    return [ln for ln in lines if ln and ln not in allowed and any(c.isalpha() for c in ln) and not KHMER.search(ln)]


def khmer_font_used(page: Page) -> bool:
    """The vendored face is loaded (document.fonts) and is what Khmer text is set in."""
    return bool(page.evaluate("""async () => {
        await document.fonts.ready;
        const faces = [...document.fonts].filter(f => f.family.includes("HaiLong Khmer"));
        return faces.some(f => f.status === "loaded")
            && getComputedStyle(document.body).fontFamily.includes("HaiLong Khmer");
    }"""))


def test_kiosk_entirely_in_khmer(browser: Browser, live_server, live_config, tmp_path):
    live_config["HAILONG_KIOSK_IDLE_SECONDS"] = 600
    context = browser.new_context(base_url=live_server.url, locale="vi-VN", viewport={"width": 1280, "height": 800},
                                  has_touch=True)
    code = live_server.enrol_kiosk(context)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    foreign: list[str] = []
    page.on("request", lambda r: foreign.append(r.url) if urlsplit(r.url).hostname != "127.0.0.1" else None)
    page.goto("/kiosk")
    shots = _shots(tmp_path)
    sp_vi = "Bộ phận Một cửa Sở Tư pháp"
    allowed = {sp_vi, "Tiếng Việt", "English"}

    page.get_by_role("button", name="ខ្មែរ").click()  # the language named in its own script
    expect(page.locator("html")).to_have_attribute("lang", "km")
    expect(page.get_by_role("button", name="ចាប់ផ្តើម")).to_be_visible()
    assert not_khmer(page, allowed) == []
    assert khmer_font_used(page)
    page.screenshot(path=str(shots / "khmer-kiosk-welcome.png"))
    assert serious_violations(page) == []
    page.get_by_role("button", name="ចាប់ផ្តើម").click()

    expect(page.get_by_text("សំណួរទី 1 នៃ 7")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("ឥរិយាបថរបស់មន្ត្រី"))).to_be_visible()
    assert not_khmer(page, allowed) == []
    page.screenshot(path=str(shots / "khmer-kiosk-question.png"))
    assert serious_violations(page) == []
    page.get_by_role("button", name="ពេញចិត្តខ្លាំង", exact=True).click()
    expect(page.get_by_text("សំណួរទី 2 នៃ 7")).to_be_visible()
    satisfied = page.get_by_role("button", name="ពេញចិត្ត", exact=True)
    expect(satisfied).to_be_enabled()  # after the double-tap guard
    satisfied.click()
    for n in range(3, 7):  # the optional element questions, each with its Khmer "optional" help
        expect(page.get_by_text(f"សំណួរទី {n} នៃ 7")).to_be_visible()
        assert not_khmer(page, allowed) == []
        skip = page.get_by_role("button", name="រំលង")
        expect(skip).to_be_enabled()
        skip.click()
    expect(page.get_by_text("សំណួរទី 7 នៃ 7")).to_be_visible()
    assert not_khmer(page, allowed) == []
    page.locator("textarea").fill("សេវាល្អ")
    page.get_by_role("button", name="ផ្ញើ", exact=True).click()
    expect(page.get_by_role("heading", name="សូមអរគុណ!")).to_be_visible()
    assert not_khmer(page, allowed) == []
    expect(page.locator("#kiosk-status")).to_have_attribute("data-queued", "0", timeout=15000)

    kiosk_id = live_server.scalar(select(Kiosk.id).where(Kiosk.code == code))
    response_id = live_server.scalar(select(Response.id).where(Response.kiosk_id == kiosk_id))
    assert live_server.scalar(select(Response.language).where(Response.id == response_id)) == "km"
    assert live_server.count(Answer, Answer.response_id == response_id) == 2
    assert problems == [] and foreign == []
    context.close()


def test_kiosk_idle_prompt_and_offline_status_in_khmer(browser: Browser, live_server, live_config):
    live_config["HAILONG_KIOSK_IDLE_SECONDS"] = 3
    live_config["HAILONG_KIOSK_IDLE_PROMPT_SECONDS"] = 2
    context = browser.new_context(base_url=live_server.url, locale="vi-VN", viewport={"width": 1280, "height": 800})
    live_server.enrol_kiosk(context)
    page = context.new_page()
    page.goto("/kiosk")
    page.get_by_role("button", name="ខ្មែរ").click()
    page.get_by_role("button", name="ចាប់ផ្តើម").click()
    context.set_offline(True)
    expect(page.locator("#kiosk-status")).to_have_text("គ្មានអ៊ីនធឺណិត")
    expect(page.get_by_role("alertdialog")).to_contain_text("តើលោកអ្នកនៅតែកំពុងឆ្លើយទេ?", timeout=5000)
    expect(page.get_by_role("button", name="បន្តឆ្លើយ")).to_be_visible()
    context.set_offline(False)
    context.close()


def test_phone_form_entirely_in_khmer(browser: Browser, live_server, tmp_path):
    with live_server.app.app_context():
        sp = db.session.merge(live_server.city.service_points["UBND-NK-SP1"])
        token = inv.create_batch(db.session, sp, 1, 7, instrument="counter-quick").tokens[0]
        db.session.commit()
    context = browser.new_context(base_url=live_server.url, viewport={"width": 360, "height": 740}, is_mobile=True,
                                  has_touch=True, locale="vi-VN")
    page = context.new_page()
    transferred: dict[str, int] = {}
    page.on("response", lambda r: transferred.__setitem__(urlsplit(r.url).path, len(r.body()))
            if r.status == 200 else None)
    page.goto(f"/r/{token}")
    assert FONT not in transferred  # vi: the Khmer font is not downloaded
    # km: the font is fetched (waited for: its response event may come after the text is drawn with it)
    with page.expect_response(lambda r: urlsplit(r.url).path == FONT and r.status == 200):
        page.get_by_role("button", name="ខ្មែរ").tap()
    expect(page.locator("html")).to_have_attribute("lang", "km")
    allowed = {"Bộ phận Một cửa UBND quận Ninh Kiều", "HaiLong", "Tiếng Việt", "English", "*"}
    assert not_khmer(page, allowed) == []
    assert khmer_font_used(page)
    assert serious_violations(page) == []
    page.locator('[id="q-C.ATT"]').get_by_role("radio", name="ពេញចិត្តខ្លាំង").tap()
    page.locator('[id="q-C.HANDLING"]').get_by_role("radio", name="ពេញចិត្ត", exact=True).tap()
    page.screenshot(path=str(_shots(tmp_path) / "khmer-phone.png"), full_page=True)
    page.get_by_role("button", name="ផ្ញើចម្លើយរបស់ខ្ញុំ").tap()
    expect(page.get_by_role("heading", name="សូមអរគុណ!")).to_be_visible()
    assert not_khmer(page, allowed) == []
    invitation_id = live_server.scalar(select(Invitation.id).where(Invitation.token_hash == inv.hash_token(token)))
    assert live_server.scalar(select(Response.language).where(Response.invitation_id == invitation_id)) == "km"
    # the poster printed from the Khmer page: its Khmer lines drawn in the vendored font too
    page.goto("/s/UBND-NK-SP1/poster")
    expect(page.locator("svg text").filter(has_text="សូមវាយតម្លៃសេវាសាធារណៈរបស់យើង")).to_have_count(1)
    assert khmer_font_used(page)
    page.set_viewport_size({"width": 800, "height": 1131})
    page.screenshot(path=str(_shots(tmp_path) / "khmer-poster.png"), full_page=True)
    context.close()
