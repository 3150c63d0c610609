"""Accessibility (WCAG 2.1 AA as axe-core checks it, through axe-playwright-python which bundles the engine):
the kiosk screens, the phone form pages, the citizen notice pages and the main staff pages, in Vietnamese and
English, have no serious or critical violation.

Named "zz" so that it runs after the other browser modules: it adds responses to the shared live server (only
when there are too few for the staff pages to show figures), and the other modules count theirs.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect

from survey.extensions import db
from survey.respond import invitations as inv
from survey.respond.models import Response
from survey.respond.store import Submission, store_response
from tests.factories import PASSWORD
from tests.results.factories import clock_at

pytestmark = pytest.mark.browser

AXE = Axe()
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
           "resultTypes": ["violations"]}
LANGS = [("vi", "vi-VN"), ("en", "en-US")]


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line per element."""
    results = AXE.run(page, options=WCAG_AA).response
    return [f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}"
            for v in results["violations"] if v["impact"] in ("serious", "critical") for node in v["nodes"]]


def check(page: Page, where: str) -> None:
    found = serious_violations(page)
    assert found == [], f"{where} ({page.url}):\n" + "\n".join(found)


def _context(browser: Browser, live_server, locale: str, **kw) -> BrowserContext:
    return browser.new_context(base_url=live_server.url, locale=locale, **kw)


def _submit(page: Page, name: str) -> None:
    """Press a phone form button and wait for the page it loads: the form posts to the server, and axe run during
    the navigation found no document (CI failure of 8 Dec 2026)."""
    with page.expect_navigation():
        page.get_by_role("button", name=name).click()


def _choose_language(page: Page, lang: str) -> None:
    page.goto(f"/lang/{lang}?next=/")


@pytest.fixture(scope="module")
def some_responses(live_server) -> None:
    """Enough counter-quick responses for the staff pages to draw figures (added only if missing), dated back
    from the clock the staff pages are shown at (`staff_clock`; the dashboard modules date theirs from it too)."""
    if live_server.count(Response) >= 60:
        return
    rng = random.Random(12)
    with clock_at(live_server.app) as now, live_server.app.app_context():
        qv = live_server.city.questionnaires["counter-quick"]
        for sp_code in ("STP-SP1", "UBND-NK-SP1", "UBND-BT-SP1"):
            for k in range(30):
                store_response(db.session, Submission(
                    service_point_id=db.session.merge(live_server.city.service_points[sp_code]).id,
                    questionnaire_version_id=qv.id,
                    answers={"C.ATT": rng.choice([1, 2, 3]), "C.HANDLING": rng.choice([2, 3]),
                             "COMMENT": f"Góp ý {k}"},
                    channel="paper", client_id=str(uuid.UUID(int=rng.getrandbits(128))),
                    submitted_at=now - timedelta(hours=k)), commit=False)
        db.session.commit()
        db.session.remove()


# ---------------------------------------------------------------- citizens


@pytest.mark.parametrize(("lang", "locale"), LANGS)
def test_kiosk_screens(browser: Browser, live_server, live_config, lang: str, locale: str):
    live_config["HAILONG_KIOSK_IDLE_SECONDS"] = 600
    context = _context(browser, live_server, locale, viewport={"width": 1280, "height": 800}, has_touch=True)
    live_server.enrol_kiosk(context)
    page = context.new_page()
    page.goto("/kiosk")
    if lang == "en":
        page.get_by_role("button", name="English").click()
    start = "Start" if lang == "en" else "Bắt đầu"
    expect(page.get_by_role("button", name=start)).to_be_visible()
    check(page, "kiosk welcome")
    page.get_by_role("button", name=start).click()
    check(page, "kiosk question 1")
    page.locator(".kiosk-option").first.click()
    page.locator(".kiosk-option").first.click()
    while page.locator(".kiosk-skip").count():
        if page.locator("textarea").count():
            check(page, "kiosk comment")
        page.locator(".kiosk-skip").click()
    if page.locator("textarea").count():
        check(page, "kiosk comment")
    page.locator(".kiosk-next").click()
    expect(page.locator(".kiosk-thanks")).to_be_visible()
    check(page, "kiosk thanks")
    context.close()


