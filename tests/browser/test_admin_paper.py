"""An administrator in headless Chromium: imports a paper batch with errors (sees line, column, problem; nothing
stored), then the fixed file (sees the counts); uploads, previews and publishes a new questionnaire version."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from questionnaires.loader import shipped
from survey.audit.models import AuditEvent
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.respond.models import Response
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def _admin_page(browser: Browser, live_server) -> Page:
    context = browser.new_context(base_url=live_server.url, locale="en-GB")
    page = context.new_page()
    page.goto("/lang/en")
    page.goto("/auth/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    return page


def _paper_csv(ids: list[str], bad: bool) -> bytes:
    header = "response_id,submitted_at,questionnaire,questionnaire_version,service_point,C.ATT,C.HANDLING"
    rows = [f"{ids[0]},2024-06-03,counter-quick,1,UBND-BT-SP1,3,2",
            f"{ids[1]},2024-06-04,counter-quick,1,{'UBND-XX-SP9' if bad else 'UBND-BT-SP1'},2,{7 if bad else 3}"]
    return ("\n".join([header, *rows]) + "\n").encode()


def test_paper_import_with_errors_then_fixed(browser: Browser, live_server):
    ids = [str(uuid.uuid4()) for _ in range(2)]
    page = _admin_page(browser, live_server)
    page.goto("/admin/")
    page.get_by_role("link", name="Paper surveys").click()
    expect(page.get_by_role("heading", name="Import paper surveys")).to_be_visible()

    page.get_by_label("Paper responses (.csv or .xlsx)").set_input_files(
        {"name": "batch.csv", "mimeType": "text/csv", "buffer": _paper_csv(ids, bad=True)})
    page.get_by_role("button", name="Check the file (dry run)").click()
    expect(page.get_by_role("heading", name="Problems found: 2. Nothing was imported.")).to_be_visible()
    errors = page.locator("table.row-errors tbody tr")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_contain_text("3")
    expect(errors.nth(0)).to_contain_text("service_point")
    expect(errors.nth(0)).to_contain_text("Unknown service point UBND-XX-SP9.")
    expect(errors.nth(1)).to_contain_text("C.HANDLING")
    expect(errors.nth(1)).to_contain_text("outside the scale")
    assert live_server.count(Response, Response.client_id.in_(ids)) == 0

    page.get_by_label("Paper responses (.csv or .xlsx)").set_input_files(
        {"name": "batch.csv", "mimeType": "text/csv", "buffer": _paper_csv(ids, bad=False)})
    page.get_by_role("button", name="Check the file (dry run)").click()
    expect(page.get_by_text("2 rows: 2 new responses, 0 already imported")).to_be_visible()
    assert live_server.count(Response, Response.client_id.in_(ids)) == 0
    page.get_by_role("button", name="Import the new responses (2)").click()
    expect(page.get_by_role("status")).to_contain_text("batch.csv: 2 new responses stored, 0 already imported.")
    assert live_server.count(Response, Response.client_id.in_(ids), Response.channel == "paper") == 2
    assert live_server.count(AuditEvent, AuditEvent.action == "paper.import") >= 1


def test_publish_a_new_questionnaire_version(browser: Browser, live_server, tmp_path):
    definition = json.loads(next(p for p in shipped() if p.name.startswith("counter-quick-v")).read_text("utf-8"))
    definition["id"] = "browser-check"
    definition["title"] = {"vi": "Đánh giá nhanh thử nghiệm", "en": "Trial quick rating"}
    page = _admin_page(browser, live_server)
    page.goto("/admin/questionnaires")
    page.get_by_role("link", name="Upload a questionnaire file").click()
    page.get_by_label("Questionnaire file (.json)").set_input_files(
        {"name": "browser-check-v1.json", "mimeType": "application/json",
         "buffer": json.dumps(definition, ensure_ascii=False).encode()})
    page.get_by_role("button", name="Check and store as draft").click()
    expect(page.get_by_role("heading", name="browser-check v1: Trial quick rating")).to_be_visible()
    expect(page.locator("#qv-status")).to_have_text("draft")

    page.get_by_role("link", name="As a kiosk shows it (both languages)").click()
    first = definition["sections"][0]["items"][0]["text"]
    expect(page.get_by_text(first["vi"], exact=True)).to_be_visible()
    expect(page.get_by_text(first["en"], exact=True)).to_be_visible()
    page.go_back()

    page.get_by_role("button", name="Publish browser-check v1").click()
    expect(page.locator("#qv-status")).to_have_text("published")
    status = live_server.scalar(select(QuestionnaireVersion.status).where(
        QuestionnaireVersion.instrument == "browser-check"))
    assert status == "published"
