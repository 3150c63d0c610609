"""The kiosk page: what the JS app is given (service point, kiosk items in both languages, UI strings),
which questionnaire a service point shows, and the service worker that keeps the shell offline."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from questionnaires.loader import load_shipped
from survey.org.models import ServicePoint
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.respond.kiosk_auth import COOKIE
from tests.factories import small_city
from tests.respond.kiosk_factories import enrolled_kiosk


@pytest.fixture
def city(db_session):
    return small_city(db_session)


@pytest.fixture
def kiosk_client(client, db_session, city):
    _, credential = enrolled_kiosk(db_session)
    client.set_cookie(COOKIE, credential)
    return client


def _data(html: str) -> dict:
    block = re.search(r'<script type="application/json" id="kiosk-data">(.*?)</script>', html, re.S).group(1)
    return json.loads(block)


def test_page_embeds_the_counter_quick_kiosk_items_in_both_languages(kiosk_client, app):
    page = kiosk_client.get("/kiosk")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html  # CSP: no inline script or style
    data = _data(html)
    q = data["questionnaire"]
    assert (q["id"], q["version"]) == ("counter-quick", load_shipped("counter-quick").version)  # the newest
    assert [it["code"] for it in q["items"]] == ["C.ATT", "C.HANDLING", "C.E1", "C.E2", "C.E4", "C.E5", "COMMENT"]
    first = q["items"][0]
    assert first["required"] is True
    assert [lv["face"] for lv in first["levels"]] == ["sad", "happy", "very-happy"]
    assert first["levels"][2]["label"] == {"vi": "Rất hài lòng", "en": "Very satisfied", "km": "ពេញចិត្តខ្លាំង"}
    assert q["items"][-1]["max_length"] == 500
    assert data["strings"]["vi"]["start"] == "Bắt đầu" and data["strings"]["en"]["start"] == "Start"
    assert data["service_point"] == {"vi": "Bộ phận Một cửa Sở Tư pháp", "en": "One-stop desk Department of Justice",
                                     "km": "Bộ phận Một cửa Sở Tư pháp"}  # no Khmer names: shown in vi
    assert data["idle_seconds"] == app.config["HAILONG_KIOSK_IDLE_SECONDS"] == 60


def test_questionnaire_texts_cannot_break_out_of_the_json_block(kiosk_client, db_session):
    sp = db_session.scalar(select(ServicePoint).where(ServicePoint.code == "STP-SP1"))
    sp.official_on_duty = "</script><script>alert(1)</script>"
    db_session.commit()
    html = kiosk_client.get("/kiosk").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert _data(html)["official"] == "</script><script>alert(1)</script>"


def test_service_point_chooses_the_instrument_and_idle_time_is_configurable(kiosk_client, app, db_session):
    app.config["HAILONG_KIOSK_IDLE_SECONDS"] = 15
    sp = db_session.scalar(select(ServicePoint).where(ServicePoint.code == "STP-SP1"))
    sp.kiosk_instrument = "sipas-2017"
    db_session.commit()
    data = _data(kiosk_client.get("/kiosk").get_data(as_text=True))
    assert data["questionnaire"]["id"] == "sipas-2017"
    assert data["idle_seconds"] == 15
    multiple = [it for it in data["questionnaire"]["items"] if it["type"] == "choice" and it["multiple"]]
    assert multiple and all(it["options"] and it["max_choices"] for it in multiple)


def test_no_published_questionnaire_is_a_clear_page(kiosk_client, db_session):
    versions = select(QuestionnaireVersion).where(QuestionnaireVersion.instrument == "counter-quick")
    for qv in db_session.scalars(versions):
        qv.status = "retired"
    db_session.commit()
    page = kiosk_client.get("/kiosk")
    assert page.status_code == 503
    assert "counter-quick" in page.get_data(as_text=True)


def test_service_worker_lists_the_shell_with_the_current_version(client, city):
    sw = client.get("/kiosk-sw.js")
    assert sw.status_code == 200
    assert sw.mimetype == "text/javascript"
    source = sw.get_data(as_text=True)
    version = re.search(r'var VERSION = "([^"]+)";', source).group(1)
    shell = json.loads(re.search(r"var SHELL = (\[.*?\]);", source).group(1))
    assert shell[0] == "/kiosk"
    assert f"/static/js/kiosk.js?v={version}" in shell and f"/static/css/kiosk.css?v={version}" in shell
    for url in shell[1:]:
        asset = client.get(url)
        assert asset.status_code == 200
        asset.close()  # static files are streamed: close them (ResourceWarning is an error here)