def _token(live_server) -> str:
    with live_server.app.app_context():
        created = inv.create_batch(db.session, db.session.merge(live_server.city.service_points["UBND-NK-SP1"]), 1, 7)
        db.session.commit()
        return created.tokens[0]


@pytest.mark.parametrize(("lang", "locale"), LANGS)
def test_phone_form_pages_and_notices(browser: Browser, live_server, lang: str, locale: str):
    context = _context(browser, live_server, locale, viewport={"width": 390, "height": 844}, is_mobile=True,
                       has_touch=True)
    page = context.new_page()
    _choose_language(page, lang)
    token = _token(live_server)
    page.goto(f"/r/{token}")
    check(page, "phone page 1")
    nxt, send = ("Next", "Send my answers") if lang == "en" else ("Tiếp theo", "Gửi câu trả lời")
    _submit(page, nxt)
    check(page, "phone page 2")
    for _part in range(3, 7):
        _submit(page, nxt)
    check(page, "phone last page")
    _submit(page, send)  # the required overall question is missing
    expect(page.get_by_role("alert")).to_be_visible()
    check(page, "phone page with errors")
    page.locator('[id="q-OVERALL.SAT"] input[type=radio]').first.check()
    _submit(page, send)
    expect(page.locator(".notice-thanks")).to_be_visible()
    check(page, "thanks")
    page.goto(f"/r/{token}")
    check(page, "used link notice")
    page.goto("/r/not-a-real-token-at-all")
    check(page, "unknown link notice")
    page.goto("/s/NO-SUCH-POINT")
    check(page, "unknown service point notice")
    page.goto(f"/s/{live_server.city.service_points['STP-SP1'].code}/poster")
    check(page, "poster")
    context.close()


# ---------------------------------------------------------------- staff


@pytest.fixture
def staff_clock(live_server) -> Iterator[datetime]:
    """The staff pages at a fixed "now": which figures they draw must not depend on the day (the kiosk and
    phone pages above keep the real clock: the browser dates their answers)."""
    with clock_at(live_server.app) as moment:
        yield moment


STAFF_PAGES = {
    "tuphap": ["/dashboard/"],
    "ninhkieu": ["/dashboard/", "/homeaffairs/"],
    "noivu": ["/homeaffairs/", "/homeaffairs/?level=agency", "/homeaffairs/report/"],
    "admin": ["/admin/", "/admin/questionnaires", "/admin/kiosks", "/admin/paper", "/admin/tree", "/admin/users",
              "/admin/audit"],
}


@pytest.mark.usefixtures("staff_clock")
@pytest.mark.parametrize(("lang", "locale"), LANGS)
@pytest.mark.parametrize("username", list(STAFF_PAGES))
def test_main_staff_pages(browser: Browser, live_server, some_responses, username: str, lang: str, locale: str):
    context = _context(browser, live_server, locale, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _choose_language(page, lang)
    page.goto("/auth/login")
    check(page, "login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("form.logout")).to_be_visible()
    for url in STAFF_PAGES[username]:
        resp = page.goto(url)
        assert resp is not None and resp.status < 400, (url, resp.status if resp else None)
        check(page, f"{username} {url}")
    context.close()


def test_the_check_finds_what_it_should(browser: Browser, live_server):
    """The engine runs under the pages' strict CSP and reports a serious violation when there is one."""
    context = _context(browser, live_server, "vi-VN")
    page = context.new_page()
    page.goto("/s/NO-SUCH-POINT")
    page.evaluate("""() => {
        const b = document.createElement('button'); document.querySelector('main').appendChild(b);  // no name
        const p = document.createElement('p'); p.textContent = 'mờ'; p.style.color = '#ddd';
        document.querySelector('main').appendChild(p);  // contrast 1.4:1
    }""")
    found = serious_violations(page)
    assert any(f.startswith("button-name") for f in found), found
    assert any(f.startswith("color-contrast") for f in found), found
    context.close()
