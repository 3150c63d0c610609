"""Questionnaire pages: upload (invalid → report with paths; changed version with responses → "bump the
version"), preview as kiosk and phone in both languages (never stored), publish → offered at the service
point it is assigned to, retire (confirmed), assign per service point and per agency; all audited."""

from __future__ import annotations

import io
import json

from sqlalchemy import func, select

from questionnaires.loader import shipped
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.respond.models import Response
from survey.respond.store import Submission, store_response
from tests.admin.adminkit import as_admin, csrf_token, events, forget_user, get, post_form, text
from tests.factories import small_city


def shipped_definition(instrument: str) -> dict:
    path = [p for p in shipped() if p.name.startswith(instrument + "-v")][-1]  # the newest shipped version
    return json.loads(path.read_text(encoding="utf-8"))


def upload(client, payload: bytes, name: str = "q.json"):
    forget_user()
    token = csrf_token(text(client.get("/admin/questionnaires/upload")))
    forget_user()
    return client.post("/admin/questionnaires/upload", data={"csrf_token": token, "file": (io.BytesIO(payload), name)},
                       content_type="multipart/form-data")


NEXT = max(json.loads(p.read_text(encoding="utf-8"))["version"] for p in shipped()
           if p.name.startswith("sipas-2017-v")) + 1


def sipas_v2() -> dict:
    """A new version of sipas-2017 (the one after the newest shipped), with a recognisable title."""
    d = shipped_definition("sipas-2017")
    d["version"] = NEXT
    d["title"] = {"vi": "Khảo sát SIPAS phiên bản hai", "en": "SIPAS survey, second version"}
    return d


def version(session, instrument: str, number: int) -> QuestionnaireVersion | None:
    session.expire_all()
    return session.scalar(select(QuestionnaireVersion).where(QuestionnaireVersion.instrument == instrument,
                                                             QuestionnaireVersion.version == number))


def test_invalid_file_lists_every_issue_with_its_path_and_stores_nothing(client, db_session):
    small_city(db_session)
    as_admin(client)
    d = sipas_v2()
    d["sections"][0]["items"][0]["scale"] = "nope"
    del d["title"]["vi"]  # Vietnamese is required (other languages are optional since issue 15)
    resp = upload(client, json.dumps(d).encode())
    page = text(resp)
    assert resp.status_code == 400
    assert "sections[0].items[0].scale" in page and "<code>title</code>" in page
    assert "Nothing was stored." in page
    assert version(db_session, "sipas-2017", NEXT) is None

    resp = upload(client, b'{"id": "x",\n "version": }')
    assert resp.status_code == 400 and "line 2, column" in text(resp) and "malformed JSON" in text(resp)


def test_vietnamese_page_keeps_the_paths(client, db_session):
    small_city(db_session)
    as_admin(client, "vi")
    d = sipas_v2()
    d["sections"][0]["items"][0]["scale"] = "nope"
    page = text(upload(client, json.dumps(d).encode()))
    assert "sections[0].items[0].scale" in page and "Tải lên" in page


