"""What the review screenshots of the citizen side do before the picture (used by tests.browser.screenshots):
walk the phone form to its last page, enrol a kiosk and open its first question."""

from __future__ import annotations

from typing import Any

PHONE_POINT = "UBND-NK-SP1"  # its QR link offers the SIPAS form (six pages)
KIOSK_POINT = "STP-SP1"


def phone_last_page(page: Any, server: Any) -> None:
    """Press "Next" until the last page (the form keeps no answer server-side, so nothing is stored)."""
    while page.locator('.actions button[value="next"]').count():
        with page.expect_navigation():
            page.locator('.actions button[value="next"]').click()


def enrolled_kiosk(page: Any, server: Any, *, question: bool = True) -> None:
    """Enrol a kiosk for this browser, open /kiosk and (with `question`) its first question."""
    from survey.extensions import db
    from survey.org import kiosk_service
    from survey.respond.kiosk_auth import COOKIE

    with server.app.app_context():
        enrolment = kiosk_service.register_kiosk(db.session, KIOSK_POINT, "Screenshot kiosk")
        _kiosk, credential = kiosk_service.redeem_code(db.session, enrolment.code)
        db.session.commit()
        db.session.remove()
    page.context.add_cookies([{"name": COOKIE, "value": credential, "url": server.url, "httpOnly": True,
                               "sameSite": "Strict"}])
    page.goto(f"{server.url}/kiosk")
    page.locator(".kiosk-start").wait_for()
    if question:
        page.locator(".kiosk-start").click()
        page.locator(".kiosk-option").first.wait_for()
