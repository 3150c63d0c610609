"""The kiosk queue never blocks behind one response the server keeps failing (issue 11 §3).

The browser's requests go through Playwright's router: the server answers 500 for the first citizen's
response only (as a server bug on one payload would), everything else reaches the live server.
"""

from __future__ import annotations

import itertools
import json
import time

import pytest
from playwright.sync_api import Page, Route, expect
from sqlalchemy import select

from survey.org.models import Kiosk
from tests.browser.test_kiosk import _answer_required_and_send, _responses

pytestmark = pytest.mark.browser


def _wait_for(page: Page, check, timeout: float = 15.0):
    """Poll ``check`` while letting Playwright run: the sync API calls the route handler below only while this
    thread is inside a Playwright call, so a ``time.sleep`` poll would hold every intercepted request unanswered
    (no retry could be counted while we wait for retries)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        page.wait_for_timeout(100)
    raise AssertionError("condition not reached in time")


def test_one_failing_response_is_retried_with_backoff_while_the_next_is_stored(page: Page, context, live_server,
                                                                               live_config):
    live_config.update({"HAILONG_KIOSK_RETRY_SECONDS": 0.3, "HAILONG_KIOSK_HEARTBEAT_SECONDS": 1,
                        "HAILONG_KIOSK_THANKS_SECONDS": 1})
    code = live_server.enrol_kiosk(context)
    failing = {"id": None, "on": True, "attempts": []}

    def server(route: Route) -> None:
        client_id = json.loads(route.request.post_data or "{}").get("client_id")
        failing["id"] = failing["id"] or client_id
        if client_id == failing["id"] and failing["on"]:
            failing["attempts"].append(time.monotonic())
            route.fulfill(status=500, content_type="application/json", body='{"error": "internal"}')
        else:
            route.continue_()

    page.route("**/api/v1/responses", server)
    page.goto("/kiosk")
    status = page.locator("#kiosk-status")
    _answer_required_and_send(page)  # the first citizen: the server fails this one
    expect(status).to_have_attribute("data-failing", "1")
    page.get_by_role("button", name="Xong").click()
    _answer_required_and_send(page)  # the second citizen is stored although the first is still failing

    stored = _wait_for(page, lambda: _responses(live_server, code))
    assert [r.client_id for r in stored] != [failing["id"]] and len(stored) == 1
    expect(status).to_have_attribute("data-queued", "1")

    # the heartbeat reports it: the kiosk row says one response keeps failing with HTTP 500
    _wait_for(page, lambda: live_server.scalar(select(Kiosk.failing_items).where(Kiosk.code == code)) == 1)
    assert live_server.scalar(select(Kiosk.last_failure_status).where(Kiosk.code == code)) == 500
    listing = live_server.app.test_cli_runner().invoke(args=["kiosks", "list"]).output
    assert "1 (HTTP 500)" in listing

    # retried, each wait longer than the one before (exponential backoff, not a tight loop)
    # the 4th try is due ~2 s after the 1st (the wait is generous for a loaded machine; the gaps below are what is
    # asserted)
    _wait_for(page, lambda: len(failing["attempts"]) >= 4, timeout=60.0)
    a = failing["attempts"]
    gaps = [b - x for x, b in itertools.pairwise(a)]
    assert gaps[0] >= 0.2 and gaps[2] > gaps[0], gaps

    failing["on"] = False  # the server is fixed: the held response goes through, the report clears
    expect(status).to_have_attribute("data-queued", "0", timeout=20000)
    assert sorted(r.client_id for r in _responses(live_server, code)) == sorted(
        [failing["id"], stored[0].client_id])
    expect(status).to_have_attribute("data-failing", "0")
    _wait_for(page, lambda: live_server.scalar(select(Kiosk.failing_items).where(Kiosk.code == code)) == 0)
