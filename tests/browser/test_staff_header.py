"""Staff header on a 1280-px screen: the menu, the language switch and the account stay on one line for every
role, in Vietnamese and English (it wrapped for the administrator once)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize(("username", "url"), [("admin", "/admin/"), ("admin", "/homeaffairs/"),
                                               ("noivu", "/homeaffairs/"), ("ninhkieu", "/dashboard/"),
                                               ("tuphap", "/dashboard/")])
def test_staff_header_fits_one_line_at_1280(browser: Browser, live_server, username: str, url: str, lang: str):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"/lang/{lang}?next=/")
    page.goto("/auth/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("form.logout")).to_be_visible()
    page.goto(url)
    boxes = page.locator(".site-header > *").evaluate_all(
        "els => els.filter(e => e.offsetParent !== null).map(e => e.getBoundingClientRect())"
        ".map(r => ({top: r.top, bottom: r.bottom}))")
    links = page.locator(".site-header nav a").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().top)")
    assert len({round(t) for t in links}) <= 1, links  # the menu itself does not wrap
    lines = page.locator(".site-header nav a").evaluate_all(
        "els => els.map(e => [e.textContent, e.getClientRects().length])")
    assert [text for text, n in lines if n > 1] == [], lines  # nor does a label ("Quản / trị" did)
    tops = [b["top"] for b in boxes]
    assert max(tops) - min(tops) < 20, boxes  # brand, menu, languages, account side by side
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    context.close()
