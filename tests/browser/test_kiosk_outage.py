"""The kiosk during a server-side database outage: a 503 keeps the response queued and is retried after
Retry-After (as a 429 is), so nothing is lost and the kiosk does not hammer the server meanwhile."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Route, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.org.models import Kiosk
from survey.respond.models import Response

pytestmark = pytest.mark.browser


def _answer_required_and_send(page: Page) -> None:
    page.get_by_role("button", name="Bắt đầu").click()
    page.get_by_role("button", name="Rất hài lòng", exact=True).click()
    page.get_by_role("button", name="Hài lòng", exact=True).click()
    for _ in range(4):
        page.get_by_role("button", name="Bỏ qua").click()
    page.get_by_role("button", name="Gửi").click()
    expect(page.get_by_role("heading", name="Xin cảm ơn!")).to_be_visible()


def test_a_503_is_retried_after_retry_after_and_stored_once(page: Page, context, live_server):
    code = live_server.enrol_kiosk(context)
    refused: list[str] = []

    def outage_once(route: Route) -> None:
        if not refused:  # the first attempt meets the outage (what survey/unavailable.py answers)
            refused.append(route.request.post_data or "")
            route.fulfill(status=503, headers={"Retry-After": "1", "Content-Type": "application/json"},
                          body='{"error": "unavailable", "retry_after": 1}')
        else:
            route.continue_()

    context.route("**/api/v1/responses", outage_once)
    page.goto("/kiosk")
    _answer_required_and_send(page)
    # retried after Retry-After (1 s), well before the generic back-off (5 s) would have fired
    expect(page.locator("#kiosk-status")).to_have_attribute("data-queued", "0", timeout=4000)
    assert len(refused) == 1
    kiosk_id = live_server.scalar(select(Kiosk.id).where(Kiosk.code == code))
    with Session(live_server.engine) as session:
        stored = list(session.scalars(select(Response).where(Response.kiosk_id == kiosk_id)))
    assert len(stored) == 1 and stored[0].client_id in refused[0]
