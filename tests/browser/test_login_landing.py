"""Staff log in through the real form in Chromium: errors in Vietnamese, then each role on its own page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def test_empty_login_says_so_in_the_page_language(page) -> None:
    page.goto("/auth/login")
    page.get_by_role("link", name="Tiếng Việt").click()
    page.click("button[type=submit]")
    errors = page.locator(".field-error")
    expect(errors).to_have_count(2)
    expect(errors.first).to_have_text("Mục này là bắt buộc.")
    expect(page.get_by_text("This field is required.")).to_have_count(0)
    page.get_by_role("link", name="English").click()
    page.click("button[type=submit]")
    expect(page.locator(".field-error").first).to_have_text("This field is required.")


@pytest.mark.parametrize(("username", "path"), [
    ("tuphap", "/dashboard/agency/STP"), ("ninhkieu", "/homeaffairs/"), ("noivu", "/homeaffairs/"),
    ("admin", "/admin/"),
])
def test_each_role_lands_on_its_own_page(browser: Browser, live_server, username: str, path: str) -> None:
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    try:
        page.goto("/auth/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("form.logout")).to_be_visible()
        assert page.url == live_server.url + path
    finally:
        context.close()
