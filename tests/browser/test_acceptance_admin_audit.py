"""Acceptance finding: on a 1280-px screen the audit log ran off the right edge — a questionnaire's 64-hex
checksum and the tree import's long JSON list are single unbreakable words, so the table grew wider than
the page and "After" values were cut off. Long values must wrap inside the page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from survey import audit
from survey.extensions import db as _db
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def test_audit_log_fits_the_screen_with_long_values(page: Page, live_server):
    with live_server.app.app_context():
        audit.record(_db.session, "questionnaire.created", "questionnaire_version", "wide-check-v1",
                     after={"checksum": "0830ff5146ac0daeb705af384e5632dde8731ea9cbaff2b7737957ef43b3744d",
                            "created": [f"unit:NK-WARD-{i:03d}" for i in range(60)]})
        _db.session.commit()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/auth/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("form.logout")).to_be_visible()
    page.goto("/admin/audit?target=wide-check-v1")
    expect(page.locator("tr.audit-event")).to_have_count(1)
    right = page.evaluate("() => document.querySelector('.audit-table').getBoundingClientRect().right")
    assert right <= 1280
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1280
