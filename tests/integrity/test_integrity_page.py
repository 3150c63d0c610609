"""Home Affairs' Integrity page: flagged days with evidence; confirm excludes, dismiss leaves figures alone."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import func, select

from survey.audit.models import AuditEvent
from survey.respond.models import Response, ResponseTally
from survey.respond.quarantine import excluded_count
from survey.results.integrity import run_scan
from survey.results.integrity_models import IntegrityFlag
from tests.dashboard.helpers import get, login, page_token
from tests.factories import small_city
from tests.integrity.factories import TODAY, burst, finish, honest_days, workdays_before

URL = "/homeaffairs/integrity/"


@pytest.fixture()
def flagged(app, db_session):
    app.config["HAILONG_CLOCK"] = lambda: datetime(TODAY.year, TODAY.month, TODAY.day, 3, tzinfo=UTC)
    city = small_city(db_session)
    sp = city.service_points["STP-SP1"]
    sipas = city.questionnaires["sipas-2017"]
    rng = np.random.default_rng(5)
    days = workdays_before(TODAY, 30)
    honest_days(db_session, sp, sipas, days, 3, rng)
    stuffed = burst(db_session, sp, sipas, days[-1], 20, rng)
    finish(db_session)
    assert run_scan(db_session, days[-3:]) == 1
    db_session.commit()
    return db_session.scalar(select(IntegrityFlag)), stuffed


def _counted(db_session) -> int:
    return int(db_session.scalar(select(func.sum(ResponseTally.count))) or 0)


def test_home_affairs_sees_the_flag_with_its_evidence(client, db_session, flagged) -> None:
    flag, _stuffed = flagged
    login(client, "noivu")
    html = get(client, "/homeaffairs/integrity/").get_data(as_text=True)
    assert "Tính toàn vẹn" in html and f'id="flag-{flag.id}"' in html
    assert "nhiều phiếu trong vài phút" in html  # the burst signal, in the user's language
    assert f'id="arrivals-{flag.id}"' in html and "<svg" in html and f'id="arrivals-{flag.id}-data"' in html
    assert 'value="confirm"' in html and 'value="dismiss"' in html


@pytest.mark.parametrize("user", ["tuphap", "ninhkieu"])
def test_agency_and_unit_users_cannot_see_the_page(client, flagged, user) -> None:
    login(client, user)
    assert get(client, URL).status_code == 403
    assert "/homeaffairs/integrity" not in get(client, "/dashboard/").get_data(as_text=True)


def test_confirm_excludes_the_suspect_responses_and_is_audited(client, db_session, flagged) -> None:
    flag, stuffed = flagged
    before = _counted(db_session)
    login(client, "noivu")
    token = page_token(client, URL)
    resp = client.post(f"{URL}{flag.id}/decide", data={"csrf_token": token, "action": "confirm",
                                                      "reason": "20 in ten minutes at 10:00"})
    assert resp.status_code == 302
    db_session.expire_all()
    n = len(flag.response_ids)
    assert set(stuffed) <= set(flag.response_ids)
    assert excluded_count(db_session) == n and n >= 20
    assert _counted(db_session) == before - n
    assert db_session.get(IntegrityFlag, flag.id).status == "confirmed"
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "integrity.confirm"))
    assert event is not None and event.after["reason"] == "20 in ten minutes at 10:00"
    # reversible: reopening puts them back out of the figures awaiting a new decision, dismissing counts them
    token = page_token(client, URL + "?status=confirmed")
    client.post(f"{URL}{flag.id}/decide", data={"csrf_token": token, "action": "reopen", "reason": "wrong day"})
    token = page_token(client, URL)
    client.post(f"{URL}{flag.id}/decide", data={"csrf_token": token, "action": "dismiss", "reason": "a tour group"})
    db_session.expire_all()
    assert _counted(db_session) == before and excluded_count(db_session) == 0
    assert db_session.get(IntegrityFlag, flag.id).status == "dismissed"


def test_dismiss_leaves_the_figures_unchanged(client, db_session, flagged) -> None:
    flag, _ = flagged
    before = _counted(db_session)
    login(client, "noivu")
    token = page_token(client, URL)
    client.post(f"{URL}{flag.id}/decide", data={"csrf_token": token, "action": "dismiss", "reason": "school visit"})
    db_session.expire_all()
    assert _counted(db_session) == before
    assert db_session.get(IntegrityFlag, flag.id).status == "dismissed"
    assert db_session.scalar(select(func.count()).select_from(Response).where(Response.review_status.is_not(None))) == 0


@pytest.mark.parametrize("form", [{"action": "confirm", "reason": "  "}, {"action": "delete", "reason": "x"},
                                  {"action": "confirm", "reason": "x" * 301}])
def test_bad_decisions_are_refused_and_change_nothing(client, db_session, flagged, form) -> None:
    flag, _ = flagged
    before = _counted(db_session)
    login(client, "noivu")
    token = page_token(client, URL)
    resp = client.post(f"{URL}{flag.id}/decide", data={"csrf_token": token, **form})
    assert resp.status_code == 400
    db_session.expire_all()
    assert _counted(db_session) == before and db_session.get(IntegrityFlag, flag.id).status == "open"


def test_unknown_flag_is_404(client, flagged) -> None:
    login(client, "noivu")
    token = page_token(client, URL)
    assert client.post(f"{URL}999999/decide", data={"csrf_token": token, "action": "dismiss",
                                                  "reason": "x"}).status_code == 404
    assert client.post(f"{URL}99999999999/decide", data={"csrf_token": token, "action": "dismiss",
                                                       "reason": "x"}).status_code == 404
