"""Issue 11 §3: inputs that used to end in a 500 with a traceback now get a clear 4xx and store nothing."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from questionnaires.loader import shipped
from survey.org.models import Kiosk
from survey.respond.models import Answer, AnswerTally, Comment, Response, ResponseTally
from tests.admin.adminkit import as_admin, as_user, post_form
from tests.factories import small_city
from tests.respond.kiosk_factories import auth, enrolled_kiosk, payload
from tests.respond.linkkit import form_page, fresh_clients

NESTED_2KB = b"[" * 2048
BIG = 2**31
HUGE = 2**63


@pytest.fixture
def city(db_session):
    return small_city(db_session)


@pytest.fixture
def kiosk(db_session, city):
    return enrolled_kiosk(db_session)


@pytest.fixture
def no_interval(app):
    app.config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 0


def stored(session) -> dict[str, int]:
    session.expire_all()
    return {m.__name__: session.scalar(select(func.count()).select_from(m))
            for m in (Response, Answer, Comment, ResponseTally, AnswerTally)}


EMPTY = {"Response": 0, "Answer": 0, "Comment": 0, "ResponseTally": 0, "AnswerTally": 0}


def _quick(city, answers=None, **extra):
    qv = city.questionnaires["counter-quick"]
    return payload(qv.instrument, qv.version, answers or {"C.ATT": 3, "C.HANDLING": 2}, **extra)


# ---------------------------------------------------------------- JSON API and heartbeat


@pytest.mark.parametrize("path", ["/api/v1/responses", "/api/v1/kiosk/heartbeat"])
def test_deeply_nested_body_without_credential_is_401_unparsed(client, city, path):
    resp = client.post(path, data=NESTED_2KB, content_type="application/json")
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "unauthorized"


@pytest.mark.parametrize("path", ["/api/v1/responses", "/api/v1/kiosk/heartbeat"])
def test_deeply_nested_body_from_a_kiosk_is_a_json_400(client, db_session, kiosk, path):
    _, credential = kiosk
    resp = client.post(path, data=NESTED_2KB, content_type="application/json",
                       headers={**auth(credential), "Accept-Language": "en"})
    assert resp.status_code == 400
    assert "nested" in resp.get_json()["message"]
    assert stored(db_session) == EMPTY


def test_chunked_body_over_the_api_cap_is_413(client, kiosk):
    """No Content-Length (chunked transfer, as gunicorn passes it on): the cap holds while reading."""
    _, credential = kiosk
    resp = client.post("/api/v1/responses", input_stream=io.BytesIO(b" " * (640 * 1024)),
                       content_type="application/json", environ_overrides={"wsgi.input_terminated": True},
                       headers={**auth(credential), "Transfer-Encoding": "chunked"})
    assert resp.status_code == 413
    assert resp.get_json()["error"] == "request_entity_too_large"


@pytest.mark.parametrize("answers", [
    {"C.ATT": 3, "C.HANDLING": "²"},
    {"C.ATT": 3, "C.HANDLING": "9" * 5000},
    {"C.ATT": 3, "C.HANDLING": HUGE},
    {"C.ATT": 3, "C.HANDLING": 2, "COMMENT": "a\x00b"},
    {"C.ATT": 3, "C.HANDLING": 2, "COMMENT": "a\ud800b"},
    {"C.ATT": 3, "C.HANDLING": 2, "COMMENT": "bell\x07"},
])
def test_hostile_answers_on_the_api_are_400_and_store_nothing(client, db_session, city, kiosk, no_interval,
                                                              answers):
    _, credential = kiosk
    body = json.dumps(_quick(city, answers), ensure_ascii=True)
    resp = client.post("/api/v1/responses", data=body, content_type="application/json", headers=auth(credential))
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.get_json()["error"] == "invalid"
    assert stored(db_session) == EMPTY


def test_five_thousand_digit_number_in_json_is_400(client, db_session, city, kiosk, no_interval):
    _, credential = kiosk
    text = json.dumps(_quick(city)).replace('"C.HANDLING": 2', '"C.HANDLING": ' + "9" * 5000)
    resp = client.post("/api/v1/responses", data=text, content_type="application/json", headers=auth(credential))
    assert resp.status_code == 400
    assert stored(db_session) == EMPTY


def _field_or_number_refused(resp, field):
    """A field message for a number beyond the column, or the body refused for a number beyond 64 bits."""
    assert resp.status_code == 400
    body = resp.get_json()
    assert field in body.get("errors", {}) or "too large" in body["message"]


@pytest.mark.parametrize("version", [BIG, HUGE, -BIG - 1])
def test_version_outside_the_column_is_a_field_error(client, db_session, city, kiosk, no_interval, version):
    _, credential = kiosk
    body = _quick(city)
    body["version"] = version
    resp = client.post("/api/v1/responses", json=body, headers={**auth(credential), "Accept-Language": "en"})
    _field_or_number_refused(resp, "version")
    assert stored(db_session) == EMPTY


@pytest.mark.parametrize("queue", [BIG, HUGE])
def test_queue_length_outside_the_column_is_a_field_error(client, db_session, kiosk, queue):
    kiosk_obj, credential = kiosk
    resp = client.post("/api/v1/kiosk/heartbeat", json={"queue_length": queue},
                       headers={**auth(credential), "Accept-Language": "en"})
    _field_or_number_refused(resp, "queue_length")
    db_session.expire_all()
    assert db_session.get(Kiosk, kiosk_obj.id).queue_length == 0


# ---------------------------------------------------------------- phone form


def _phone_post(app, city, extra):
    client = fresh_clients(app)
    sp = city.service_points["STP-SP1"]
    _html, hidden = form_page(client, f"/s/{sp.code}")
    return client.post(f"/s/{sp.code}", data={**hidden, **extra}, headers={"Accept-Language": "en"})


@pytest.mark.parametrize("value", ["²", "9" * 5000, "٣", "99999999999"])
def test_odd_digits_on_the_phone_form_are_a_field_message(app, db_session, city, value):
    code = _first_scale_item(city.service_points["STP-SP1"])
    resp = _phone_post(app, city, {code: value})
    assert resp.status_code == 422
    assert stored(db_session) == EMPTY


def _first_scale_item(sp):
    from survey.extensions import db
    from survey.questionnaire_versions.service import latest_published, questionnaire_for

    q, _ids = questionnaire_for(db.session, latest_published(db.session, sp.link_instrument).id)
    return next(it.code for it in q.items() if it.type == "scale")


@pytest.mark.parametrize("text", ["a\x00b", "esc\x1b[31m"])
def test_control_characters_in_a_phone_comment_are_400_in_the_users_language(app, db_session, city, text):
    resp = _phone_post(app, city, {"COMMENT": text, "E1.1": "3"})
    assert resp.status_code == 400
    assert "characters" in resp.get_data(as_text=True)
    assert stored(db_session) == EMPTY


def test_nul_in_the_poster_code_is_400_not_500(client, city):
    assert client.get("/s/SP%00X").status_code in (400, 404)


def test_crlf_in_next_is_not_a_server_error(client, city):
    for url in ("/text-size/large?next=/%0d%0aSet-Cookie:x=1", "/lang/en?next=/%0d%0aX:1",
                "/auth/login?next=/%0d%0a"):
        resp = client.get(url)
        assert resp.status_code < 500, url
        assert "\n" not in resp.headers.get("Location", "")


# ---------------------------------------------------------------- uploads


def test_questionnaire_json_nested_5000_deep_is_refused_with_a_message(client, db_session, city):
    as_admin(client)
    doc = '{"a":' * 5000 + "1" + "}" * 5000
    resp = post_form(client, "/admin/questionnaires/upload",
                     {"file": (io.BytesIO(doc.encode()), "deep.json")}, content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "nested" in resp.get_data(as_text=True)


def test_questionnaire_version_outside_the_column_is_refused(client, db_session, city):
    as_admin(client)
    path = next(p for p in shipped() if "quick" in str(p))
    data = json.loads(path.read_text(encoding="utf-8"))
    data["version"] = BIG
    resp = post_form(client, "/admin/questionnaires/upload",
                     {"file": (io.BytesIO(json.dumps(data).encode()), "big.json")}, content_type="multipart/form-data")
    assert resp.status_code == 400


def test_tree_yaml_nested_2000_deep_is_refused_with_a_message(client, db_session, city):
    as_admin(client)
    doc = "units:\n- " + "[" * 2000 + "]" * 2000 + "\n"
    resp = post_form(client, "/admin/tree/import",
                     {"file": (io.BytesIO(doc.encode()), "deep.yaml")}, content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "nested" in resp.get_data(as_text=True)


# ---------------------------------------------------------------- ids beyond the column


@pytest.mark.parametrize("url", [
    f"/homeaffairs/unit/{BIG}", f"/homeaffairs/unit/{HUGE}", f"/homeaffairs/agency/{HUGE}",
    f"/admin/questionnaires/{BIG}", f"/admin/questionnaires/{HUGE}", f"/admin/users/{HUGE}/edit",
    f"/admin/units/{HUGE}/edit",
])
def test_ids_beyond_the_column_are_404(client, city, url):
    as_admin(client) if url.startswith("/admin") else as_user(client, "noivu")
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("url", [
    f"/admin/units/new?parent={BIG}", f"/admin/units/new?parent={HUGE}",
    f"/admin/volumes/grid?agency={BIG}", f"/admin/volumes/grid?agency={HUGE}",
    f"/admin/service-points/new?agency={HUGE}", f"/admin/audit?page={HUGE}",
    f"/admin/volumes?year={HUGE}",
])
def test_query_ids_beyond_the_column_are_not_server_errors(client, city, url):
    as_admin(client)
    assert client.get(url).status_code < 500


@pytest.mark.parametrize("url", [
    f"/homeaffairs/?questionnaire={HUGE}", f"/homeaffairs/?top_k={HUGE}",
    f"/homeaffairs/export.csv?view=unit&unit_id={HUGE}", f"/dashboard/?questionnaire={HUGE}",
])
def test_dashboard_query_integers_beyond_the_column_are_not_server_errors(client, city, url):
    as_user(client, "noivu")
    assert client.get(url).status_code < 500


# ---------------------------------------------------------------- found by the fuzz suite


@pytest.mark.parametrize("cell", ["²", "9" * 30])
def test_volume_counts_beyond_digits_or_the_column_are_a_row_error(client, db_session, city, cell):
    as_admin(client)
    body = f"service_point,month,dossiers,dissatisfied_or_complaints\nSTP-SP1,2025-01,{cell},0\n".encode()
    resp = post_form(client, "/admin/volumes/import", {"file": (io.BytesIO(body), "volumes.csv")},
                     content_type="multipart/form-data")
    assert resp.status_code == 400
    assert stored(db_session) == EMPTY


def _damaged_xlsx() -> bytes:
    """A workbook whose sheet XML holds a character reference XML forbids (the sheet is read lazily)."""
    import zipfile

    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["response_id", "submitted_at"])
    book.active.append(["PLACEHOLDER", "2026-01-01"])
    plain = io.BytesIO()
    book.save(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith(("sheet1.xml", "sharedStrings.xml")):
                data = data.replace(b"PLACEHOLDER", b"&#1;")
            dst.writestr(info, data)
    return out.getvalue()


def test_a_damaged_xlsx_sheet_is_a_message_not_a_500(client, db_session, city):
    as_admin(client)
    resp = post_form(client, "/admin/paper", {"file": (io.BytesIO(_damaged_xlsx()), "paper.xlsx")},
                     content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "could not be read as an Excel workbook" in resp.get_data(as_text=True)
    assert stored(db_session) == EMPTY


@pytest.mark.parametrize(("lang", "words"), [("vi", "ký tự không thể lưu"), ("en", "characters that cannot be stored")])
def test_refused_characters_are_explained_in_the_users_language(client, city, lang, words):
    resp = client.get("/thanks?sp=%00", headers={"Accept-Language": lang})
    assert resp.status_code == 400
    assert words in resp.get_data(as_text=True)


# ---------------------------------------------------------------- NUL in uploaded files (PostgreSQL cannot hold it)


def test_nul_in_an_uploaded_table_is_a_message(client, db_session, city):
    as_admin(client)
    body = b"service_point,month,dossiers,dissatisfied_or_complaints\nSTP-SP1\x00,2025-01,3,0\n"
    resp = post_form(client, "/admin/volumes/import", {"file": (io.BytesIO(body), "volumes.csv")},
                     content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "Line 2, column service_point holds characters that cannot be stored" in resp.get_data(as_text=True)


def test_nul_in_a_tree_file_is_a_message(client, db_session, city):
    as_admin(client)
    body = "type,code,parent,level,name_vi\nunit,NEWU,CT,district,Phường\x00Mới\n".encode()
    resp = post_form(client, "/admin/tree/import", {"file": (io.BytesIO(body), "tree.csv")},
                     content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "characters that cannot be stored" in resp.get_data(as_text=True)


def test_nul_in_a_stored_answer_is_refused_on_every_channel(db_session, city):
    from survey.respond.store import Submission, SubmissionError, store_response

    qv = city.questionnaires["counter-quick"]
    sub = Submission(service_point_id=city.service_points["STP-SP1"].id, questionnaire_version_id=qv.id,
                     answers={"C.ATT": 3, "C.HANDLING": 2, "COMMENT": "a\x00b"}, channel="paper", language="en")
    with pytest.raises(SubmissionError) as exc:
        store_response(db_session, sub)
    assert "cannot be stored" in exc.value.errors["COMMENT"]
    db_session.rollback()
    assert stored(db_session) == EMPTY


def test_a_multiple_choice_of_numbers_and_digit_strings_is_stored_not_a_500(client, db_session, city, kiosk,
                                                                              no_interval):
    """[2, "1"] is valid (digit strings count as numbers) but cannot be sorted as sent."""
    from survey.questionnaire_versions.service import questionnaire_for
    from tests.respond.kiosk_factories import valid_answers

    kiosk_obj, credential = kiosk
    kiosk_obj.service_point.kiosk_instrument = "sipas-2017"  # a kiosk stores only what its service point shows
    db_session.commit()
    qv = city.questionnaires["sipas-2017"]
    q, _ids = questionnaire_for(db_session, qv.id)
    answers = valid_answers(q)
    item = next(it for it in q.items() if it.type == "choice" and it.multiple)
    answers[item.code] = [item.options[1].value, str(item.options[0].value)]
    resp = client.post("/api/v1/responses", json=payload(qv.instrument, qv.version, answers),
                       headers=auth(credential))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert stored(db_session)["Response"] == 1


@pytest.mark.parametrize("blank", [" ", "\r\n", "\t"])
def test_a_blank_text_on_an_optional_rating_is_no_answer_not_a_500(client, db_session, city, kiosk, no_interval,
                                                                     blank):
    """Found by the fuzz suite: validate_answers treated " " as unanswered, storing then tried int(" ")."""
    from survey.questionnaire_versions.service import questionnaire_for

    _, credential = kiosk
    qv = city.questionnaires["counter-quick"]
    q, _ids = questionnaire_for(db_session, qv.id)
    optional = next(it for it in q.kiosk_items() if it.type == "scale" and not it.required)
    body = _quick(city, {"C.ATT": 3, "C.HANDLING": 2, optional.code: blank})
    resp = client.post("/api/v1/responses", json=body, headers=auth(credential))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert stored(db_session)["Answer"] == 2


def test_a_level_rank_of_odd_digits_is_a_row_error(client, db_session, city):
    """Found by the fuzz suite: rank "²" passed isdigit() and then int() failed."""
    as_admin(client)
    body = "type,code,parent,level,rank,name_vi\nlevel,ward,,,²,Phường\n".encode()
    resp = post_form(client, "/admin/tree/import", {"file": (io.BytesIO(body), "tree.csv")},
                     content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "is not a whole number" in resp.get_data(as_text=True)