def test_upload_preview_publish_then_offered_at_the_assigned_service_point(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    resp = upload(client, json.dumps(sipas_v2()).encode(), f"sipas-2017-v{NEXT}.json")
    assert resp.status_code == 302
    qv = version(db_session, "sipas-2017", NEXT)
    assert qv is not None and qv.status == "draft"
    assert [e.after["status"] for e in events(db_session, "questionnaire.created")] == ["draft"]

    # a draft is not offered: the QR link of a service point using sipas-2017 still shows the shipped version
    sp = city.service_points["STP-SP1"]
    assert "second version" not in text(get(client, f"/s/{sp.code}?lang=en"))

    detail = text(get(client, f"/admin/questionnaires/{qv.id}"))
    assert "draft" in detail and "Khảo sát SIPAS phiên bản hai" in detail and "SIPAS survey, second version" in detail

    kiosk = text(get(client, f"/admin/questionnaires/{qv.id}/preview/kiosk"))
    first = qv_item_texts(sipas_v2(), 0)
    assert first["vi"] in kiosk and first["en"] in kiosk        # both languages, one screen per question
    assert kiosk.count('class="preview-screen-row" data-item=') == len(all_items(sipas_v2()))
    assert f"Question 1 of {len(all_items(sipas_v2()))}" in kiosk

    phone_vi = text(get(client, f"/admin/questionnaires/{qv.id}/preview/phone/vi"))
    phone_en = text(get(client, f"/admin/questionnaires/{qv.id}/preview/phone/en"))
    assert first["vi"] in phone_vi and first["en"] not in phone_vi
    assert first["en"] in phone_en and 'lang="en"' in phone_en

    # the phone preview validates but never stores
    n_before = db_session.scalar(select(func.count()).select_from(Response))
    forget_user()
    resp = client.post(f"/admin/questionnaires/{qv.id}/preview/phone/en",
                       data={"csrf_token": csrf_token(phone_en), "client_id": "00000000-0000-4000-8000-000000000001",
                             "OVERALL.SAT": "4"})
    assert resp.status_code == 200 and "Nothing was stored" in text(resp)
    forget_user()
    resp = client.post(f"/admin/questionnaires/{qv.id}/preview/phone/en",
                       data={"csrf_token": csrf_token(phone_en), "client_id": "00000000-0000-4000-8000-000000000002"})
    assert resp.status_code == 422 and "Please choose a rating." in text(resp)
    assert db_session.scalar(select(func.count()).select_from(Response)) == n_before

    resp = post_form(client, f"/admin/questionnaires/{qv.id}", {}, to=f"/admin/questionnaires/{qv.id}/publish")
    assert resp.status_code == 302
    assert version(db_session, "sipas-2017", NEXT).status == "published"
    [event] = events(db_session, "questionnaire.publish")
    assert event.before["status"] == "draft" and event.after["status"] == "published"
    assert "SIPAS survey, second version" in text(get(client, f"/s/{sp.code}?lang=en"))


def qv_item_texts(d: dict, n: int) -> dict:
    return all_items(d)[n]["text"]


def all_items(d: dict) -> list[dict]:
    kiosk = d.get("kiosk", {}).get("items")
    items = [it for s in d["sections"] for it in s["items"]]
    return [next(it for it in items if it["code"] == c) for c in kiosk] if kiosk else items


def test_a_version_with_responses_cannot_change(client, db_session):
    city = small_city(db_session)
    qv = city.questionnaires["counter-quick"]
    store_response(db_session, Submission(service_point_id=city.service_points["STP-SP1"].id,
                                          questionnaire_version_id=qv.id, answers={"C.ATT": 3, "C.HANDLING": 3},
                                          channel="kiosk"))
    as_admin(client)
    d = shipped_definition("counter-quick")
    d["title"]["en"] = "Changed title"
    resp = upload(client, json.dumps(d).encode())
    assert resp.status_code == 409
    assert "already has responses" in text(resp) and f"new version number (e.g. {qv.version + 1})" in text(resp)
    assert version(db_session, "counter-quick", qv.version).title_en != "Changed title"
    # the identical file is accepted as "nothing changed"
    resp = upload(client, json.dumps(shipped_definition("counter-quick")).encode())
    assert resp.status_code == 302
    assert "nothing changed" in text(get(client, resp.headers["Location"]))
    assert events(db_session, "questionnaire.replaced") == []


def test_retire_is_confirmed_and_keeps_the_data(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    qv = city.questionnaires["sipas-2017"]
    for older in db_session.scalars(select(QuestionnaireVersion).where(
            QuestionnaireVersion.instrument == "sipas-2017", QuestionnaireVersion.id != qv.id)):
        older.status = "retired"  # the newest shipped version is the only one offered
    db_session.commit()
    url = f"/admin/questionnaires/{qv.id}/retire"
    page = text(get(client, url))
    assert "No other published version" in page
    resp = post_form(client, url, {})
    assert resp.status_code == 400 and "Tick the box" in text(resp)
    assert version(db_session, "sipas-2017", qv.version).status == "published"
    resp = post_form(client, url, {"confirm": "y"})
    assert resp.status_code == 302
    assert version(db_session, "sipas-2017", qv.version).status == "retired"
    assert len(events(db_session, "questionnaire.retire")) == 1
    assert get(client, f"/s/{city.service_points['STP-SP1'].code}").status_code == 503  # no longer offered
    # publishing it again puts it back
    post_form(client, f"/admin/questionnaires/{qv.id}", {}, to=f"/admin/questionnaires/{qv.id}/publish")
    assert version(db_session, "sipas-2017", qv.version).status == "published"


def test_assign_per_service_point_and_per_agency(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    sp = city.service_points["STP-SP1"]
    resp = post_form(client, "/admin/questionnaires/assign",
                     {"scope": "points", f"kiosk-{sp.id}": "sipas-2017", f"link-{sp.id}": "papi-services"})
    assert resp.status_code == 302
    db_session.expire_all()
    assert (sp.kiosk_instrument, sp.link_instrument) == ("sipas-2017", "papi-services")
    [event] = events(db_session, "org.service_point.update")
    assert event.after["link_instrument"] == "papi-services"

    resp = post_form(client, "/admin/questionnaires/assign", {"scope": "points", f"kiosk-{sp.id}": "no-such"})
    assert resp.status_code == 400 and "Choose a published questionnaire." in text(resp)

    agency = city.agencies["UBND-NK"]
    resp = post_form(client, "/admin/questionnaires/assign",
                     {"scope": "agency", "agency": str(agency.id), "kiosk_instrument": "", "link_instrument":
                      "papi-services"})
    assert resp.status_code == 302
    db_session.expire_all()
    assert {p.link_instrument for p in agency.service_points} == {"papi-services"}
    assert {p.kiosk_instrument for p in agency.service_points} == {"counter-quick"}  # kept
    resp = post_form(client, "/admin/questionnaires/assign", {"scope": "agency", "agency": ""})
    assert resp.status_code == 400 and "Choose an agency." in text(resp)


def test_list_shows_versions_status_and_use(client, db_session):
    small_city(db_session)
    as_admin(client)
    page = text(get(client, "/admin/questionnaires"))
    for label in ("counter-quick v1", "sipas-2017 v1", "papi-services v1"):
        assert label in page
    assert "4 / 0 service points" in page  # counter-quick on the 4 kiosks, no phone
