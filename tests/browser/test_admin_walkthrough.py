"""Administration in headless Chromium, as a new administrator would use it (in Vietnamese, the default):
log in, open Quản trị, add a commune and a service point, enrol a kiosk (the one-time code is shown),
create a batch of receipt tokens and download its CSV, then find each action in the audit log.

The live server is shared with the other browser tests, so everything made here has its own codes and
the service point goes to an agency no other browser test counts."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import Page, expect

from survey.org.models import Kiosk, ServicePoint, Unit
from survey.respond import invitations as inv
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def _login_admin(page: Page) -> None:
    page.goto("/auth/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("form.logout")).to_be_visible()
    page.get_by_role("link", name="Tiếng Việt").click()


def _audit_has(page: Page, action: str, target: str) -> None:
    page.goto("/admin/audit")
    page.select_option("select[name=action]", action)
    page.fill("input[name=target]", target)
    page.get_by_role("button", name="Lọc").click()
    row = page.locator(f'tr.audit-event[data-action="{action}"]')
    expect(row).to_have_count(1)
    expect(row).to_contain_text("admin")


def test_admin_builds_a_commune_to_receipts_and_finds_it_all_in_the_audit_log(page: Page, live_server):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    _login_admin(page)
    page.get_by_role("link", name="Quản trị").click()
    expect(page.locator("h1")).to_have_text("Quản trị")
    page.locator(".admin-sections").get_by_role("link", name="Cây đơn vị").click()

    # a commune under Ninh Kiều
    page.locator("#unit-NK > .node-line").get_by_role("link", name="Thêm đơn vị trực thuộc").click()
    expect(page.locator("select[name=level]")).to_have_value("commune")
    page.fill("input[name=code]", "NK-BRW")
    page.fill("input[name=name_vi]", "Phường Thử Nghiệm")
    page.fill("input[name=name_en]", "Test Ward")
    page.get_by_role("button", name="Tạo đơn vị").click()
    expect(page.locator(".flash-success")).to_contain_text("Đã tạo đơn vị NK-BRW.")
    expect(page.locator("#unit-NK-BRW")).to_contain_text("Phường Thử Nghiệm")

    # a service point at the Tân An People's Committee, with a mistake first
    page.locator("#agency-UBND-NK-TA > .node-line").get_by_role("link", name="Thêm điểm phục vụ").click()
    page.fill("input[name=code]", "NK-TA-BRW")
    page.fill("input[name=name_vi]", "")
    page.fill("input[name=name_en]", "Browser desk")
    page.get_by_role("button", name="Tạo điểm phục vụ").click()
    expect(page.locator("p.field-error")).to_have_text("Hãy nhập tên.")
    page.fill("input[name=name_vi]", "Quầy thử nghiệm")
    page.get_by_role("button", name="Tạo điểm phục vụ").click()
    expect(page.locator("#sp-NK-TA-BRW")).to_contain_text("Quầy thử nghiệm")

    # enrol a kiosk there: the code is shown once
    page.goto("/admin/")
    page.locator(".admin-sections").get_by_role("link", name="Máy đánh giá").click()
    page.get_by_role("link", name="Đăng ký máy đánh giá").click()
    page.select_option("select[name=service_point]", "NK-TA-BRW")
    page.fill("input[name=name]", "Kiosk thử nghiệm")
    page.get_by_role("button", name="Tạo mã đăng ký").click()
    code = page.locator("#enrolment-code").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    expect(page.locator("main")).to_contain_text("Mã này chỉ hiển thị một lần.")
    page.get_by_role("link", name="Quay lại danh sách máy đánh giá").click()
    expect(page.locator("#kiosk-NK-TA-BRW-K1")).to_contain_text("chờ nhập mã")
    expect(page.locator("main")).not_to_contain_text(code)

    # a batch of receipts and its CSV
    page.goto("/admin/invitations")
    page.select_option("select[name=service_point]", "NK-TA-BRW")
    page.fill("input[name=count]", "6")
    page.fill("input[name=expires_days]", "14")
    page.get_by_role("button", name="Tạo đợt").click()
    expect(page.locator("h1")).to_contain_text("6 phiếu cho NK-TA-BRW")
    with page.expect_download() as info:
        page.get_by_role("link", name="Đường dẫn và mã (CSV)").click()
    with open(info.value.path(), encoding="utf-8") as fh:
        rows = list(csv.DictReader(io.StringIO(fh.read())))
    assert len(rows) == 6 and {r["service_point"] for r in rows} == {"NK-TA-BRW"}
    batch_id = int(rows[0]["batch"])

    # everything is in the database as shown, and in the audit log
    assert live_server.count(Unit, Unit.code == "NK-BRW") == 1
    assert live_server.count(ServicePoint, ServicePoint.code == "NK-TA-BRW") == 1
    assert live_server.count(Kiosk, Kiosk.code == "NK-TA-BRW-K1") == 1
    with live_server.app.app_context():
        from survey.extensions import db

        assert all(inv.check_token(db.session, r["token"]).status == inv.VALID for r in rows)
        db.session.remove()
    _audit_has(page, "org.unit.create", "NK-BRW")
    _audit_has(page, "org.service_point.create", "NK-TA-BRW")
    _audit_has(page, "kiosk.registered", "NK-TA-BRW-K1")
    _audit_has(page, "invitations.create", str(batch_id))
    assert not [e for e in errors if "Content Security Policy" in e], errors
