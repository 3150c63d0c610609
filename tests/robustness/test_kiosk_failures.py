"""A kiosk reports queued responses the server keeps failing; staff see them in `kiosks list` and /admin/kiosks."""

from __future__ import annotations

import json
import re

import pytest

from survey.org.models import Kiosk
from tests.admin.adminkit import as_admin
from tests.factories import small_city
from tests.respond.kiosk_factories import auth, enrolled_kiosk


@pytest.fixture
def city(db_session):
    return small_city(db_session)


@pytest.fixture
def kiosk(db_session, city):
    return enrolled_kiosk(db_session)


def _beat(client, credential, **body):
    return client.post("/api/v1/kiosk/heartbeat", json={"queue_length": 3, **body},
                       headers={**auth(credential), "Accept-Language": "en"})


def test_failing_items_reported_by_the_heartbeat_show_in_the_cli_and_the_admin_page(client, runner, db_session,
                                                                                      kiosk):
    kiosk_obj, credential = kiosk
    assert _beat(client, credential, failing_items=2, last_failure_status=500).status_code == 200
    db_session.expire_all()
    stored = db_session.get(Kiosk, kiosk_obj.id)
    assert (stored.failing_items, stored.last_failure_status) == (2, 500)
    listing = runner.invoke(args=["kiosks", "list"]).output
    assert re.search(rf"{kiosk_obj.code}.*\b3\s+2 \(HTTP 500\)", listing), listing
    page = as_admin(client).get("/admin/kiosks").get_data(as_text=True)
    assert "Failing to send" in page
    assert "2 answers refused by the server (last error: HTTP 500)" in page


def test_an_old_kiosk_without_the_field_keeps_the_last_report_and_zero_clears_it(client, runner, db_session, kiosk):
    kiosk_obj, credential = kiosk
    _beat(client, credential, failing_items=1, last_failure_status=502)
    assert _beat(client, credential).status_code == 200
    db_session.expire_all()
    assert db_session.get(Kiosk, kiosk_obj.id).failing_items == 1
    _beat(client, credential, failing_items=0, last_failure_status=502)
    db_session.expire_all()
    stored = db_session.get(Kiosk, kiosk_obj.id)
    assert (stored.failing_items, stored.last_failure_status) == (0, None)
    listing = runner.invoke(args=["kiosks", "list"]).output
    assert "HTTP" not in listing


@pytest.mark.parametrize("body", [
    {"failing_items": -1}, {"failing_items": 2**31}, {"failing_items": "2"}, {"failing_items": True},
    {"failing_items": 1, "last_failure_status": 1000}, {"failing_items": 1, "last_failure_status": "500"},
])
def test_bad_failure_reports_are_field_errors(client, db_session, kiosk, body):
    kiosk_obj, credential = kiosk
    resp = _beat(client, credential, **body)
    assert resp.status_code == 400
    assert set(resp.get_json()["errors"]) <= {"failing_items", "last_failure_status"}
    db_session.expire_all()
    assert db_session.get(Kiosk, kiosk_obj.id).failing_items == 0


def test_the_kiosk_page_tells_the_script_its_retry_base(client, app, city, kiosk):
    app.config["HAILONG_KIOSK_RETRY_SECONDS"] = 0.25
    _kiosk, credential = kiosk
    client.set_cookie("hl_kiosk", credential)
    html = client.get("/kiosk").get_data(as_text=True)
    data = json.loads(re.search(r'<script[^>]*id="kiosk-data"[^>]*>(.*?)</script>', html, re.S).group(1))
    assert data["retry_seconds"] == 0.25
