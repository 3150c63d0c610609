"""Fuzz the citizen-facing entry points: kiosk API submit and heartbeat, the poster form, receipt tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from survey.extensions import db
from survey.org.models import Kiosk
from survey.questionnaire_versions.service import latest_published, questionnaire_for
from survey.respond import invitations as inv
from tests.factories import small_city
from tests.fuzz.kit import (
    EXAMPLES,
    FUZZ,
    changed,
    csrf_from,
    dumps,
    form_value,
    fresh_limits,
    ints,
    json_values,
    raw_bodies,
    seen,
    texts,
    url_part,
)
from tests.respond.kiosk_factories import auth, enrolled_kiosk
from tests.respond.linkkit import fresh_clients

pytestmark = pytest.mark.fuzz


@pytest.fixture
def city(db_session):
    return small_city(db_session)


def _values(item: Any) -> list[Any]:
    if item.type == "text":
        return ["Cán bộ nhiệt tình"]
    return [*item.values, *([0] if getattr(item, "offers_no_opinion", False) else [])]


# ---------------------------------------------------------------- kiosk API


@st.composite
def api_requests(draw: st.DrawFn, items: list[Any], qv: Any) -> tuple[bytes, str]:
    """A valid submission with a few (often zero) fields or answers replaced by hostile values, or raw bytes."""
    if draw(st.integers(0, 9)) == 7:
        return draw(raw_bodies), draw(st.sampled_from(["application/json", "text/plain"]))
    answers: dict[Any, Any] = {it.code: draw(st.sampled_from(_values(it))) for it in items
                               if it.required or draw(st.booleans())}
    body: dict[Any, Any] = {"client_id": str(draw(st.uuids())), "questionnaire": qv.instrument,
                            "version": qv.version, "submitted_at": datetime.now(UTC).isoformat(),
                            "language": draw(st.sampled_from(["vi", "en"])), "answers": answers}
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["envelope", "answer", "extra answer", "extra key"]))
        value = draw(st.one_of(ints, texts, json_values))
        if where == "envelope":
            body[draw(st.sampled_from(sorted(body)))] = value
        elif where == "answer" and isinstance(body.get("answers"), dict):
            body["answers"][draw(st.sampled_from([it.code for it in items]))] = value
        elif where == "extra answer" and isinstance(body.get("answers"), dict):
            body["answers"][draw(texts)] = value
        else:
            body[draw(texts)] = value
    return dumps(body), "application/json"


def test_api_submit(fuzz_app, client, rows, city):
    _kiosk, credential = enrolled_kiosk(db.session)
    qv = latest_published(db.session, "counter-quick")
    q, _ids = questionnaire_for(db.session, qv.id)
    items = list(q.kiosk_items())

    @FUZZ
    @given(request=api_requests(items, qv), credential_choice=st.integers(0, 19))
    def check(request: tuple[bytes, str], credential_choice: int) -> None:
        fresh_limits()
        body, content_type = request
        # one case in twenty without a valid credential (7: not a boundary value Hypothesis favours)
        headers = {"Authorization": "Kiosk forged"} if credential_choice == 7 else auth(credential)
        before = rows()
        resp = client.post("/api/v1/responses", data=body, content_type=content_type, headers=headers)
        seen("API submit /api/v1/responses", resp.status_code)
        assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
        diff = changed(before, rows())
        if resp.status_code == 201:
            assert diff["response"] == (before["response"], before["response"] + 1)
        else:
            assert diff == {}, (resp.status_code, diff)  # a duplicate (200) stores nothing either

    check()


@st.composite
def heartbeats(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 5)) == 0:
        return draw(raw_bodies)
    body: dict[Any, Any] = {"queue_length": draw(st.integers(0, 50)), "software_version": "1.abc"}
    for key in draw(st.lists(st.sampled_from(["queue_length", "software_version", "failing_items",
                                              "last_failure_status", "language"]), max_size=3, unique=True)):
        body[key] = draw(st.one_of(ints, json_values))
    return dumps(body)


def test_heartbeat(fuzz_app, client, rows, city):
    kiosk, credential = enrolled_kiosk(db.session)
    columns = (Kiosk.queue_length, Kiosk.software_version, Kiosk.failing_items, Kiosk.last_failure_status)

    def state() -> tuple[Any, ...]:
        db.session.rollback()
        row = db.session.execute(select(*columns).where(Kiosk.id == kiosk.id)).one()
        db.session.rollback()
        return tuple(row)

    @FUZZ
    @given(body=heartbeats())
    def check(body: bytes) -> None:
        fresh_limits()
        before, kiosk_before = rows(), state()
        resp = client.post("/api/v1/kiosk/heartbeat", data=body, content_type="application/json",
                           headers=auth(credential))
        seen("heartbeat /api/v1/kiosk/heartbeat", resp.status_code)
        assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
        assert changed(before, rows()) == {}
        if resp.status_code != 200:
            assert state() == kiosk_before

    check()


# ---------------------------------------------------------------- phone forms


@st.composite
def phone_posts(draw: st.DrawFn, q: Any) -> dict[str, Any]:
    """Every item answered validly (or left out), then a few (often zero) fields made hostile."""
    data: dict[str, Any] = {}
    for item in q.items():
        if item.required or draw(st.booleans()):
            data[item.code] = draw(st.sampled_from([str(v) for v in _values(item)]))
    data["client_id"] = str(draw(st.uuids()))
    codes = [it.code for it in q.items()]
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["item", "client_id", "do", "page", "extra"]))
        if where == "item":
            data[draw(st.sampled_from(codes))] = draw(form_value([]))
        elif where == "do":
            data["do"] = draw(st.one_of(
                st.sampled_from(["send", "next", "back", "lang:en", "lang:xx", "text:large"]), texts))
        elif where == "extra":
            data[draw(texts)] = draw(texts)
        else:
            data[where] = draw(st.one_of(ints.map(str), texts))
    return data


def _phone_check(label: str, client: Any, rows: Any, url_for_case: Any, q: Any) -> None:
    page = client.get(url_for_case(None))
    token = csrf_from(page.get_data(as_text=True))

    @FUZZ
    @given(data=phone_posts(q), csrf_choice=st.integers(0, 19), target=st.data())
    def check(data: dict[str, Any], csrf_choice: int, target: st.DataObject) -> None:
        fresh_limits()
        url = url_for_case(target)
        before = rows()
        if csrf_choice != 7:  # one case in twenty without the form's CSRF token
            data = {**data, "csrf_token": token}
        try:
            resp = client.post(url, data=data)
        except UnicodeEncodeError:  # the test client cannot even send a lone surrogate in a form
            return
        seen(label, resp.status_code)
        assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
        diff = changed(before, rows())
        stored = resp.status_code == 303 and "/thanks" in resp.headers.get("Location", "")
        if stored:  # one response more, or none for a double submit of the same client id
            low, high = diff.get("response", (0, 0))
            assert high - low in (0, 1)
        else:
            assert diff == {}, (resp.status_code, diff)

    check()


def test_phone_poster_form(fuzz_app, rows, city):
    client = fresh_clients(fuzz_app)
    sp = city.service_points["STP-SP1"]
    q, _ids = questionnaire_for(db.session, latest_published(db.session, sp.link_instrument).id)
    codes = [s.code for s in city.service_points.values()]

    def url(target: st.DataObject | None) -> str:
        if target is None or target.draw(st.integers(0, 9)) != 7:
            return f"/s/{sp.code}"
        return "/s/" + url_part(target.draw(st.one_of(st.sampled_from(codes), texts)))

    _phone_check("phone form /s/<code>", client, rows, url, q)


def test_phone_receipt_token_form(fuzz_app, rows, city):
    client = fresh_clients(fuzz_app)
    sp = city.service_points["UBND-NK-SP1"]
    created = inv.create_batch(db.session, sp, min(10_000, 2 * EXAMPLES + 50), 30)
    db.session.commit()
    tokens = created.tokens
    q, _ids = questionnaire_for(db.session, latest_published(db.session, sp.link_instrument).id)

    fresh = iter(tokens[:-1])

    def url(target: st.DataObject | None) -> str:
        """Mostly a token not used yet (so examples can store), sometimes a used one or hostile text."""
        if target is None:
            return f"/r/{tokens[-1]}"
        pick = target.draw(st.integers(0, 9))
        if pick == 7:
            return "/r/" + url_part(target.draw(texts))
        return "/r/" + (tokens[0] if pick == 3 else next(fresh, tokens[0]))

    _phone_check("phone form /r/<token>", client, rows, url, q)
